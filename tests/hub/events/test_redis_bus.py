"""RedisBus beyond the contract: hub nodes sharing one Redis, trimming, epochs, unsubscribing, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis

from hub.events.bus import StreamEvent
from hub.events.redis_bus import BusUnavailableError, RedisBus
from tests.hub.events.test_bus_contract import Collector
from tests.support.procs import free_port

NodeFactory = Callable[..., Awaitable[RedisBus]]


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return f"{redis_prefix}{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def node(redis: Redis, prefix: str) -> AsyncIterator[NodeFactory]:
    """Start a hub node's bus: every node of a test shares the Redis and the prefix."""
    made: list[RedisBus] = []

    async def make(window: int = 1000) -> RedisBus:
        bus = RedisBus(redis, window=window, prefix=prefix)
        await bus.start()
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop()


async def _numsub(redis: Redis, channel: str) -> int:
    [(_, count)] = await redis.pubsub_numsub(channel)
    return int(count)


async def _flush(redis: Redis, prefix: str) -> None:
    """What a Redis restart without persistence does to the bus: every key of ours is gone."""
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    assert keys
    await redis.delete(*keys)


class _Pacer:
    """Publishes one event every few milliseconds until stopped (traffic while something else happens)."""

    def __init__(self, bus: RedisBus, tenant: uuid.UUID, stream: str) -> None:
        self.sent: list[StreamEvent] = []
        self._task = asyncio.create_task(self._run(bus, tenant, stream))

    async def _run(self, bus: RedisBus, tenant: uuid.UUID, stream: str) -> None:
        while True:
            self.sent.append(await bus.publish(tenant, stream, "E", {"n": len(self.sent)}))
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def test_an_event_published_on_one_node_reaches_listeners_on_another_once_in_order(
    node: NodeFactory,
) -> None:
    a, b = await node(), await node()
    tenant = uuid.uuid4()
    on_b, also_on_b, on_a = Collector(), Collector(), Collector()
    await b.subscribe(tenant, "tenant", on_b)
    await b.subscribe(tenant, "tenant", also_on_b)
    await a.subscribe(tenant, "tenant", on_a)  # the publishing node's own listeners: through the echo
    for n in range(200):
        await a.publish(tenant, "tenant", "E", {"n": n, "id": str(uuid.uuid4())})
    for got in (on_b, also_on_b, on_a):
        await got.until(200)
    barrier = Collector()
    await b.subscribe(tenant, "tenant", barrier)
    await a.publish(tenant, "tenant", "Last", None)
    await barrier.until(1)  # nothing more than the 200 and this one came, to anyone
    for got in (on_b, also_on_b, on_a):
        assert got.seqs == list(range(1, 202))
        assert [e.payload["n"] for e in got.events[:200]] == list(range(200))
        assert all(e.tenant_id == tenant and e.stream == "tenant" for e in got.events)
    assert (a.published, b.published) == (201, 0)


async def test_events_of_several_nodes_on_one_stream_arrive_in_sequence_order(node: NodeFactory) -> None:
    a, b, c = await node(), await node(), await node()
    tenant = uuid.uuid4()
    got = Collector()
    await c.subscribe(tenant, "tenant", got)

    async def burst(bus: RedisBus) -> None:
        for n in range(100):
            await bus.publish(tenant, "tenant", "E", {"n": n})

    await asyncio.gather(burst(a), burst(b), burst(c))
    await got.until(300)
    assert got.seqs == list(range(1, 301))


async def test_subscribing_on_one_node_resumes_with_events_published_on_another(node: NodeFactory) -> None:
    a, b = await node(), await node()
    tenant = uuid.uuid4()
    published = [await a.publish(tenant, "tenant", "E", {"n": n}) for n in range(3)]
    got = Collector()
    result = await b.subscribe(tenant, "tenant", got, since=1, epoch=published[0].epoch)
    assert (result.needs_resync, result.seq, result.epoch) == (False, 3, published[0].epoch)
    assert [(e.seq, msgspec.json.decode(e.payload)) for e in result.missed] == [(2, {"n": 1}), (3, {"n": 2})]
    assert all(isinstance(e.payload, msgspec.Raw) for e in result.missed)
    await a.publish(tenant, "tenant", "E", {"n": 3})
    await got.until(1)
    assert [(e.seq, e.payload) for e in got.events] == [(4, {"n": 3})]


