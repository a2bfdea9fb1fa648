"""A progress line for long CLI operations (seeding, imports), on stderr so stdout stays parseable."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self._interactive = self.stream.isatty()
        self._last_pct = -1

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        pct = self.done * 100 // self.total
        if pct == self._last_pct:
            return
        self._last_pct = pct
        if self._interactive:
            filled = self.width * self.done // self.total
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r{self.label:<28} [{bar}] {pct:3d}% ({self.done}/{self.total})")
            self.stream.flush()
        elif pct % 25 == 0:
            self.stream.write(f"{self.label}: {pct}% ({self.done}/{self.total})\n")

    def finish(self) -> None:
        self.done = self.total
        elapsed = time.monotonic() - self.started
        end = "\n" if self._interactive else ""
        self.stream.write(f"{end}{self.label}: done, {self.total} in {elapsed:.1f} s\n")
        self.stream.flush()
