"""The bus contract, run against every implementation: in-process and Redis.

Listeners may be called after ``publish`` returns (Redis delivers through pub/sub), so tests wait for what
they expect with a timeout; "nothing more" is checked behind a later event that a second listener got.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import pytest
from redis.asyncio import Redis

from hub.events.bus import Bus, LocalBus, StreamEvent
from hub.events.redis_bus import RedisBus

BusFactory = Callable[..., Awaitable[Bus]]


class Collector:
    """A listener that keeps what it gets; ``until(n)`` waits for the n-th event."""

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: StreamEvent) -> None:
        self.events.append(event)
        self._changed.set()

    @property
    def seqs(self) -> list[int]:
        return [e.seq for e in self.events]

    async def until(self, count: int, timeout: float = 5.0) -> list[StreamEvent]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events

    async def until_seen(self, check: Callable[[StreamEvent], bool], timeout: float = 5.0) -> StreamEvent:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if check(event):
                        return event
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def new_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Make started buses (``window=5`` unless told); each one independent of the others."""
    made: list[Bus] = []
    client: Redis | None = None
    prefix = ""
    if request.param == "redis":
        client = Redis.from_url(request.getfixturevalue("redis_url"))
        prefix = request.getfixturevalue("redis_prefix")

    async def make(window: int = 5) -> Bus:
        bus: Bus
        if client is None:
            bus = LocalBus(window=window)
        else:
            bus = RedisBus(client, window=window, prefix=f"{prefix}{uuid.uuid4().hex[:8]}:")
        await bus.start()
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop()
    if client is not None:
        await client.aclose()


@pytest.fixture
async def bus(new_bus: BusFactory) -> Bus:
    return await new_bus()


async def test_sequence_numbers_are_per_stream_and_start_at_one(bus: Bus) -> None:
    tenant = uuid.uuid4()
    a1 = await bus.publish(tenant, "register:a", "X", {"n": 1})
    a2 = await bus.publish(tenant, "register:a", "X", {"n": 2})
    b1 = await bus.publish(tenant, "register:b", "X", {"n": 1})
    assert (a1.seq, a2.seq, b1.seq) == (1, 2, 1)
    assert a1.epoch == a2.epoch == b1.epoch


async def test_listeners_get_events_of_their_stream_and_tenant_only(bus: Bus) -> None:
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    got = Collector()
    await bus.subscribe(tenant_a, "tenant", got)
    await bus.publish(tenant_b, "tenant", "Secret", {"of": "b"})
    await bus.publish(tenant_a, "register:x", "Other", {})
    await bus.publish(tenant_a, "tenant", "Mine", {"of": "a"})
    await got.until(1)
    assert [(e.tenant_id, e.event, e.payload) for e in got.events] == [(tenant_a, "Mine", {"of": "a"})]


async def test_resume_replays_exactly_what_was_missed(bus: Bus) -> None:
    tenant = uuid.uuid4()
    first = await bus.subscribe(tenant, "tenant", lambda e: None)
    first.subscription.close()
    for n in range(3):
        await bus.publish(tenant, "tenant", "E", {"n": n}, event_id=f"id-{n}")
    got = Collector()
    result = await bus.subscribe(tenant, "tenant", got, since=1, epoch=first.epoch)
    assert not result.needs_resync
    assert [e.seq for e in result.missed] == [2, 3]
    # Replayed payloads are JSON (msgspec.Raw), as the window keeps them.
    assert [msgspec.json.decode(e.payload) for e in result.missed] == [{"n": 1}, {"n": 2}]
    assert [(e.tenant_id, e.event, e.event_id, e.epoch) for e in result.missed] == [
        (tenant, "E", "id-1", first.epoch),
        (tenant, "E", "id-2", first.epoch),
    ]
    await bus.publish(tenant, "tenant", "E", {"n": 3})
    await got.until(1)
    assert got.seqs == [4]


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
    covered = await bus.subscribe(tenant, "tenant", lambda e: None, since=5, epoch=epoch)
    assert not covered.needs_resync
    assert [e.seq for e in covered.missed] == [6, 7, 8, 9, 10]


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
    got, witness = Collector(), Collector()
    result = await bus.subscribe(tenant, "tenant", got)
    await bus.subscribe(tenant, "tenant", witness)
    await bus.publish(tenant, "tenant", "E", {})
    await got.until(1)
    result.subscription.close()
    result.subscription.close()  # twice is harmless
    await bus.publish(tenant, "tenant", "E", {})
    await witness.until(2)  # the second event has been handed out
    assert got.seqs == [1]