async def test_the_window_is_trimmed_to_its_size_and_a_resume_before_it_needs_resync(
    node: NodeFactory, redis: Redis, prefix: str
) -> None:
    a, b = await node(window=5), await node(window=5)
    tenant = uuid.uuid4()
    for n in range(12):
        last = await a.publish(tenant, "tenant", "E", {"n": n})
    assert await redis.xlen(f"{prefix}bus:{tenant}:tenant:log") == 5
    too_old = await b.subscribe(tenant, "tenant", lambda e: None, since=6, epoch=last.epoch)
    assert (too_old.needs_resync, too_old.missed, too_old.seq) == (True, [], 12)
    covered = await b.subscribe(tenant, "tenant", lambda e: None, since=7, epoch=last.epoch)
    assert [e.seq for e in covered.missed] == [8, 9, 10, 11, 12]


async def test_an_emptied_redis_means_a_new_epoch_and_a_resync(
    node: NodeFactory, redis: Redis, prefix: str
) -> None:
    a, b = await node(), await node()
    tenant = uuid.uuid4()
    live = Collector()
    await b.subscribe(tenant, "tenant", live)
    for n in range(3):
        before = await a.publish(tenant, "tenant", "E", {"n": n})
    await live.until(3)
    await _flush(redis, prefix)
    seq, epoch = await b.position(tenant, "tenant")
    assert seq == 0 and epoch != before.epoch
    result = await b.subscribe(tenant, "tenant", lambda e: None, since=3, epoch=before.epoch)
    assert (result.needs_resync, result.seq, result.epoch) == (True, 0, epoch)
    after = await a.publish(tenant, "tenant", "E", {"n": 0})
    assert (after.seq, after.epoch) == (1, epoch)
    # A listener that was live throughout gets the new numbering too (seq 1 < 3, but another epoch).
    await live.until(4)
    assert [(e.seq, e.epoch) for e in live.events[3:]] == [(1, epoch)]


async def test_the_channel_is_unsubscribed_when_its_last_listener_closes(
    node: NodeFactory, redis: Redis, prefix: str
) -> None:
    bus = await node()
    tenant = uuid.uuid4()
    channel = f"{prefix}bus:{tenant}:tenant"
    assert (await bus.position(tenant, "tenant"))[0] == 0
    assert await _numsub(redis, channel) == 0  # position() does not subscribe
    first = await bus.subscribe(tenant, "tenant", lambda e: None)
    second = await bus.subscribe(tenant, "tenant", lambda e: None)
    assert await _numsub(redis, channel) == 1  # one subscription per node, however many listeners
    first.subscription.close()
    await _barrier(bus, tenant)
    assert await _numsub(redis, channel) == 1
    second.subscription.close()
    await _barrier(bus, tenant)
    assert await _numsub(redis, channel) == 0
    got = Collector()  # and subscribing again works
    await bus.subscribe(tenant, "tenant", got)
    assert await _numsub(redis, channel) == 1
    await bus.publish(tenant, "tenant", "E", {})
    await got.until(1)


async def _barrier(bus: RedisBus, tenant: uuid.UUID) -> None:
    """Subscribe to another channel and back: the pub/sub connection's commands go out in order, so once
    this is confirmed an UNSUBSCRIBE sent before it has been done."""
    result = await bus.subscribe(tenant, f"barrier:{uuid.uuid4()}", lambda e: None)
    result.subscription.close()


