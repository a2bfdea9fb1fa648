"""The link to the hub: hello, buffering while the hub is away, reconnecting, acks kept until confirmed,
and a revoked token ending the agent."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from devices.agent.journal import Journal
from devices.agent.link import Link
from devices.agent.main import EXIT_OK, EXIT_REVOKED, run_agent
from devices.agent.protocol import AgentRevokedError, backoff_delay, ws_url
from devices.scales.reading import WeightReading
from schema.messages.devices import AgentDevice, AgentHello, AgentWelcome, DeviceStatusReport, PrintDirective
from tests.devices.agent.fake_hub import FakeHub

SCALE = uuid.uuid4()
REFUSED_SCALE = uuid.uuid4()
PRINTER = uuid.uuid4()
HELLO = AgentHello(
    agent="test",
    devices=[
        AgentDevice(device_id=SCALE, kind="scale"),
        AgentDevice(device_id=REFUSED_SCALE, kind="scale"),
        AgentDevice(device_id=PRINTER, kind="printer"),
    ],
)


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    hub = await FakeHub(refuse=frozenset({REFUSED_SCALE})).start()
    yield hub
    with contextlib.suppress(AssertionError):
        await hub.stop()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(tmp_path / "state")
    yield j
    j.close()


class Running:
    def __init__(self, link: Link, task: asyncio.Task[None]) -> None:
        self.link = link
        self.task = task
        self.welcomes: list[AgentWelcome] = []


@contextlib.asynccontextmanager
async def running_link(
    hub: FakeHub, journal: Journal, token: str | None = None, reply_timeout_s: float = 10.0
) -> AsyncIterator[Running]:
    welcomes: list[AgentWelcome] = []

    async def on_welcome(welcome: AgentWelcome) -> None:
        welcomes.append(welcome)

    async def on_directive(name: str, payload: msgspec.Raw) -> None:
        pass

    link = Link(
        hub.url,
        token or "good-token",
        HELLO,
        journal,
        on_welcome=on_welcome,
        on_directive=on_directive,
        reply_timeout_s=reply_timeout_s,
    )
    task = asyncio.create_task(link.run())
    running = Running(link, task)
    running.welcomes = welcomes
    try:
        yield running
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, AgentRevokedError):
            await task


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """For state the hub cannot see (the journal): check it until true or the timeout."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def printed_ack_in(journal: Journal) -> uuid.UUID:
    job = PrintDirective(device_id=PRINTER, job_id=uuid.uuid4(), kind="receipt", data=b"x")
    journal.offer(job)
    journal.mark_sending(job.job_id)
    journal.mark_printed(job.job_id)
    return job.job_id


def test_ws_url() -> None:
    assert ws_url("http://hub:8000") == "ws://hub:8000/ws"
    assert ws_url("https://hub.example.cl/") == "wss://hub.example.cl/ws"
    assert ws_url("https://hub.example.cl/tienda") == "wss://hub.example.cl/tienda/ws"
    assert ws_url("ws://hub/ws") == "ws://hub/ws"
    with pytest.raises(ValueError, match="must start with"):
        ws_url("hub:8000")


