"""The virtual printer over a real TCP socket, driven by python-escpos's own network printer.

python-escpos is blocking: every call runs in a thread so the printer, on this test's event loop, can answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from escpos.printer import Dummy, Network  # type: ignore[import-untyped, unused-ignore]

from devices.escpos.decode import decode
from devices.sim.printer import VirtualPrinter

TIMEOUT = 10.0
T = TypeVar("T")


@pytest.fixture
async def printer(tmp_path: Path) -> AsyncIterator[VirtualPrinter]:
    async with VirtualPrinter(jobs_dir=tmp_path / "jobs") as printer:
        yield printer


def receipt(p: Network, folio: int = 42) -> None:
    p.hw("INIT")
    p.set(align="center", bold=True, double_width=True, double_height=True)
    p.textln("Almacén Ñuñoa")
    p.set(align="left", bold=False, normal_textsize=True)
    p.textln(f"Boleta electrónica N° {folio}")
    p.textln("Café en grano 250 g     $5.500")
    p.set(align="right", bold=True)
    p.textln("TOTAL $5.500")
    p.set(align="left", bold=False)
    p.cashdraw(2)
    p.cut()


async def session(printer: VirtualPrinter, work: Callable[[Network], T], timeout: float = TIMEOUT) -> T:
    """Run ``work`` on a python-escpos Network printer connected to ``printer``, then close it."""

    def run() -> T:
        p = Network("127.0.0.1", printer.port, timeout=timeout)
        try:
            return work(p)
        finally:
            p.close()

    return await asyncio.to_thread(run)


async def test_a_receipt_becomes_a_job(printer: VirtualPrinter, tmp_path: Path) -> None:
    await session(printer, receipt)
    (job,) = await printer.wait_for_jobs(1, TIMEOUT)
    assert job.id == 1 and job.drawer_kicks == 1
    assert job.printout.text() == (
        "Almacén Ñuñoa\nBoleta electrónica N° 42\nCafé en grano 250 g     $5.500\nTOTAL $5.500"
    )
    lines = job.text.splitlines()
    assert lines[0] == " " * 11 + "Almacén Ñuñoa"  # 13 double-width characters centred in 48 columns
    assert lines[3] == " " * 36 + "TOTAL $5.500"
    assert job.png.startswith(b"\x89PNG")
    expected = Dummy()
    receipt(expected)
    assert job.data == expected.output
    jobs = tmp_path / "jobs"
    assert (jobs / "0001.bin").read_bytes() == job.data
    assert (jobs / "0001.txt").read_text(encoding="utf-8") == job.text
    assert (jobs / "0001.png").read_bytes() == job.png
    snapshot = json.loads(json.dumps(printer.snapshot()))
    assert snapshot == [
        {"id": 1, "received_at": job.received_at.isoformat(), "text": job.text, "drawer_kicks": 1}
    ]


@pytest.mark.parametrize(
    ("state", "online", "paper"),
    [
        ({}, True, 2),
        ({"paper_near_end": True}, True, 1),
        ({"paper_out": True}, False, 0),
        ({"cover_open": True}, False, 2),
        ({"cover_open": True, "paper_near_end": True}, False, 1),
    ],
)
async def test_python_escpos_reads_the_status(
    printer: VirtualPrinter, state: dict[str, bool], online: bool, paper: int
) -> None:
    for name, value in state.items():
        setattr(printer, name, value)
    answers = await session(printer, lambda p: (p.is_online(), p.paper_status()))
    assert answers == (online, paper)
    assert printer.status_answers == 2


async def test_status_bytes_follow_the_reference() -> None:
    async with VirtualPrinter() as printer:
        reader, writer = await asyncio.open_connection("127.0.0.1", printer.port)
        queries = b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04\x1dr\x01\x1dr\x02"

        async def ask() -> bytes:
            writer.write(queries)
            return await asyncio.wait_for(reader.readexactly(6), TIMEOUT)

        assert await ask() == bytes([0x12, 0x12, 0x12, 0x12, 0x00, 0x00])
        printer.paper_out = True
        assert await ask() == bytes([0x1A, 0x32, 0x12, 0x7E, 0x0F, 0x00])
        printer.paper_out, printer.cover_open, printer.paper_near_end = False, True, True
        assert await ask() == bytes([0x1A, 0x16, 0x12, 0x1E, 0x03, 0x00])
        writer.close()
        await writer.wait_closed()


async def test_status_lookalikes_inside_image_data_are_not_answered(printer: VirtualPrinter) -> None:
    printer.paper_near_end = True  # DLE EOT 4 would answer 0x1E, DLE EOT 1 answers 0x12
    image = b"\x1dv0\x00\x03\x00\x04\x00" + b"\x10\x04\x04" * 4
    reader, writer = await asyncio.open_connection("127.0.0.1", printer.port)
    writer.write(image + b"\x10\x04\x01")
    assert await asyncio.wait_for(reader.readexactly(1), TIMEOUT) == b"\x12"
    writer.close()
    await writer.wait_closed()
    (job,) = await printer.wait_for_jobs(1, TIMEOUT)
    assert len(job.printout.images) == 1 and job.printout.status_queries == 1


async def test_paper_out_discards_the_data_then_prints_again(printer: VirtualPrinter) -> None:
    printer.paper_out = True
    await session(printer, receipt)
    await printer.wait_for(lambda: printer.discarded_jobs == 1, TIMEOUT)
    await printer.idle()
    assert printer.jobs == [] and printer.discarded_bytes == len(_receipt_bytes())
    printer.paper_out = False
    await session(printer, lambda p: receipt(p, folio=43))
    (job,) = await printer.wait_for_jobs(1, TIMEOUT)
    assert "N° 43" in job.text and printer.discarded_jobs == 1


async def test_cover_open_discards_too(printer: VirtualPrinter) -> None:
    printer.cover_open = True
    await session(printer, receipt)
    await printer.wait_for(lambda: printer.discarded_jobs == 1, TIMEOUT)
    await printer.idle()
    assert printer.jobs == []


async def test_offline_status_queries_time_out_until_it_is_back(printer: VirtualPrinter) -> None:
    printer.offline = True
    with pytest.raises(TimeoutError):
        await session(printer, lambda p: p.is_online(), timeout=0.5)
    printer.offline = False
    assert await session(printer, lambda p: p.is_online()) is True


async def test_offline_holds_data_until_the_cable_is_back(printer: VirtualPrinter) -> None:
    printer.offline = True
    await session(printer, receipt)  # the kernel's buffers take the bytes; the printer reads nothing
    await printer.wait_for(lambda: printer.connections == 1, TIMEOUT)
    assert printer.jobs == [] and printer.open_connections == 1
    printer.offline = False
    (job,) = await printer.wait_for_jobs(1, TIMEOUT)
    assert "N° 42" in job.text


async def test_two_jobs_on_one_connection(printer: VirtualPrinter) -> None:
    def two(p: Network) -> None:
        receipt(p, folio=1)
        receipt(p, folio=2)
        p.textln("")  # nothing printable after the last cut: no third job

    await session(printer, two)
    first, second = await printer.wait_for_jobs(2, TIMEOUT)
    assert ("N° 1" in first.text, "N° 2" in second.text) == (True, True)
    assert (first.id, second.id) == (1, 2)
    # One python-escpos printer object wrote both: the second receipt needs no code-page switch.
    expected = Dummy()
    receipt(expected, folio=1)
    one = bytes(expected.output)
    expected.clear()
    receipt(expected, folio=2)
    assert (first.data, second.data) == (one, bytes(expected.output))
    await printer.wait_for(lambda: printer.open_connections == 0, TIMEOUT)
    await printer.idle()
    assert len(printer.jobs) == 2


async def test_a_connection_closed_mid_job_keeps_what_it_sent(printer: VirtualPrinter) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", printer.port)
    writer.write("Pan amasado $1.990\nLeche $1.090\x1dv0\x00".encode("cp437"))  # no cut, an image cut off
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    (job,) = await printer.wait_for_jobs(1, TIMEOUT)
    assert job.printout.text() == "Pan amasado $1.990\nLeche $1.090"
    assert job.printout.unknown == [b"\x1dv0\x00"]


async def test_status_only_connections_print_nothing(printer: VirtualPrinter) -> None:
    for _ in range(3):
        await session(printer, lambda p: p.is_online())
    await printer.wait_for(lambda: printer.connections == 3 and printer.open_connections == 0, TIMEOUT)
    await printer.idle()
    assert printer.jobs == [] and printer.discarded_jobs == 0


async def test_numbering_goes_on_from_files_already_in_jobs_dir(tmp_path: Path) -> None:
    (tmp_path / "0007.bin").write_bytes(b"an earlier run")
    async with VirtualPrinter(jobs_dir=tmp_path) as printer:
        await session(printer, receipt)
        (job,) = await printer.wait_for_jobs(1, TIMEOUT)
    assert job.id == 8 and (tmp_path / "0008.txt").read_text(encoding="utf-8") == job.text
    assert (tmp_path / "0007.bin").read_bytes() == b"an earlier run"


async def test_58_mm_printer(tmp_path: Path) -> None:
    async with VirtualPrinter(width_dots=384, jobs_dir=tmp_path) as printer:
        assert printer.columns == 32
        await session(printer, receipt)
        (job,) = await printer.wait_for_jobs(1, TIMEOUT)
        assert job.text.splitlines()[0] == " " * 3 + "Almacén Ñuñoa"
        assert decode(job.data, 384).lines[2].text == "Café en grano 250 g     $5.500"


async def test_waiting_for_a_job_that_never_comes_times_out(printer: VirtualPrinter) -> None:
    with pytest.raises(TimeoutError, match="0 of 1 print jobs"):
        await printer.wait_for_jobs(1, 0.2)


async def test_close_keeps_a_job_still_open() -> None:
    printer = VirtualPrinter()
    await printer.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", printer.port)
    writer.write(b"sin corte\n")
    await writer.drain()
    await printer.wait_for(lambda: printer.open_connections == 1, TIMEOUT)
    # The bytes may still be in flight: a status answer proves the printer has read them.
    writer.write(b"\x10\x04\x01")
    assert await asyncio.wait_for(reader.readexactly(1), TIMEOUT) == b"\x12"
    await printer.close()
    assert [job.printout.text() for job in printer.jobs] == ["sin corte"]
    writer.close()


def _receipt_bytes(folio: int = 42) -> bytes:
    p = Dummy()
    receipt(p, folio)
    return bytes(p.output)
