"""Metrics in the Prometheus text format (0.0.4), without a client library.

A :class:`MetricsRegistry` (one per :class:`hub.services.Services`) renders every sample its collectors
yield. Other parts of the hub add their own gauges with one call::

    services.metrics.register_collector(lambda: [Sample("storehub_actors_live", len(runtime.actors))])

Collectors run on every scrape, so they must be cheap and must not do I/O.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, NamedTuple

log = logging.getLogger("hub.metrics")

MetricType = Literal["counter", "gauge", "histogram", "untyped"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Sample(NamedTuple):
    """One line of the exposition. ``family`` groups ``_bucket``/``_sum``/``_count`` under one TYPE."""

    name: str
    value: float
    labels: Mapping[str, str] = {}
    type: MetricType = "gauge"
    help: str = ""
    family: str = ""


Collector = Callable[[], Iterable[Sample]]


class Counter:
    """A monotonically increasing counter with labels (thread-safe, cheap)."""

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def collect(self) -> Iterable[Sample]:
        with self._lock:
            items = list(self._values.items())
        for labels, value in items:
            yield Sample(
                self.name, value, dict(zip(self.labelnames, labels, strict=True)), "counter", self.help
            )


class Histogram:
    """A cumulative histogram with fixed buckets and labels."""

    def __init__(
        self, name: str, help: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> None:
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self.buckets = tuple(sorted(buckets))
        # per label set: counts per bucket (non-cumulative, +Inf last), sum
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            counts, total = self._series.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[index] += 1
            total[0] += value

    def collect(self) -> Iterable[Sample]:
        with self._lock:
            items = [(labels, list(c), t[0]) for labels, (c, t) in self._series.items()]
        for labels, counts, total in items:
            base = dict(zip(self.labelnames, labels, strict=True))
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                yield Sample(
                    f"{self.name}_bucket", running, base | {"le": _format_value(bound)},
                    "histogram", self.help, self.name,
                )  # fmt: skip
            yield Sample(f"{self.name}_sum", total, base, "histogram", self.help, self.name)
            yield Sample(f"{self.name}_count", running, base, "histogram", self.help, self.name)


class MetricsRegistry:
    def __init__(self) -> None:
        self._collectors: list[Collector] = []

    def register_collector(self, collector: Collector) -> Collector:
        """Add a source of samples; returns it so it can be used as a decorator."""
        self._collectors.append(collector)
        return collector

    def collect(self) -> list[Sample]:
        samples: list[Sample] = []
        for collector in list(self._collectors):
            try:
                samples.extend(collector())
            except Exception:  # one broken collector must not hide every other metric
                log.exception("metrics collector %r failed", collector)
        return samples

    def render(self) -> str:
        return render(self.collect())


def render(samples: Iterable[Sample]) -> str:
    """The text exposition: samples of one family together, HELP and TYPE once per family."""
    families: dict[str, list[Sample]] = {}
    for sample in samples:
        families.setdefault(sample.family or sample.name, []).append(sample)
    lines: list[str] = []
    for family, members in families.items():
        first = members[0]
        if first.help:
            lines.append(f"# HELP {family} {_escape_help(first.help)}")
        lines.append(f"# TYPE {family} {first.type}")
        for sample in members:
            lines.append(f"{sample.name}{_format_labels(sample.labels)} {_format_value(sample.value)}")
    return "\n".join(lines) + "\n" if lines else ""


def _format_labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape_label(str(value))}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class HttpMetrics:
    """What the edge middleware records for every HTTP request."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.requests = Counter(
            "storehub_http_requests_total", "HTTP requests by method, route template and status",
            ("method", "route", "status"),
        )  # fmt: skip
        self.duration = Histogram(
            "storehub_http_request_duration_seconds", "HTTP request duration by method and route template",
            ("method", "route"),
        )  # fmt: skip
        self.login_failures = Counter(
            "storehub_login_failures_total", "Failed sign-ins and device pairings by reason", ("reason",)
        )
        registry.register_collector(self.requests.collect)
        registry.register_collector(self.duration.collect)
        registry.register_collector(self.login_failures.collect)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.inc(method, route, str(status))
        self.duration.observe(seconds, method, route)
