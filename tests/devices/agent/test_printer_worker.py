"""Printing through the whole agent into a VirtualPrinter over real TCP: in order, exactly once, never into a
printer that is not ready, and never twice when the hub repeats a directive."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.agent.printer_worker import BAD_CONFIG, _before_any_byte
from devices.errors import PrinterOfflineError
from devices.printing.transports import decode_config, send
from devices.sim.printer import VirtualPrinter
from tests.devices.agent.conftest import agent_running, write_config
from tests.devices.agent.fake_hub import FakeHub

PRINTER = uuid.uuid4()
CUT = b"\x1dV\x00"


@pytest.fixture
async def printer() -> AsyncIterator[VirtualPrinter]:
    async with VirtualPrinter() as printer:
        yield printer


def printer_config(tmp_path: Path, port: int) -> Path:
    return write_config(
        tmp_path,
        f'[[printer]]\ndevice_id = "{PRINTER}"\n'
        f'transport = {{ type = "network", host = "127.0.0.1", port = {port} }}\nstatus_interval_s = 0.2\n',
    )


def job_bytes(n: int) -> bytes:
    return b"\x1b@" + f"BOLETA {n:03d}\n".encode() + CUT


def printed_numbers(printer: VirtualPrinter) -> list[int]:
    return [int(n) for job in printer.jobs for n in re.findall(r"BOLETA (\d{3})", job.text)]


def outcomes(hub: FakeHub, job: str) -> list[tuple[str, str]]:
    return [(a["outcome"], a["reason"]) for a in hub.of_type("print.ack") if a["job_id"] == job]


async def test_jobs_print_in_order_exactly_once(
    hub: FakeHub, printer: VirtualPrinter, tmp_path: Path
) -> None:
    async with agent_running(hub, printer_config(tmp_path, printer.port)):
        jobs = [await hub.print_job(PRINTER, job_bytes(n)) for n in range(12)]
        await hub.wait_until(lambda: all(hub.final_acks().get(job) == ["printed"] for job in jobs), 15)
        await printer.idle()
        assert printed_numbers(printer) == list(range(12))
        assert len(printer.jobs) == 12
        status = hub.of_type("device.status")[-1]
        assert status["device_id"] == str(PRINTER) and status["online"] is True and status["detail"] == ""


async def test_paper_out_holds_the_job_without_sending_it_then_prints_it_once(
    hub: FakeHub, printer: VirtualPrinter, tmp_path: Path
) -> None:
    printer.paper_out = True
    async with agent_running(hub, printer_config(tmp_path, printer.port)):
        job = await hub.print_job(PRINTER, job_bytes(1))
        await hub.wait_until(lambda: ("held", "sin papel") in outcomes(hub, job))
        await hub.wait_until(lambda: any(s["paper_out"] for s in hub.of_type("device.status")))
        second = await hub.print_job(PRINTER, job_bytes(2))
        await hub.wait_until(lambda: ("held", "sin papel") in outcomes(hub, second))

        printer.paper_out = False
        printer.cover_open = True
        await hub.wait_until(lambda: ("held", "tapa abierta") in outcomes(hub, job))
        assert printer.discarded_bytes == 0 and printer.jobs == [], "no byte of a job while not ready"

        printer.cover_open = False
        await hub.wait_until(lambda: hub.final_acks().get(second) == ["printed"], 10)
        await printer.idle()
        assert printed_numbers(printer) == [1, 2]
        # Held once per change of reason, then printed.
        assert outcomes(hub, job) == [("held", "sin papel"), ("held", "tapa abierta"), ("printed", "")]
        await hub.wait_until(lambda: hub.of_type("device.status")[-1]["online"] is True)


async def test_an_unreachable_printer_holds_jobs_until_it_answers(
    hub: FakeHub, printer: VirtualPrinter, tmp_path: Path
) -> None:
    printer.offline = True  # the cable is out: connections hang, status queries time out
    async with agent_running(hub, printer_config(tmp_path, printer.port)):
        job = await hub.print_job(PRINTER, job_bytes(7))
        await hub.wait_until(lambda: ("held", "impresora desconectada") in outcomes(hub, job), 10)
        assert hub.of_type("device.status")[-1]["online"] is False
        printer.offline = False
        await hub.wait_until(lambda: hub.final_acks().get(job) == ["printed"], 10)
        await printer.idle()
        assert printed_numbers(printer) == [7]


async def test_a_directive_repeated_after_a_reconnect_is_not_printed_twice(
    hub: FakeHub, printer: VirtualPrinter, tmp_path: Path
) -> None:
    async with agent_running(hub, printer_config(tmp_path, printer.port)):
        done = await hub.print_job(PRINTER, job_bytes(1))
        await hub.wait_until(lambda: hub.final_acks().get(done) == ["printed"], 10)
        printer.paper_out = True
        waiting = await hub.print_job(PRINTER, job_bytes(2))
        await hub.wait_until(lambda: ("held", "sin papel") in outcomes(hub, waiting))

        await hub.close_all(1012, "hub restarting")
        await hub.wait_until(lambda: hub.hellos == 2, 10)
        # The hub lost track of both: it sends them again.
        await hub.print_job(PRINTER, job_bytes(1), uuid.UUID(done))
        await hub.print_job(PRINTER, job_bytes(2), uuid.UUID(waiting))
        await hub.wait_until(lambda: hub.final_acks().get(done) == ["printed", "printed"], 10)
        await hub.wait_until(lambda: outcomes(hub, waiting).count(("held", "sin papel")) == 2, 10)

        printer.paper_out = False
        await hub.wait_until(lambda: hub.final_acks().get(waiting) == ["printed"], 10)
        await printer.idle()
        assert printed_numbers(printer) == [1, 2]


async def test_a_printer_whose_transport_cannot_work_fails_its_jobs(hub: FakeHub, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, f'[[printer]]\ndevice_id = "{PRINTER}"\ntransport = {{ type = "network" }}\n'
    )
    async with agent_running(hub, config):
        job = await hub.print_job(PRINTER, job_bytes(1))
        await hub.wait_until(lambda: outcomes(hub, job) == [("failed", BAD_CONFIG)])
        status = hub.of_type("device.status")[-1]
        assert status["error"] is True and status["detail"] == BAD_CONFIG


async def test_a_job_for_a_printer_not_driven_here_fails(
    hub: FakeHub, printer: VirtualPrinter, tmp_path: Path
) -> None:
    async with agent_running(hub, printer_config(tmp_path, printer.port)):
        job = await hub.print_job(uuid.uuid4(), job_bytes(1))
        await hub.wait_until(
            lambda: outcomes(hub, job) == [("failed", "la impresora no está configurada en este agente")]
        )
        assert printer.jobs == []


async def test_a_failure_is_retried_only_when_no_byte_can_have_left() -> None:
    """The rule that keeps a job from printing twice: only a failure to open the printer is retried."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    nobody = closed.getsockname()[1]
    closed.close()
    with pytest.raises(PrinterOfflineError) as refused:
        await asyncio.to_thread(
            send, decode_config({"type": "network", "host": "127.0.0.1", "port": nobody}), b"x"
        )
    assert _before_any_byte(refused.value)

    # A printer that takes the connection and then resets it: the job may be half on paper.
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        config = decode_config({"type": "network", "host": "127.0.0.1", "port": port})
        with pytest.raises(PrinterOfflineError) as broken:
            await asyncio.to_thread(send, config, b"\x1b@" + b"x" * 4_000_000)
    assert not _before_any_byte(broken.value)


async def test_a_printer_that_resets_after_the_whole_job_left_us_failed_the_job() -> None:
    """Every byte of a small job leaves at once; the printer then resets with most of it unread. The job
    is not on paper: a failed write (never retried by itself), not a success."""
    reading = asyncio.Event()

    async def reset_later(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        reading.set()
        await asyncio.sleep(0.3)  # the agent has written everything and waits for the printer's close
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    server = await asyncio.start_server(reset_later, "127.0.0.1", 0, limit=1)
    async with server:
        port = server.sockets[0].getsockname()[1]
        config = decode_config({"type": "network", "host": "127.0.0.1", "port": port})
        with pytest.raises(PrinterOfflineError) as broken:
            await asyncio.to_thread(send, config, b"\x1b@" + b"x" * 2000)
    assert reading.is_set() and not _before_any_byte(broken.value)
