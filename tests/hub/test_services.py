"""Services start components in order and stop them in reverse, even when one of them fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from hub.events.bus import LocalBus
from hub.events.kafka_stream import KafkaEventStream
from hub.events.redis_bus import RedisBus
from hub.services import Services
from tests.hub.conftest import make_settings


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def hook(self, what: str, name: str, fail: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            self.calls.append(f"{what} {name}")
            if fail:
                raise RuntimeError(f"{name} broke")

        return run

    def add(self, services: Services, name: str, fail_start: bool = False, fail_stop: bool = False) -> None:
        services.add_component(
            name, start=self.hook("start", name, fail_start), stop=self.hook("stop", name, fail_stop)
        )


async def test_start_in_order_stop_in_reverse(sqlite_url: str) -> None:
    services, rec = Services(make_settings(sqlite_url)), Recorder()
    rec.add(services, "one")
    rec.add(services, "two")
    await services.start()
    assert services.running
    assert services.components[0] == "db"
    assert services.components[-2:] == ("one", "two")
    with pytest.raises(RuntimeError):
        services.add_component("late")
    await services.stop()
    assert rec.calls == ["start one", "start two", "stop two", "stop one"]
    assert not services.running


async def test_failed_start_stops_what_started(sqlite_url: str) -> None:
    services, rec = Services(make_settings(sqlite_url)), Recorder()
    rec.add(services, "one")
    rec.add(services, "two", fail_start=True)
    rec.add(services, "three")
    with pytest.raises(RuntimeError, match="two broke"):
        await services.start()
    assert rec.calls == ["start one", "start two", "stop one"]
    assert not services.running


async def test_a_failing_stop_does_not_keep_others_running(sqlite_url: str) -> None:
    services, rec = Services(make_settings(sqlite_url)), Recorder()
    rec.add(services, "one")
    rec.add(services, "two", fail_stop=True)
    await services.start()
    await services.stop()
    assert rec.calls == ["start one", "start two", "stop two", "stop one"]


async def test_the_scaled_mode_picks_the_redis_bus_the_event_stream_and_leaves_fiscal_to_the_worker(
    sqlite_url: str, redis_url: str
) -> None:
    embedded = Services(make_settings(sqlite_url))
    assert isinstance(embedded.bus, LocalBus) and embedded.relay.stream is None
    assert "fiscal" in embedded.components and embedded.runs_fiscal

    settings = make_settings(sqlite_url, redis_url=redis_url, kafka_url="127.0.0.1:9092")
    hub, worker = Services(settings), Services(settings, role="worker")
    for services in (hub, worker):
        assert isinstance(services.bus, RedisBus)
        assert isinstance(services.relay.stream, KafkaEventStream)
        assert services.components.index("event-stream") < services.components.index("relay")
    assert "fiscal" not in hub.components and not hub.runs_fiscal
    assert "fiscal" in worker.components and worker.runs_fiscal
    # A scaled node's sales do not wake a pipeline here: the worker hears of them from the event stream.
    assert embedded.actor_deps.documents_made == embedded.fiscal.wake
    assert worker.actor_deps.documents_made == worker.fiscal.wake
    assert hub.actor_deps.documents_made != hub.fiscal.wake
    for services in (embedded, hub, worker):
        await services.stop()


async def test_the_hubs_redis_client_lets_a_burst_of_subscribes_wait_for_a_connection(
    sqlite_url: str, redis_url: str
) -> None:
    """500 screens subscribing at once (a node's restart) queue for the pool's connections, none refused."""
    services = Services(make_settings(sqlite_url, redis_url=redis_url))
    bus = services.bus
    assert isinstance(bus, RedisBus)
    await bus.start()
    try:
        tenant = uuid.uuid4()
        results = await asyncio.gather(
            *(bus.subscribe(tenant, "tenant", lambda _event: None) for _ in range(500)),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
    finally:
        await bus.stop()
        assert services.redis is not None
        await services.redis.aclose()
