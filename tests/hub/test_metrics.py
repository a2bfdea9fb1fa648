"""The Prometheus text exposition, collectors and the histogram."""

from __future__ import annotations

from hub.metrics import Counter, Histogram, MetricsRegistry, Sample, render


def test_render_groups_families_and_escapes() -> None:
    text = render(
        [
            Sample("a_total", 3, {"path": 'x"y\\z\nw'}, "counter", "Things\nhappened"),
            Sample("b", 1.5),
            Sample("a_total", 4, {"path": "q"}, "counter", "Things\nhappened"),
        ]
    )
    assert text == (
        "# HELP a_total Things\\nhappened\n"
        "# TYPE a_total counter\n"
        'a_total{path="x\\"y\\\\z\\nw"} 3\n'
        'a_total{path="q"} 4\n'
        "# TYPE b gauge\n"
        "b 1.5\n"
    )
    assert render([]) == ""


def test_histogram_is_cumulative() -> None:
    hist = Histogram("lat_seconds", "Latency", ("route",), buckets=(0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        hist.observe(value, "/x")
    lines = render(hist.collect()).splitlines()
    assert lines == [
        "# HELP lat_seconds Latency",
        "# TYPE lat_seconds histogram",
        'lat_seconds_bucket{route="/x",le="0.1"} 2',
        'lat_seconds_bucket{route="/x",le="1"} 3',
        'lat_seconds_bucket{route="/x",le="+Inf"} 4',
        'lat_seconds_sum{route="/x"} 3.65',
        'lat_seconds_count{route="/x"} 4',
    ]


def test_registry_survives_a_broken_collector() -> None:
    registry = MetricsRegistry()
    counter = Counter("hits_total", "Hits", ("kind",))
    counter.inc("a")
    counter.inc("a", amount=2)
    registry.register_collector(counter.collect)

    @registry.register_collector
    def broken() -> list[Sample]:
        raise RuntimeError("boom")

    registry.register_collector(lambda: [Sample("actors_live", 7, help="Actors")])
    text = registry.render()
    assert 'hits_total{kind="a"} 3' in text
    assert "actors_live 7" in text