async def test_a_failing_listener_does_not_stop_the_others(
    node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = await node(), await node()
    tenant = uuid.uuid4()
    calls: list[int] = []

    def broken(event: StreamEvent) -> None:
        calls.append(event.seq)
        raise RuntimeError("listener bug")

    before, after = Collector(), Collector()
    await b.subscribe(tenant, "tenant", before)
    await b.subscribe(tenant, "tenant", broken)
    await b.subscribe(tenant, "tenant", after)
    with caplog.at_level(logging.ERROR, logger="hub.events.redis_bus"):
        for n in range(3):
            await a.publish(tenant, "tenant", "E", {"n": n})
        await after.until(3)
    assert before.seqs == after.seqs == calls == [1, 2, 3]
    assert sum("listener failed" in r.message for r in caplog.records) == 3


async def test_after_a_dropped_connection_listeners_get_what_they_missed(
    redis: Redis, node: NodeFactory
) -> None:
    a, b = await node(), await node()
    tenant = uuid.uuid4()
    got = Collector()
    await b.subscribe(tenant, "tenant", got)
    await a.publish(tenant, "tenant", "E", {"n": -1})
    await got.until(1)
    dropped = b.connection_id
    assert dropped is not None
    assert await redis.client_kill_filter(_id=dropped) == 1
    for n in range(20):  # published while b reconnects: lost to its pub/sub, still in the window
        await a.publish(tenant, "tenant", "E", {"n": n})
    pacer = _Pacer(a, tenant, "tenant")
    try:
        await got.until(40)
    finally:
        await pacer.stop()
    assert b.connection_id != dropped
    assert got.seqs[:40] == list(range(1, 41))
    assert len(set(got.seqs)) == len(got.seqs)
    assert all(not isinstance(e.payload, msgspec.Raw) for e in got.events)  # live shape, replayed or not


async def test_after_redis_came_back_empty_listeners_see_the_new_epoch_and_nothing_stale(
    redis: Redis, node: NodeFactory, prefix: str
) -> None:
    a, b = await node(), await node()
    tenant = uuid.uuid4()
    got = Collector()
    await b.subscribe(tenant, "tenant", got)
    for n in range(5):
        old = await a.publish(tenant, "tenant", "E", {"n": n})
    await got.until(5)
    assert b.connection_id is not None
    await redis.client_kill_filter(_id=b.connection_id)
    await _flush(redis, prefix)
    pacer = _Pacer(a, tenant, "tenant")
    try:
        first_new = await got.until_seen(lambda e: e.epoch != old.epoch)
        count = len(got.events)
        await got.until(count + 5)
    finally:
        await pacer.stop()
    assert got.seqs[:5] == [1, 2, 3, 4, 5]
    assert all(e.epoch == old.epoch for e in got.events[:5])
    new = got.events[5:]
    assert new[0] is first_new and all(e.epoch == first_new.epoch for e in new)
    assert [e.seq for e in new] == list(range(new[0].seq, new[0].seq + len(new)))  # no gap, no duplicate


async def test_stop_is_idempotent_and_a_stopped_bus_refuses_subscribers(redis: Redis, prefix: str) -> None:
    bus = RedisBus(redis, prefix=prefix)
    await bus.start()
    tenant = uuid.uuid4()
    await bus.subscribe(tenant, "tenant", lambda e: None)
    await bus.stop()
    await bus.stop()
    with pytest.raises(BusUnavailableError):
        await bus.subscribe(tenant, "tenant", lambda e: None)
    assert await redis.ping()  # the caller's client is still open


async def test_a_node_starts_before_its_redis_and_connects_when_it_comes(tmp_path: Path) -> None:
    """A hub node starts even while Redis is away (``/readyz`` says so); publishing is refused until Redis
    answers, then events flow without a restart."""
    port = free_port()
    client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    bus = RedisBus(client, prefix=f"late-{uuid.uuid4().hex[:6]}:")
    await bus.start()
    server: subprocess.Popen[bytes] | None = None
    try:
        with pytest.raises(BusUnavailableError):
            await bus.publish(uuid.uuid4(), "tenant", "E", {})
        server = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant; nothing waits on it here
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        tenant, got = uuid.uuid4(), Collector()
        async with asyncio.timeout(20):
            while True:
                try:
                    await bus.subscribe(tenant, "tenant", got)
                    break
                except BusUnavailableError:
                    await asyncio.sleep(0.1)
            await bus.publish(tenant, "tenant", "E", {"n": 1})
            [event] = await got.until(1)
        assert (event.seq, event.payload) == (1, {"n": 1})
    finally:
        await bus.stop()
        await client.aclose()
        if server is not None:
            server.terminate()
            server.wait(10)
