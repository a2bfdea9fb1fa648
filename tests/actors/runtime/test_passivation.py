"""Idle actors passivate; the next message brings them back with their state and nothing is lost."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

import pytest

from actors.runtime import ActorSystem, Props
from tests.actors.runtime.support import Gate, Journal, Probe, wait_until


@pytest.fixture
async def idle_system() -> AsyncIterator[ActorSystem]:
    system = ActorSystem(name="idle", idle_after=0.05, sweep_interval=0.005)
    await system.start()
    yield system
    await system.stop(timeout=5.0)


def probe(journal: Journal, **kwargs: object) -> Props:
    return Props(functools.partial(Probe, journal), **kwargs)  # type: ignore[arg-type]


async def test_idle_actor_passivates_and_comes_back_with_its_state(
    idle_system: ActorSystem, journal: Journal
) -> None:
    ref = idle_system.spawn("p", probe(journal))
    await ref.ask("inc", timeout=1)
    await ref.ask("inc", timeout=1)
    await wait_until(lambda: journal.count("p", "stop") == 1, what="passivation")
    assert idle_system.lookup("p") is None
    assert len(idle_system) == 0
    assert ref.alive  # passivated, not dead
    assert await ref.ask("inc", timeout=1) == 3
    assert journal.log("p") == ["start", "stopping", "stop", "start"]
    assert len(idle_system) == 1
    await wait_until(lambda: journal.count("p", "stop") == 2, what="second passivation")
    again = idle_system.ref("p", probe(journal))  # via the registry rather than the old ref
    assert await again.ask("get", timeout=1) == 3
    assert journal.count("p", "start") == 3
    assert idle_system.stats().kinds["Probe"].passivations == 2


async def test_message_sent_while_passivating_reaches_the_next_incarnation(
    idle_system: ActorSystem, journal: Journal
) -> None:
    ref = idle_system.spawn("p", probe(journal))
    await ref.ask("inc", timeout=1)
    journal.stop_gate = asyncio.Event()  # hold the old incarnation inside on_stop
    await wait_until(lambda: journal.count("p", "stopping") == 1, what="passivation to begin")
    await ref.tell("inc")
    ref.tell_nowait("inc")
    total = asyncio.create_task(ref.ask("get", timeout=5))
    for _ in range(20):
        await asyncio.sleep(0)
    # The successor must not load state while its predecessor may still be saving it.
    assert journal.count("p", "start") == 1
    assert not total.done()
    journal.stop_gate.set()
    assert await total == 3
    assert journal.log("p")[:4] == ["start", "stopping", "stop", "start"]


async def test_no_message_is_lost_across_many_passivations(journal: Journal) -> None:
    async with ActorSystem(idle_after=0.002, sweep_interval=0.001) as system:
        ref = system.spawn("p", probe(journal))
        sent = 0
        while system.stats().kinds["Probe"].passivations < 10:
            for _ in range(5):
                await ref.tell("inc")
                sent += 1
            await asyncio.sleep(0.002 * (sent % 3))  # let it go idle now and then, racing the sweeper
            assert sent < 10_000, "the actor never passivated"
        assert await ref.ask("get", timeout=2) == sent
        assert journal.state["p"] == sent


async def test_busy_actor_does_not_passivate(idle_system: ActorSystem, journal: Journal) -> None:
    busy = idle_system.spawn("busy", probe(journal))
    gate = asyncio.Event()
    blocked = asyncio.create_task(busy.ask(Gate(gate), timeout=5))
    await wait_until(lambda: journal.count("busy", "gated") == 1, what="the gate")
    idle_system.spawn("idle", probe(journal))  # younger than busy, so it becomes idle later
    await wait_until(lambda: idle_system.lookup("idle") is None, what="the idle actor to passivate")
    assert idle_system.lookup("busy") is not None
    assert journal.count("busy", "stopping") == 0
    gate.set()
    assert await blocked == "opened"
    assert journal.count("busy", "start") == 1


async def test_idle_after_none_disables_passivation(idle_system: ActorSystem, journal: Journal) -> None:
    keeper = idle_system.spawn("keeper", probe(journal, idle_after=None))
    idle_system.spawn("sleeper", probe(journal))  # spawned later: passivates later than keeper would
    await wait_until(lambda: journal.count("sleeper", "stop") == 1, what="the other actor to passivate")
    assert idle_system.lookup("keeper") is not None
    assert journal.count("keeper", "stop") == 0
    assert await keeper.ask("inc", timeout=1) == 1


async def test_props_idle_after_overrides_a_system_without_passivation(
    system: ActorSystem, journal: Journal
) -> None:
    ref = system.spawn("p", probe(journal, idle_after=0.02))
    await wait_until(lambda: journal.count("p", "stop") == 1, what="passivation")
    assert await ref.ask("get", timeout=1) == 0
