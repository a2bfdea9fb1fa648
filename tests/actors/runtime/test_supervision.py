"""Crashes, restarts with backoff, escalation, and asks that must never hang."""

from __future__ import annotations

import asyncio
import functools
import logging

import pytest

from actors.runtime import Actor, ActorDeadError, ActorSystem, Props, SupervisionPolicy
from tests.actors.runtime.support import Gate, Journal, Probe, wait_until

FAST = SupervisionPolicy(max_restarts=2, within_seconds=60.0, backoff_min=0.001, backoff_max=0.001)


def probe(journal: Journal, policy: SupervisionPolicy | None = None) -> Props:
    return Props(functools.partial(Probe, journal), supervision=policy)


async def gated(ref_journal: Journal, address: str) -> None:
    await wait_until(lambda: ref_journal.count(address, "gated") >= 1, what=f"{address} to hold the gate")


async def test_crash_restarts_with_state_reloaded_and_queued_messages_kept(
    system: ActorSystem, journal: Journal
) -> None:
    ref = system.spawn("p", probe(journal))
    for _ in range(3):
        await ref.ask("inc", timeout=1)
    first = await ref.ask("whoami", timeout=1)
    gate = asyncio.Event()
    blocked = asyncio.create_task(ref.ask(Gate(gate), timeout=5))
    await gated(journal, "p")
    boom = asyncio.create_task(ref.ask("boom", timeout=5))
    await wait_until(lambda: system.stats().kinds["Probe"].mailbox_depth_total == 1, what="boom queued")
    await ref.tell("inc")
    await ref.tell("inc")
    total = asyncio.create_task(ref.ask("get", timeout=5))
    await wait_until(lambda: system.stats().kinds["Probe"].mailbox_depth_total == 4, what="4 queued")
    journal.state["p"] = 10  # the database moved on while the old instance held stale state
    gate.set()
    assert await blocked == "opened"
    with pytest.raises(ActorDeadError) as info:
        await boom
    assert isinstance(info.value.__cause__, RuntimeError)
    assert await total == 12  # reloaded 10, then the two queued incs
    assert await ref.ask("whoami", timeout=1) != first
    assert journal.log("p").count("start") == 2
    assert "stop" not in journal.log("p")  # no on_stop after a crash
    stats = system.stats().kinds["Probe"]
    assert (stats.restarts, stats.escalations, stats.live_actors) == (1, 0, 1)


