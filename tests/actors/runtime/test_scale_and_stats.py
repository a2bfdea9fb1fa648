"""Ten thousand live actors, and the plain-data stats the hub renders."""

from __future__ import annotations

import asyncio
import functools
import math

from actors.runtime import HANDLING_TIME_BUCKETS, Actor, ActorSystem, Props
from tests.actors.runtime.support import Echo, Gate, Journal, Probe, wait_until


async def test_ten_thousand_actors_answer_and_the_system_stops_cleanly() -> None:
    Echo.stopped = 0
    system = ActorSystem(name="scale", idle_after=600.0, sweep_interval=0.01)
    await system.start()
    props = Props(Echo)
    refs = [system.spawn(f"echo/{i}", props) for i in range(10_000)]
    assert len(system) == 10_000
    replies = await asyncio.wait_for(
        asyncio.gather(*(ref.ask(i, timeout=10) for i, ref in enumerate(refs))), timeout=20
    )
    assert replies == list(range(10_000))
    stats = system.stats()
    assert stats.live_actors == 10_000
    assert stats.kinds["Echo"].messages_handled == 10_000
    await asyncio.wait_for(system.stop(timeout=10), 20)
    assert len(system) == 0
    assert Echo.stopped == 10_000
    assert not any(task.get_name().startswith("actor ") for task in asyncio.all_tasks())


class Other(Actor):
    async def receive(self, message: object) -> object:
        return message


async def test_stats_reflect_handling_depth_and_restarts(system: ActorSystem, journal: Journal) -> None:
    a = system.spawn("a", Props(functools.partial(Probe, journal)))
    b = system.spawn("b", Props(functools.partial(Probe, journal)))
    other = system.spawn("o", Props(lambda: Other()))  # kind learned from the instance
    for _ in range(3):
        await a.ask("inc", timeout=1)
    await b.ask("inc", timeout=1)
    await a.tell("boom")
    await a.ask("get", timeout=2)
    await other.ask("x", timeout=1)
    gate = asyncio.Event()
    blocked = asyncio.create_task(b.ask(Gate(gate), timeout=5))
    await wait_until(lambda: journal.count("b", "gated") == 1, what="the gate")
    for _ in range(4):
        await b.tell("inc")
    await a.tell("inc")
    await wait_until(lambda: journal.state["a"] == 4, what="a to drain")

    stats = system.stats()
    assert stats.system == "test"
    assert stats.live_actors == len(system) == 3
    assert set(stats.kinds) == {"Probe", "Other"}
    probe = stats.kinds["Probe"]
    assert probe.live_actors == 2
    assert (probe.mailbox_depth_total, probe.mailbox_depth_max) == (4, 4)
    assert probe.messages_handled == 3 + 1 + 1 + 1 + 1  # a: 3 inc, boom, get, inc; b: inc (gate in flight)
    assert probe.handling_seconds_count == probe.messages_handled
    assert probe.handling_seconds_sum > 0
    assert probe.restarts == 1
    assert (probe.escalations, probe.passivations, probe.asks_timed_out) == (0, 0, 0)
    buckets = probe.handling_seconds_buckets
    assert [bound for bound, _ in buckets] == [*HANDLING_TIME_BUCKETS, math.inf]
    counts = [count for _, count in buckets]
    assert counts == sorted(counts)
    assert counts[-1] == probe.messages_handled
    assert stats.kinds["Other"].messages_handled == 1
    assert stats.kinds["Other"].live_actors == 1

    gate.set()
    await blocked
    await b.ask("get", timeout=1)
    after = system.stats().kinds["Probe"]
    assert after.mailbox_depth_total == 0
    assert after.messages_handled == probe.messages_handled + 6  # gate, 4 incs, get

    await system.stop_actor("o")
    kept = system.stats().kinds["Other"]
    assert (kept.live_actors, kept.messages_handled) == (0, 1)  # counters outlive the actor


async def test_handling_time_lands_in_the_right_bucket(system: ActorSystem) -> None:
    class Slow(Actor):
        async def receive(self, message: object) -> object:
            await asyncio.sleep(0.03)
            return None

    await system.spawn("slow", Props(Slow)).ask("go", timeout=2)
    stats = system.stats().kinds["Slow"]
    assert 0.03 <= stats.handling_seconds_sum < 1.0
    below = dict(stats.handling_seconds_buckets)
    assert below[0.025] == 0
    assert below[1.0] == 1
