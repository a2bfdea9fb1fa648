"""Test actors and helpers: a journal stands in for the database and records what happened, and when."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from actors.runtime import Actor
from schema.errors import ValidationError


async def wait_until(predicate: Callable[[], bool], *, within: float = 3.0, what: str = "condition") -> None:
    """Poll a condition until a deadline; the deadline fails the test instead of hanging it."""
    try:
        async with asyncio.timeout(within):
            # Polling, because the conditions are plain state of the runtime under test, not events.
            while not predicate():
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"timed out after {within}s waiting for {what}") from None


@dataclass(frozen=True)
class Gate:
    """Blocks the handler until the event is set."""

    event: asyncio.Event


@dataclass(frozen=True)
class Refuse:
    """Makes the handler raise a business error."""


@dataclass
class Journal:
    state: dict[str, int] = field(default_factory=dict)  # the "database"
    events: list[tuple[float, str, str]] = field(default_factory=list)
    handled: dict[str, list[object]] = field(default_factory=dict)
    failing_starts: int = 0  # how many on_start calls still crash
    stop_gate: asyncio.Event | None = None  # makes on_stop wait, to widen the passivation window
    inflight: int = 0
    max_inflight: int = 0

    def record(self, address: str, what: str) -> None:
        self.events.append((time.monotonic(), address, what))

    def times(self, address: str, what: str) -> list[float]:
        return [t for t, a, w in self.events if a == address and w == what]

    def count(self, address: str, what: str) -> int:
        return len(self.times(address, what))

    def log(self, address: str) -> list[str]:
        return [w for _, a, w in self.events if a == address]


class Probe(Actor):
    """A counter persisted in the journal, with messages to block, refuse, crash and echo."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.count = 0

    async def on_start(self) -> None:
        self.journal.record(self.address, "start")
        if self.journal.failing_starts > 0:
            self.journal.failing_starts -= 1
            raise OSError("database unreachable")
        self.count = self.journal.state.get(self.address, 0)

    async def receive(self, message: object) -> object:
        self.journal.handled.setdefault(self.address, []).append(message)
        match message:
            case "inc":
                self.count += 1
                self.journal.state[self.address] = self.count
                return self.count
            case "get":
                return self.count
            case "whoami":
                return id(self)
            case "boom":
                self.journal.record(self.address, "crash")
                raise RuntimeError(f"boom in {self.address}")
            case Refuse():
                raise ValidationError("refused", reason="test")
            case Gate(event):
                self.journal.record(self.address, "gated")
                await event.wait()
                return "opened"
            case ("echo", value):
                return value
            case ("slow", _):
                self.journal.inflight += 1
                self.journal.max_inflight = max(self.journal.max_inflight, self.journal.inflight)
                for _ in range(3):
                    await asyncio.sleep(0)
                self.journal.inflight -= 1
                return None
        raise TypeError(f"unexpected message {message!r}")

    async def on_stop(self) -> None:
        self.journal.record(self.address, "stopping")
        if self.journal.stop_gate is not None:
            await self.journal.stop_gate.wait()
        self.journal.record(self.address, "stop")


class Echo(Actor):
    """As light as an actor gets, for the scale test."""

    stopped = 0

    async def receive(self, message: object) -> object:
        return message

    async def on_stop(self) -> None:
        type(self).stopped += 1