async def test_crash_from_a_tell_is_logged(
    system: ActorSystem, journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    ref = system.spawn("p", probe(journal))
    with caplog.at_level(logging.ERROR, logger="actors"):
        await ref.tell("boom")
        assert await ref.ask("inc", timeout=2) == 1
    crashes = [r for r in caplog.records if r.name == "actors" and "crashed handling" in r.getMessage()]
    assert len(crashes) == 1
    assert crashes[0].exc_info is not None
    assert isinstance(crashes[0].exc_info[1], RuntimeError)


async def test_restart_waits_for_backoff_that_grows(system: ActorSystem, journal: Journal) -> None:
    policy = SupervisionPolicy(max_restarts=5, backoff_min=0.05, backoff_factor=2.0, jitter=0.2)
    ref = system.spawn("p", probe(journal, policy))
    await ref.tell("boom")
    await ref.tell("boom")
    assert await ref.ask("get", timeout=5) == 0
    crashes, starts = journal.times("p", "crash"), journal.times("p", "start")
    assert (len(crashes), len(starts)) == (2, 3)
    assert starts[1] - crashes[0] >= 0.05
    assert starts[2] - crashes[1] >= 0.05 * 2.0 * (1 - 0.2)


def test_backoff_stays_within_policy_bounds() -> None:
    policy = SupervisionPolicy(backoff_min=0.1, backoff_max=1.0, backoff_factor=2.0, jitter=0.5)
    assert [policy.backoff(n, rng=lambda: 0.0) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert policy.backoff(0, rng=lambda: 0.999) == 0.1  # jitter never goes below backoff_min
    assert policy.backoff(3, rng=lambda: 1.0) == pytest.approx(0.4)
    assert policy.backoff(1000, rng=lambda: 0.5) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="backoff"):
        SupervisionPolicy(backoff_min=2.0, backoff_max=1.0)


async def test_repeated_crashes_escalate(journal: Journal) -> None:
    escalated: list[tuple[str, BaseException]] = []
    system = ActorSystem(idle_after=None, on_escalate=lambda a, e: escalated.append((a, e)))
    async with system:
        ref = system.spawn("p", probe(journal, FAST))
        gate = asyncio.Event()
        blocked = asyncio.create_task(ref.ask(Gate(gate), timeout=5))
        await gated(journal, "p")
        booms = [asyncio.create_task(ref.ask("boom", timeout=5)) for _ in range(3)]
        queued = [asyncio.create_task(ref.ask("get", timeout=5)) for _ in range(2)]
        await wait_until(lambda: system.stats().kinds["Probe"].mailbox_depth_total == 5, what="5 queued")
        gate.set()
        assert await blocked == "opened"
        results = await asyncio.wait_for(asyncio.gather(*booms, *queued, return_exceptions=True), 2)
        assert all(isinstance(r, ActorDeadError) for r in results)
        assert all(isinstance(r.__cause__, RuntimeError) for r in results[:3])
        assert "escalated" in str(results[3])
        assert [a for a, _ in escalated] == ["p"]
        assert isinstance(escalated[0][1], RuntimeError)
        assert journal.count("p", "start") == 3  # first start + max_restarts
        assert not ref.alive
        assert system.lookup("p") is None
        with pytest.raises(ActorDeadError):
            await ref.tell("inc")
        with pytest.raises(ActorDeadError):
            await ref.ask("get", timeout=1)
        stats = system.stats().kinds["Probe"]
        assert (stats.restarts, stats.escalations, stats.live_actors) == (2, 1, 0)
        # What to do after an escalation is the caller's decision; a fresh actor can be asked for.
        assert await system.ref("p", probe(journal, FAST)).ask("get", timeout=1) == 0


async def test_crashes_outside_the_window_do_not_escalate(system: ActorSystem, journal: Journal) -> None:
    policy = SupervisionPolicy(max_restarts=1, within_seconds=0.02, backoff_min=0.03, backoff_max=0.03)
    ref = system.spawn("p", probe(journal, policy))
    for _ in range(3):  # each restart's backoff outlasts the window, so the window never fills
        await ref.tell("boom")
    assert await ref.ask("get", timeout=5) == 0
    assert system.stats().kinds["Probe"].restarts == 3
    assert system.stats().kinds["Probe"].escalations == 0


async def test_crashing_on_start_counts_as_crash_and_escalates(journal: Journal) -> None:
    escalated: list[str] = []
    system = ActorSystem(idle_after=None, on_escalate=lambda a, e: escalated.append(a))
    async with system:
        journal.failing_starts = 1
        ref = system.spawn("flaky", probe(journal, FAST))
        assert await ref.ask("inc", timeout=2) == 1  # one failed start, then served
        journal.failing_starts = 100
        dead = system.spawn("dead", probe(journal, FAST))
        with pytest.raises(ActorDeadError) as info:
            await dead.ask("inc", timeout=2)
        assert "escalated" in str(info.value)
        assert journal.count("dead", "start") == 3
        assert escalated == ["dead"]
        assert not dead.alive


async def test_stopping_an_actor_mid_message_fails_its_pending_asks(
    system: ActorSystem, journal: Journal
) -> None:
    ref = system.spawn("p", probe(journal))
    in_flight = asyncio.create_task(ref.ask(Gate(asyncio.Event()), timeout=30))  # never opens
    await gated(journal, "p")
    queued = [asyncio.create_task(ref.ask("inc", timeout=30)) for _ in range(3)]
    await wait_until(lambda: system.stats().kinds["Probe"].mailbox_depth_total == 3, what="3 queued")
    await asyncio.wait_for(system.stop_actor("p"), 2)
    results = await asyncio.wait_for(asyncio.gather(in_flight, *queued, return_exceptions=True), 2)
    assert all(isinstance(r, ActorDeadError) for r in results), results
    assert journal.log("p")[-2:] == ["stopping", "stop"]
    assert journal.state.get("p") is None  # none of the queued incs ran


async def test_system_stop_fails_every_pending_ask(journal: Journal) -> None:
    system = ActorSystem(idle_after=None)
    await system.start()
    slow = SupervisionPolicy(backoff_min=30.0, backoff_max=30.0)
    refs = [system.spawn(f"p{i}", probe(journal)) for i in range(3)]
    restarting = system.spawn("r", probe(journal, slow))
    pending = []
    for ref in refs:
        pending.append(asyncio.create_task(ref.ask(Gate(asyncio.Event()), timeout=30)))
        pending.append(asyncio.create_task(ref.ask("inc", timeout=30)))
    await restarting.tell("boom")
    pending.append(asyncio.create_task(restarting.ask("inc", timeout=30)))  # waits out a 30 s backoff
    await wait_until(lambda: all(journal.count(f"p{i}", "gated") for i in range(3)), what="gates")
    await wait_until(lambda: journal.count("r", "crash") == 1, what="the crash")
    await asyncio.wait_for(system.stop(timeout=2), 3)
    results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 2)
    assert all(isinstance(r, ActorDeadError) for r in results), results
    assert all(journal.count(f"p{i}", "stop") == 1 for i in range(3))
    assert journal.count("r", "stop") == 0  # it was between instances: nothing to stop
    assert len(system) == 0
    assert not any(ref.alive for ref in [*refs, restarting])
    with pytest.raises(ActorDeadError):
        await refs[0].tell("inc")


