"""Ordering, replies, business errors, timeouts, backpressure and the registry."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import cast

import pytest

from actors.runtime import (
    Actor,
    ActorDeadError,
    ActorError,
    ActorExistsError,
    ActorSystem,
    AskTimeout,
    MailboxFull,
    Props,
)
from schema.errors import ConflictError, StorehubError, ValidationError
from tests.actors.runtime.support import Echo, Gate, Journal, Probe, Refuse, wait_until


def probe(journal: Journal, **kwargs: object) -> Props:
    return Props(functools.partial(Probe, journal), **kwargs)  # type: ignore[arg-type]


def echoed(journal: Journal, address: str) -> list[object]:
    return [m[1] for m in journal.handled.get(address, []) if isinstance(m, tuple) and m[0] == "echo"]


async def test_one_sender_is_handled_in_send_order(system: ActorSystem, journal: Journal) -> None:
    ref = system.spawn("p", probe(journal))
    for i in range(200):
        if i % 2:
            await ref.tell(("echo", i))
        else:
            ref.tell_nowait(("echo", i))
    assert await ref.ask(("echo", "last"), timeout=2) == "last"
    assert echoed(journal, "p") == [*range(200), "last"]


async def test_each_of_many_senders_keeps_its_order(system: ActorSystem, journal: Journal) -> None:
    ref = system.spawn("p", probe(journal))

    async def sender(name: int) -> None:
        for i in range(100):
            await ref.tell(("echo", (name, i)))
            if i % 7 == 0:
                await asyncio.sleep(0)  # interleave with the other senders

    await asyncio.gather(*(sender(n) for n in range(5)))
    await ref.ask("get", timeout=2)
    seen = cast(list[tuple[int, int]], echoed(journal, "p"))
    assert len(seen) == 500
    for name in range(5):
        assert [i for n, i in seen if n == name] == list(range(100))
    assert [n for n, _ in seen[:100]] != [0] * 100  # the senders really interleaved


async def test_messages_are_handled_one_at_a_time(system: ActorSystem, journal: Journal) -> None:
    ref = system.spawn("p", probe(journal))
    await asyncio.gather(*(ref.tell(("slow", i)) for i in range(50)))
    await asyncio.gather(*(ref.ask(("slow", i), timeout=2) for i in range(50)))
    assert journal.count("p", "start") == 1
    assert len(journal.handled["p"]) == 100
    assert journal.max_inflight == 1


async def test_ask_returns_the_reply(system: ActorSystem, journal: Journal) -> None:
    ref = system.spawn("p", probe(journal))
    assert await ref.ask("inc", timeout=1) == 1
    assert await ref.ask("inc", timeout=1) == 2
    assert await ref.ask(("echo", {"any": "object"}), timeout=1) == {"any": "object"}


async def test_business_error_reaches_the_asker_and_the_actor_keeps_its_state(
    system: ActorSystem, journal: Journal
) -> None:
    ref = system.spawn("p", probe(journal))
    await ref.ask("inc", timeout=1)
    await ref.ask("inc", timeout=1)
    me = await ref.ask("whoami", timeout=1)
    with pytest.raises(ValidationError) as info:
        await ref.ask(Refuse(), timeout=1)
    assert info.value.code == "invalid"
    assert info.value.details == {"reason": "test"}
    assert await ref.ask("whoami", timeout=1) == me
    assert await ref.ask("get", timeout=1) == 2
    assert journal.count("p", "start") == 1
    assert system.stats().kinds["Probe"].restarts == 0


async def test_business_error_of_a_tell_is_logged_and_the_actor_continues(
    system: ActorSystem, journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    ref = system.spawn("p", probe(journal))
    await ref.ask("inc", timeout=1)
    with caplog.at_level(logging.WARNING, logger="actors"):
        await ref.tell(Refuse())
        assert await ref.ask("get", timeout=1) == 1
    assert any("refused" in r.getMessage() and r.name == "actors" for r in caplog.records)
    assert journal.count("p", "start") == 1


async def test_ask_timeout_skips_the_late_message(system: ActorSystem, journal: Journal) -> None:
    ref = system.spawn("p", probe(journal))
    gate = asyncio.Event()
    blocked = asyncio.create_task(ref.ask(Gate(gate), timeout=5))
    await wait_until(lambda: journal.count("p", "gated") == 1, what="the gate")
    with pytest.raises(AskTimeout) as info:
        await ref.ask(("echo", "late"), timeout=0.05)
    assert info.value.code == "timeout"
    assert info.value.status == 504
    gate.set()
    assert await blocked == "opened"
    assert await ref.ask(("echo", "after"), timeout=1) == "after"
    assert echoed(journal, "p") == ["after"]  # "late" was dequeued but never handled
    assert system.stats().kinds["Probe"].asks_timed_out == 1


async def test_ask_timeout_covers_waiting_for_mailbox_room(system: ActorSystem, journal: Journal) -> None:
    ref = system.spawn("p", probe(journal, mailbox_size=1))
    gate = asyncio.Event()
    blocked = asyncio.create_task(ref.ask(Gate(gate), timeout=5))
    await wait_until(lambda: journal.count("p", "gated") == 1, what="the gate")
    ref.tell_nowait(("echo", "queued"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(AskTimeout):
        await ref.ask(("echo", "never enqueued"), timeout=0.05)
    assert loop.time() - started < 1.0
    gate.set()
    await blocked
    assert await ref.ask(("echo", "after"), timeout=1) == "after"
    assert echoed(journal, "p") == ["queued", "after"]


async def test_tell_waits_while_the_mailbox_is_full(system: ActorSystem, journal: Journal) -> None:
    ref = system.spawn("p", probe(journal, mailbox_size=2))
    gate = asyncio.Event()
    blocked = asyncio.create_task(ref.ask(Gate(gate), timeout=5))
    await wait_until(lambda: journal.count("p", "gated") == 1, what="the gate")
    ref.tell_nowait(("echo", "a"))
    await ref.tell(("echo", "b"))
    with pytest.raises(MailboxFull) as info:
        ref.tell_nowait(("echo", "refused"))
    assert (info.value.code, info.value.status) == ("busy", 503)
    waiting = asyncio.create_task(ref.tell(("echo", "c")))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not waiting.done()
    assert system.stats().kinds["Probe"].mailbox_depth_total == 2
    gate.set()
    await asyncio.wait_for(waiting, 2)
    await blocked
    await ref.ask("get", timeout=1)
    assert echoed(journal, "p") == ["a", "b", "c"]


async def test_spawn_refuses_a_live_address_and_ref_gets_or_spawns(
    system: ActorSystem, journal: Journal
) -> None:
    first = system.spawn("p", probe(journal))
    with pytest.raises(ActorExistsError) as info:
        system.spawn("p", probe(journal))
    assert isinstance(info.value, ConflictError)
    assert isinstance(info.value, ActorError)
    assert info.value.status == 409
    again = system.ref("p", probe(journal))
    assert again == first
    await again.ask("inc", timeout=1)
    assert await first.ask("get", timeout=1) == 1
    assert system.lookup("p") == first
    assert system.lookup("nobody") is None
    other = system.ref("q", probe(journal))
    assert other != first
    assert len(system) == 2
    assert journal.count("p", "start") == 1


async def test_stopped_actor_refuses_messages_and_its_address_can_be_reused(
    system: ActorSystem, journal: Journal
) -> None:
    ref = system.spawn("p", probe(journal))
    await ref.ask("inc", timeout=1)
    await system.stop_actor("p")
    assert journal.log("p") == ["start", "stopping", "stop"]
    assert not ref.alive
    assert system.lookup("p") is None
    with pytest.raises(ActorDeadError):
        await ref.tell("inc")
    with pytest.raises(ActorDeadError):
        ref.tell_nowait("inc")
    with pytest.raises(ActorDeadError):
        await ref.ask("get", timeout=1)
    fresh = system.ref("p", probe(journal))
    assert await fresh.ask("get", timeout=1) == 1  # state reloaded
    await system.stop_actor("never-existed")


async def test_actor_can_stop_itself_after_answering(system: ActorSystem, journal: Journal) -> None:
    class Quitter(Actor):
        async def receive(self, message: object) -> object:
            await self.system.stop_actor(self.address)
            return "bye"

        async def on_stop(self) -> None:
            journal.record(self.address, "stop")

    ref = system.spawn("q", Props(Quitter))
    assert await ref.ask("quit", timeout=1) == "bye"
    await wait_until(lambda: journal.count("q", "stop") == 1, what="on_stop")
    assert not ref.alive


async def test_system_lifecycle_errors() -> None:
    system = ActorSystem(idle_after=None)
    with pytest.raises(ActorError):
        system.spawn("p", Props(Echo))  # not started
    async with system:
        assert system.running
    assert not system.running
    with pytest.raises(ActorDeadError):
        system.spawn("p", Props(Echo))
    with pytest.raises(ActorError):
        await system.start()


def test_errors_have_stable_codes() -> None:
    cases = [(ActorError, "actor_error", 500), (ActorDeadError, "actor_dead", 503)]
    cases += [(AskTimeout, "timeout", 504), (MailboxFull, "busy", 503), (ActorExistsError, "conflict", 409)]
    for cls, code, status in cases:
        assert issubclass(cls, StorehubError)
        assert (cls.code, cls.status) == (code, status)
    assert issubclass(ActorDeadError, ActorError)
