"""How long to wait before the next attempt at something remote (SII, SRI): exponential, jittered, capped.

:class:`Backoff` is pure: the delay depends only on the attempt number (which the caller persists with the
document), an optional ``Retry-After`` and the random source. The ceiling for attempt ``n`` (0-based) is
``min(cap, base * factor**n)``; the delay is drawn uniformly from ``[ceiling * (1 - jitter), ceiling]``.

Why this jitter and not "decorrelated" jitter: decorrelated jitter draws each delay from the *previous
delay* (``uniform(base, previous * 3)``), so the caller would have to persist that delay as well as the
attempt count, and a restart that loses it changes the schedule. Here the attempt count is enough. The
``jitter`` fraction chooses where on the spectrum we sit: ``1.0`` is AWS's "full jitter" (best spreading,
but it can draw an almost-zero delay, i.e. hammer an authority that just came back), ``0.5`` (default) is
"equal jitter": at least half the exponential delay, the other half spread, so a thousand stores whose
submissions failed in the same SII outage do not all come back in the same second, and none comes back
immediately. ``0.0`` is plain exponential backoff (tests).

A ``Retry-After`` from the server is a floor: the delay is never below it, even above ``cap`` (asking
sooner than told only earns another 429). ``cap`` bounds our own exponential schedule.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol


class RandomSource(Protocol):
    """What :meth:`Backoff.delay` needs from a random source: the :mod:`random` module qualifies, as does a
    seeded ``random.Random``."""

    def uniform(self, a: float, b: float, /) -> float: ...


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0  # seconds: the ceiling of the first retry
    factor: float = 2.0
    cap: float = 300.0  # seconds: no exponential delay above this
    jitter: float = 0.5  # fraction of the ceiling that is random, 0..1

    def __post_init__(self) -> None:
        if not (self.base > 0 and math.isfinite(self.base)):
            raise ValueError(f"base must be a positive number of seconds, got {self.base}")
        if not (self.factor >= 1 and math.isfinite(self.factor)):
            raise ValueError(f"factor must be at least 1, got {self.factor}")
        if not (self.cap >= self.base and math.isfinite(self.cap)):
            raise ValueError(f"cap must be at least base ({self.base}), got {self.cap}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def ceiling(self, attempt: int) -> float:
        """The largest delay before retry number ``attempt`` (0 = the first retry), without Retry-After."""
        if attempt < 0:
            raise ValueError(f"attempt must be 0 or more, got {attempt}")
        if self.factor == 1:
            return self.base
        # Compare exponents instead of computing factor**attempt, which overflows a float past ~1000.
        if attempt >= math.log(self.cap / self.base, self.factor):
            return self.cap
        return min(self.cap, self.base * self.factor**attempt)

    def delay(self, attempt: int, retry_after: float | None = None, rng: RandomSource = random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based). ``retry_after`` (seconds, already
        parsed from the header) is a floor; negative or non-finite values are ignored."""
        ceiling = self.ceiling(attempt)
        low = ceiling * (1 - self.jitter)
        wait = ceiling if low >= ceiling else min(ceiling, max(low, rng.uniform(low, ceiling)))
        if retry_after is not None and math.isfinite(retry_after) and retry_after > wait:
            return retry_after
        return wait


__all__ = ["Backoff", "RandomSource"]
