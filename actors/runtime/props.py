"""How to build, supervise and passivate an actor."""

from __future__ import annotations

import enum
import functools
import random
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Final

from actors.runtime.actor import Actor


@dataclass(frozen=True, slots=True)
class SupervisionPolicy:
    """Restart with exponential backoff; more than ``max_restarts`` within ``within_seconds`` escalates."""

    max_restarts: int = 5
    within_seconds: float = 60.0
    backoff_min: float = 0.05
    backoff_max: float = 5.0
    backoff_factor: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_restarts < 0 or self.within_seconds <= 0:
            raise ValueError("max_restarts must be >= 0 and within_seconds > 0")
        if not 0 <= self.backoff_min <= self.backoff_max or self.backoff_factor < 1:
            raise ValueError("need 0 <= backoff_min <= backoff_max and backoff_factor >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Delay before restart number ``attempt`` (0-based) within the current window.

        Jitter only shortens the delay and never below ``backoff_min``, so the result always lies in
        [backoff_min, backoff_max]: actors that crashed together (a database outage) spread out their
        restarts without ever retrying faster than the policy allows.
        """
        base = min(self.backoff_max, self.backoff_min * self.backoff_factor ** min(attempt, 64))
        return max(self.backoff_min, base * (1.0 - self.jitter * rng()))


DEFAULT_POLICY: Final = SupervisionPolicy()


class _SystemDefault(enum.Enum):
    TOKEN = enum.auto()

    def __repr__(self) -> str:
        return "<system default>"


SYSTEM_DEFAULT: Final = _SystemDefault.TOKEN


@dataclass(frozen=True, slots=True)
class Props:
    """Recipe for an actor: the runtime calls ``factory`` at every (re)start.

    ``kind`` labels the actor in stats. Left out, it is the class name when ``factory`` is a class (or a
    ``functools.partial`` of one), else the class of the first instance the factory builds.
    """

    factory: Callable[[], Actor]
    _: KW_ONLY
    mailbox_size: int = 1000
    supervision: SupervisionPolicy | None = None
    idle_after: float | _SystemDefault | None = SYSTEM_DEFAULT
    kind: str | None = None

    def __post_init__(self) -> None:
        # asyncio.Queue(0) would be unbounded, which defeats backpressure.
        if self.mailbox_size < 1:
            raise ValueError("mailbox_size must be >= 1")
        if isinstance(self.idle_after, float | int) and self.idle_after <= 0:
            raise ValueError("idle_after must be > 0 or None")
        if self.kind is None:
            object.__setattr__(self, "kind", _class_name(self.factory))

    @property
    def policy(self) -> SupervisionPolicy:
        return self.supervision or DEFAULT_POLICY


def _class_name(factory: Callable[[], Actor]) -> str | None:
    target: object = factory
    while isinstance(target, functools.partial):
        target = target.func
    return target.__name__ if isinstance(target, type) else None