async def test_stop_fails_the_ask_at_once_even_if_the_handler_cleans_up_slowly(
    system: ActorSystem,
) -> None:
    working, cleaning, cleaned = asyncio.Event(), asyncio.Event(), asyncio.Event()

    class Stubborn(Actor):
        async def receive(self, message: object) -> object:
            working.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cleaning.set()
                await cleaned.wait()  # e.g. a rollback that takes its time
                raise
            return None

    ref = system.spawn("s", Props(Stubborn))
    asked = asyncio.create_task(ref.ask("work", timeout=30))
    await asyncio.wait_for(working.wait(), 2)
    stopping = asyncio.create_task(system.stop_actor("s"))
    with pytest.raises(ActorDeadError):
        await asyncio.wait_for(asked, 2)
    await asyncio.wait_for(cleaning.wait(), 2)
    assert not stopping.done()
    cleaned.set()
    await asyncio.wait_for(stopping, 2)


async def test_senders_blocked_on_a_full_mailbox_fail_when_the_actor_stops(
    system: ActorSystem, journal: Journal
) -> None:
    ref = system.spawn("p", Props(functools.partial(Probe, journal), mailbox_size=1))
    in_flight = asyncio.create_task(ref.ask(Gate(asyncio.Event()), timeout=30))
    await gated(journal, "p")
    ref.tell_nowait("inc")
    blocked_tell = asyncio.create_task(ref.tell("inc"))
    blocked_ask = asyncio.create_task(ref.ask("inc", timeout=30))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not blocked_tell.done()
    assert not blocked_ask.done()
    await asyncio.wait_for(system.stop_actor("p"), 2)
    results = await asyncio.wait_for(
        asyncio.gather(in_flight, blocked_tell, blocked_ask, return_exceptions=True), 2
    )
    assert all(isinstance(r, ActorDeadError) for r in results), results
    assert journal.state.get("p") is None
