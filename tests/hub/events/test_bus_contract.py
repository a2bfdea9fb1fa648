"""The bus contract, run against every implementation (in-process now; Redis joins in the scale-out work)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from hub.events.bus import Bus, LocalBus, StreamEvent

IMPLEMENTATIONS: dict[str, Callable[[], Bus]] = {"local": lambda: LocalBus(window=5)}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    instance = IMPLEMENTATIONS[request.param]()
    await instance.start()
    yield instance
    await instance.stop()


async def test_sequence_numbers_are_per_stream_and_start_at_one(bus: Bus) -> None:
    tenant = uuid.uuid4()
    a1 = await bus.publish(tenant, "register:a", "X", {"n": 1})
    a2 = await bus.publish(tenant, "register:a", "X", {"n": 2})
    b1 = await bus.publish(tenant, "register:b", "X", {"n": 1})
    assert (a1.seq, a2.seq, b1.seq) == (1, 2, 1)
    assert a1.epoch == a2.epoch == b1.epoch


async def test_listeners_get_events_of_their_stream_and_tenant_only(bus: Bus) -> None:
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    got: list[StreamEvent] = []
    await bus.subscribe(tenant_a, "tenant", got.append)
    await bus.publish(tenant_b, "tenant", "Secret", {"of": "b"})
    await bus.publish(tenant_a, "register:x", "Other", {})
    await bus.publish(tenant_a, "tenant", "Mine", {"of": "a"})
    assert [(e.tenant_id, e.event, e.payload) for e in got] == [(tenant_a, "Mine", {"of": "a"})]


async def test_resume_replays_exactly_what_was_missed(bus: Bus) -> None:
    tenant = uuid.uuid4()
    first = await bus.subscribe(tenant, "tenant", lambda e: None)
    first.subscription.close()
    for n in range(3):
        await bus.publish(tenant, "tenant", "E", {"n": n})
    got: list[StreamEvent] = []
    result = await bus.subscribe(tenant, "tenant", got.append, since=1, epoch=first.epoch)
    assert not result.needs_resync
    assert [e.seq for e in result.missed] == [2, 3]
    await bus.publish(tenant, "tenant", "E", {"n": 3})
    assert [e.seq for e in got] == [4]


async def test_resume_at_head_replays_nothing(bus: Bus) -> None:
    tenant = uuid.uuid4()
    await bus.publish(tenant, "tenant", "E", {})
    result = await bus.subscribe(tenant, "tenant", lambda e: None, since=1, epoch=(await _epoch(bus, tenant)))
    assert (result.missed, result.needs_resync, result.seq) == ([], False, 1)


async def test_resume_beyond_the_window_asks_for_resync(bus: Bus) -> None:
    tenant = uuid.uuid4()
    epoch = await _epoch(bus, tenant)
    for n in range(10):  # window is 5
        await bus.publish(tenant, "tenant", "E", {"n": n})
    result = await bus.subscribe(tenant, "tenant", lambda e: None, since=1, epoch=epoch)
    assert result.needs_resync and result.missed == []
    assert result.seq == 10


@pytest.mark.parametrize("since", [0, 99])
async def test_resume_from_another_epoch_or_the_future_asks_for_resync(bus: Bus, since: int) -> None:
    tenant = uuid.uuid4()
    await bus.publish(tenant, "tenant", "E", {})
    result = await bus.subscribe(tenant, "tenant", lambda e: None, since=since, epoch="not-this-epoch")
    assert result.needs_resync
    future = await bus.subscribe(tenant, "tenant", lambda e: None, since=99, epoch=result.epoch)
    assert future.needs_resync


async def test_closed_subscription_gets_nothing_more(bus: Bus) -> None:
    tenant = uuid.uuid4()
    got: list[StreamEvent] = []
    result = await bus.subscribe(tenant, "tenant", got.append)
    await bus.publish(tenant, "tenant", "E", {})
    result.subscription.close()
    await bus.publish(tenant, "tenant", "E", {})
    assert [e.seq for e in got] == [1]


async def _epoch(bus: Bus, tenant: uuid.UUID) -> str:
    result = await bus.subscribe(tenant, "tenant", lambda e: None)
    result.subscription.close()
    return result.epoch
