"""Runtime metrics as plain data; the hub renders them (Prometheus or otherwise)."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

# Upper bounds in seconds; one more bucket catches everything above the last bound.
HANDLING_TIME_BUCKETS: Final[tuple[float, ...]] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class KindMetrics:
    """Cumulative counters shared by every actor of one kind, so they survive restarts and passivation."""

    __slots__ = (
        "asks_timed_out",
        "bucket_counts",
        "escalations",
        "handled",
        "handling_seconds",
        "passivations",
        "restarts",
    )

    def __init__(self) -> None:
        self.handled = 0
        self.handling_seconds = 0.0
        self.bucket_counts = [0] * (len(HANDLING_TIME_BUCKETS) + 1)
        self.restarts = 0
        self.escalations = 0
        self.passivations = 0
        self.asks_timed_out = 0

    def observe(self, seconds: float) -> None:
        self.handled += 1
        self.handling_seconds += seconds
        # bisect_left: a value equal to a bound belongs to that bucket ("le" semantics).
        self.bucket_counts[bisect_left(HANDLING_TIME_BUCKETS, seconds)] += 1


@dataclass(frozen=True, slots=True)
class KindStats:
    """One actor kind (class name). Counters are cumulative since the system started."""

    kind: str
    live_actors: int = 0
    mailbox_depth_total: int = 0
    mailbox_depth_max: int = 0
    messages_handled: int = 0
    handling_seconds_sum: float = 0.0
    handling_seconds_count: int = 0
    # (upper bound, cumulative count) pairs ending with (inf, count), as a Prometheus histogram wants them.
    handling_seconds_buckets: tuple[tuple[float, int], ...] = ()
    restarts: int = 0
    escalations: int = 0
    passivations: int = 0
    asks_timed_out: int = 0


@dataclass(frozen=True, slots=True)
class RuntimeStats:
    system: str
    live_actors: int
    kinds: dict[str, KindStats] = field(default_factory=dict)


def kind_stats(kind: str, metrics: KindMetrics, live: int, depth_total: int, depth_max: int) -> KindStats:
    cumulative: list[tuple[float, int]] = []
    running = 0
    for bound, count in zip((*HANDLING_TIME_BUCKETS, float("inf")), metrics.bucket_counts, strict=True):
        running += count
        cumulative.append((bound, running))
    return KindStats(
        kind=kind,
        live_actors=live,
        mailbox_depth_total=depth_total,
        mailbox_depth_max=depth_max,
        messages_handled=metrics.handled,
        handling_seconds_sum=metrics.handling_seconds,
        handling_seconds_count=metrics.handled,
        handling_seconds_buckets=tuple(cumulative),
        restarts=metrics.restarts,
        escalations=metrics.escalations,
        passivations=metrics.passivations,
        asks_timed_out=metrics.asks_timed_out,
    )