def test_backoff_doubles_from_half_a_second_to_thirty_with_jitter() -> None:
    for attempt, full in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (6, 30.0), (60, 30.0)]:
        delays = [backoff_delay(attempt, 0.5, 30.0) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 10, "jitter spreads the delays"


async def test_hello_lists_the_devices_and_only_accepted_ones_report(hub: FakeHub, journal: Journal) -> None:
    async with running_link(hub, journal) as run:
        await asyncio.wait_for(run.link.connected.wait(), 5)
        (hello,) = hub.of_type("agent.hello")
        assert {d["device_id"] for d in hello["devices"]} == {str(SCALE), str(REFUSED_SCALE), str(PRINTER)}
        (welcome,) = run.welcomes
        assert {d.device_id: d.accepted for d in welcome.devices}[REFUSED_SCALE] is False
        assert run.link.accepted == {SCALE, PRINTER}

        now = time.monotonic()
        run.link.publish_weight(REFUSED_SCALE, WeightReading(grams=7, stable=True), now)
        run.link.publish_status(DeviceStatusReport(device_id=REFUSED_SCALE, online=True))
        run.link.publish_weight(SCALE, WeightReading(grams=1250, stable=True), now)
        await hub.wait_until(lambda: len(hub.of_type("device.weight")) == 1)
        (weight,) = hub.of_type("device.weight")
        assert weight["device_id"] == str(SCALE) and weight["grams"] == 1250 and weight["stable"] is True
        assert 0 <= weight["age_ms"] < 1000
        assert hub.of_type("device.status") == []


async def test_what_happens_while_the_hub_is_away_is_delivered_after_in_order(
    hub: FakeHub, journal: Journal
) -> None:
    async with running_link(hub, journal) as run:
        await asyncio.wait_for(run.link.connected.wait(), 5)
        run.link.publish_status(DeviceStatusReport(device_id=PRINTER, online=True))
        await hub.wait_until(lambda: len(hub.of_type("device.status")) == 1)

        await hub.stop()
        await asyncio.wait_for(run.link.disconnected.wait(), 5)
        published = time.monotonic()
        for grams in range(60):
            run.link.publish_weight(SCALE, WeightReading(grams=grams, stable=False), published)
        run.link.publish_status(DeviceStatusReport(device_id=PRINTER, online=False, paper_out=True))
        job_id = await asyncio.to_thread(printed_ack_in, journal)
        run.link.acks_changed()
        mark = len(hub.frames)
        await hub.start()

        await hub.wait_until(lambda: len(hub.of_type("device.weight", mark)) == 50, timeout=10)
        arrived = time.monotonic()
        assert hub.hellos == 2 and run.link.sessions == 2
        after = [f["type"] for f in hub.frames[mark:] if f["type"] != "agent.hello"]
        assert after == ["print.ack", "device.status"] + ["device.weight"] * 50
        assert hub.of_type("print.ack", mark) == [
            {"device_id": str(PRINTER), "job_id": str(job_id), "outcome": "printed", "reason": ""}
        ]
        assert hub.of_type("device.status", mark)[0]["paper_out"] is True
        weights = hub.of_type("device.weight", mark)
        assert [w["grams"] for w in weights] == list(range(10, 60)), "the newest 50 are kept"
        # age_ms says how old the reading is when it leaves: at least the backoff, at most until it arrived.
        for w in weights:
            assert 200 <= w["age_ms"] <= (arrived - published) * 1000 + 50
        await eventually(lambda: journal.unconfirmed() == [])


async def test_an_ack_without_a_reply_stays_queued_and_is_sent_again_after_a_reconnect(
    hub: FakeHub, journal: Journal
) -> None:
    hub.reply_acks = False
    job_id = await asyncio.to_thread(printed_ack_in, journal)
    async with running_link(hub, journal, reply_timeout_s=0.3) as run:
        # Unanswered, it is sent again on the same connection after the reply timeout...
        await hub.wait_until(lambda: len(hub.acks.get(str(job_id), [])) >= 2)
        assert len(journal.unconfirmed()) == 1
        hub.reply_acks = True
        await hub.close_all(1011, "restarting")
        await hub.wait_until(lambda: hub.hellos == 2)
        # ...and after every reconnect, until the hub answers it.
        await eventually(lambda: journal.unconfirmed() == [])
        assert run.link.sessions == 2
        assert set(hub.acks[str(job_id)]) == {"printed"}


async def test_an_unknown_token_ends_the_link_for_good(hub: FakeHub, journal: Journal) -> None:
    async with running_link(hub, journal, token="revoked") as run:
        with pytest.raises(AgentRevokedError, match="4401"):
            await asyncio.wait_for(run.task, 5)
        assert hub.hellos == 0


async def test_a_token_revoked_while_connected_ends_the_link(hub: FakeHub, journal: Journal) -> None:
    async with running_link(hub, journal) as run:
        await asyncio.wait_for(run.link.connected.wait(), 5)
        await hub.close_all(4401, "device token revoked")
        with pytest.raises(AgentRevokedError, match="4401"):
            await asyncio.wait_for(run.task, 5)


def agent_toml(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(f'[agent]\nname = "test"\nstate_dir = "{tmp_path}/state"\n{body}')
    return path


async def test_run_agent_exits_3_when_the_token_is_refused(hub: FakeHub, tmp_path: Path) -> None:
    code = await asyncio.wait_for(run_agent(hub.url, "revoked", agent_toml(tmp_path)), 10)
    assert code == EXIT_REVOKED


async def test_run_agent_drives_only_what_the_hub_accepts_and_stops_with_0(
    hub: FakeHub, tmp_path: Path
) -> None:
    # Two scales on ports that do not exist: a driven one says so in a status; the refused one says nothing.
    config = agent_toml(
        tmp_path,
        f'[[scale]]\ndevice_id = "{SCALE}"\nport = "{tmp_path}/ttyA"\nprotocol = "toledo8217"\n'
        f'[[scale]]\ndevice_id = "{REFUSED_SCALE}"\nport = "{tmp_path}/ttyB"\nprotocol = "toledo8217"\n',
    )
    stop = asyncio.Event()
    agent = asyncio.create_task(run_agent(hub.url, "good-token", config, stop=stop))
    await hub.wait_until(lambda: len(hub.of_type("device.status")) >= 1)
    (status,) = hub.of_type("device.status")
    assert status["device_id"] == str(SCALE) and status["online"] is False
    assert status["detail"] == "no se puede abrir el puerto de la balanza"
    stop.set()
    assert await asyncio.wait_for(agent, 10) == EXIT_OK
    assert all(s["device_id"] != str(REFUSED_SCALE) for s in hub.of_type("device.status"))


async def test_a_second_agent_on_the_same_state_dir_does_not_start(hub: FakeHub, tmp_path: Path) -> None:
    stop = asyncio.Event()
    first = asyncio.create_task(run_agent(hub.url, "good-token", agent_toml(tmp_path), stop=stop))
    await hub.wait_until(lambda: hub.hellos == 1)
    assert await asyncio.wait_for(run_agent(hub.url, "good-token", agent_toml(tmp_path)), 10) == 2
    stop.set()
    assert await asyncio.wait_for(first, 10) == EXIT_OK