async def test_position_is_the_streams_seq_and_the_epoch(bus: Bus) -> None:
    tenant = uuid.uuid4()
    empty_seq, epoch = await bus.position(tenant, "tenant")
    assert empty_seq == 0
    for n in range(3):
        last = await bus.publish(tenant, "tenant", "E", {"n": n})
    await bus.publish(tenant, "other", "E", {})
    assert await bus.position(tenant, "tenant") == (3, epoch) == (last.seq, last.epoch)
    assert await bus.position(uuid.uuid4(), "tenant") == (0, epoch)
    result = await bus.subscribe(tenant, "tenant", lambda e: None)
    assert (result.seq, result.epoch) == (3, epoch)


async def test_transient_events_go_live_only_and_take_no_number(bus: Bus) -> None:
    tenant = uuid.uuid4()
    got = Collector()
    await bus.subscribe(tenant, "scale", got)
    first = await bus.publish(tenant, "scale", "Weighed", {"g": 1})
    weight = await bus.publish(tenant, "scale", "Weight", {"g": 120}, transient=True)
    second = await bus.publish(tenant, "scale", "Weighed", {"g": 2})
    assert (first.seq, weight.seq, second.seq) == (1, 1, 2)
    assert weight.transient and weight.epoch == first.epoch
    await got.until(3)
    assert [(e.event, e.seq, e.transient, e.payload) for e in got.events] == [
        ("Weighed", 1, False, {"g": 1}),
        ("Weight", 1, True, {"g": 120}),
        ("Weighed", 2, False, {"g": 2}),
    ]
    assert await bus.position(tenant, "scale") == (2, first.epoch)
    resumed = await bus.subscribe(tenant, "scale", lambda e: None, since=0, epoch=first.epoch)
    assert [(e.event, e.seq) for e in resumed.missed] == [("Weighed", 1), ("Weighed", 2)]


async def test_transient_event_on_a_new_stream_carries_seq_zero(bus: Bus) -> None:
    tenant = uuid.uuid4()
    weight = await bus.publish(tenant, "scale", "Weight", {"g": 5}, transient=True)
    assert weight.seq == 0
    assert await bus.position(tenant, "scale") == (0, weight.epoch)


async def test_no_gap_and_no_duplicate_when_publishing_while_subscribing(new_bus: BusFactory) -> None:
    bus = await new_bus(window=500)
    tenant = uuid.uuid4()
    for n in range(5):
        await bus.publish(tenant, "tenant", "E", {"n": n})
    total = 300

    async def publish_more() -> None:
        for n in range(5, total):
            await bus.publish(tenant, "tenant", "E", {"n": n})
            await asyncio.sleep(0)  # let the subscribes in between (LocalBus's publish never yields)

    publisher = asyncio.create_task(publish_more())
    followers: list[tuple[int, Collector, list[StreamEvent]]] = []
    for i in range(20):
        got = Collector()
        if i % 2:
            result = await bus.subscribe(tenant, "tenant", got)
            start = result.seq
        else:
            seq, epoch = await bus.position(tenant, "tenant")
            start = max(0, seq - 3)
            result = await bus.subscribe(tenant, "tenant", got, since=start, epoch=epoch)
            assert not result.needs_resync
        followers.append((start, got, result.missed))
    await publisher
    assert publisher.done()
    for start, got, missed in followers:
        await got.until(total - start - len(missed))
        seqs = [e.seq for e in missed] + got.seqs
        assert seqs == list(range(start + 1, total + 1))
        assert [e.payload for e in got.events] == [{"n": s - 1} for s in got.seqs]
    # The publisher ran alongside at least some of the subscribes, or this test proves nothing.
    assert followers[0][0] < followers[-1][0]


async def _epoch(bus: Bus, tenant: uuid.UUID) -> str:
    result = await bus.subscribe(tenant, "tenant", lambda e: None)
    result.subscription.close()
    return result.epoch
