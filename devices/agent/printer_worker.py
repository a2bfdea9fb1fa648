"""One receipt printer: print the journal's jobs in order, exactly once, and never into a printer not ready.

Before each job the printer's status is asked (DLE EOT, in a thread). Not ready (no paper, cover open,
unreachable, in error) means no byte is sent: every pending job is acked ``held`` with the reason, once
per change of reason, and the status is asked again every ``recheck_s``. Ready means: the job becomes
``sending`` in the journal, its bytes go out, it becomes ``printed`` and its ack is queued. Independently
the status is reported every ``status_interval_s`` (the link drops reports that did not change).

Printer I/O (status and jobs) goes through one lock: most printers serve one connection at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from devices.agent.config import PrinterEntry
from devices.agent.journal import Job, Journal
from devices.agent.link import Link
from devices.errors import DeviceConfigError, PrinterError, PrinterOfflineError
from devices.printing.status import PrinterStatus, query_status
from devices.printing.transports import decode_config, send
from schema.messages.devices import DeviceStatusReport

__all__ = ["PrinterWorker", "hold_reason"]

log = logging.getLogger("devices.agent.printer")

OFFLINE = "impresora desconectada"
PAPER_OUT = "sin papel"
COVER_OPEN = "tapa abierta"
IN_ERROR = "impresora con error"
NOT_READY = "impresora fuera de línea"
PAPER_NEAR_END = "papel por acabarse"
BAD_CONFIG = "la configuración de la impresora en el agente no es válida"
FAILED_WHILE_PRINTING = "la impresora falló mientras imprimía: revise el papel y reimprima si falta"


def hold_reason(status: PrinterStatus | None) -> str:
    """Why a printer cannot print now, as the shopkeeper reads it; ``""`` when it is ready."""
    if status is None:
        return OFFLINE
    if status.ready:
        return ""
    # A printer reports itself offline *because* of paper or cover: the cause is what the shopkeeper fixes.
    if status.paper_out:
        return PAPER_OUT
    if status.cover_open:
        return COVER_OPEN
    return IN_ERROR if status.error else NOT_READY


class PrinterWorker:
    def __init__(
        self,
        entry: PrinterEntry,
        journal: Journal,
        link: Link,
        *,
        recheck_s: float = 1.0,
        status_timeout_s: float = 2.0,
    ) -> None:
        self.entry = entry
        self.device_id = entry.device_id
        self._journal = journal
        self._link = link
        self._recheck_s = recheck_s
        self._status_timeout_s = status_timeout_s
        self._wake = asyncio.Event()
        self._io = asyncio.Lock()
        self._last_check = float("-inf")
        self._hold = ""  # the reason jobs are held now; "" while the printer prints
        self._held_acked: dict[uuid.UUID, str] = {}  # job -> the hold reason it was last acked with

    def wake(self) -> None:
        """A job was queued for this printer."""
        self._wake.set()

    def repeated(self, job_id: uuid.UUID) -> None:
        """The hub sent a pending job again (it may have lost its ``held`` state): ack it again."""
        self._held_acked.pop(job_id, None)
        self._wake.set()

    async def run(self) -> None:
        try:
            config = decode_config(dict(self.entry.transport))
            await self._drive(config)
        except DeviceConfigError as exc:
            # Nothing can print through this printer until the file is fixed: say so on every job.
            log.error("printer %s: transport %s cannot work: %s", self.device_id, self.entry.transport, exc)
            await self._fail_everything()

    async def _drive(self, config: Any) -> None:
        reporter = asyncio.create_task(self._report_loop(config), name=f"printer-status {self.device_id}")
        try:
            await self._print_loop(config)
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter

    async def _print_loop(self, config: Any) -> None:
        while True:
            self._wake.clear()
            job = await asyncio.to_thread(self._journal.next_pending, self.device_id)
            if job is None:
                await self._wake.wait()
                continue
            reason = hold_reason(await self._check(config))
            if reason:
                await self._hold_pending(reason)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._recheck_s)
                continue
            if self._hold:
                log.info("printer %s is ready again (was: %s)", self.device_id, self._hold)
                self._hold = ""
                self._held_acked.clear()
            await self._print(config, job)

    async def _print(self, config: Any, job: Job) -> None:
        # Shielded: once bytes are on their way, stopping the agent waits for the outcome to be recorded,
        # so a clean stop never leaves a job "maybe printed".
        outcome = asyncio.ensure_future(self._send_and_record(config, job))
        try:
            await asyncio.shield(outcome)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await outcome
            raise

    async def _send_and_record(self, config: Any, job: Job) -> None:
        if not await asyncio.to_thread(self._journal.mark_sending, job.job_id):
            return
        try:
            async with self._io:
                await asyncio.to_thread(send, config, job.data)
        except Exception as exc:
            if not _before_any_byte(exc):
                # Part of the job may be on paper: printing it again could give a second receipt.
                log.error("printer %s failed while printing job %s: %s", self.device_id, job.job_id, exc)
                await asyncio.to_thread(self._journal.mark_failed, job.job_id, FAILED_WHILE_PRINTING)
            elif isinstance(exc, DeviceConfigError):
                log.error("printer %s cannot print job %s: %s", self.device_id, job.job_id, exc)
                await asyncio.to_thread(self._journal.mark_failed, job.job_id, BAD_CONFIG)
            else:
                # The printer was not reached (it went away since its status said ready): no byte left,
                # so the job waits at the head of the queue for the printer to come back.
                log.warning("printer %s unreachable for job %s: %s", self.device_id, job.job_id, exc)
                await asyncio.to_thread(self._journal.unsend, job.job_id)
                self._last_check = float("-inf")
                await asyncio.sleep(self._recheck_s)  # a printer that answers status but refuses jobs
                return
        else:
            await asyncio.to_thread(self._journal.mark_printed, job.job_id)
            log.info(
                "printer %s printed job %s (%s, %d bytes)",
                self.device_id,
                job.job_id,
                job.kind,
                len(job.data),
            )
        self._link.acks_changed()

    async def _check(self, config: Any) -> PrinterStatus | None:
        """Ask the printer how it is, report it, and return it (``None``: unreachable)."""
        status: PrinterStatus | None
        async with self._io:
            try:
                status = await asyncio.to_thread(query_status, config, self._status_timeout_s)
            except (PrinterOfflineError, OSError) as exc:
                log.debug("printer %s status: %s", self.device_id, exc)
                status = None
            except DeviceConfigError:
                self._link.publish_status(_bad_config(self.device_id))
                raise
            except PrinterError as exc:
                # It answers, but not with status bytes: printing into it is a guess, so jobs wait.
                log.warning("printer %s: %s", self.device_id, exc)
                status = PrinterStatus(online=True, error=True)
        self._last_check = time.monotonic()
        self._link.publish_status(_report(self.device_id, status))
        return status

    async def _hold_pending(self, reason: str) -> None:
        if reason != self._hold:
            log.warning("printer %s cannot print: %s", self.device_id, reason)
            self._hold = reason
        waiting = await asyncio.to_thread(self._journal.pending_ids, self.device_id)
        stale = [job_id for job_id in waiting if self._held_acked.get(job_id) != reason]
        if not stale:
            return
        for job_id in await asyncio.to_thread(self._journal.queue_held, self.device_id, stale, reason):
            self._held_acked[job_id] = reason
        self._link.acks_changed()

    async def _report_loop(self, config: Any) -> None:
        interval = self.entry.status_interval_s
        while True:
            due = self._last_check + interval - time.monotonic()
            if due <= 0:
                try:
                    await self._check(config)
                except DeviceConfigError:
                    return  # the print loop meets it too, and fails the jobs
                due = interval
            await asyncio.sleep(due)

    async def _fail_everything(self) -> None:
        self._link.publish_status(_bad_config(self.device_id))
        while True:
            self._wake.clear()
            job = await asyncio.to_thread(self._journal.next_pending, self.device_id)
            if job is None:
                await self._wake.wait()
                continue
            await asyncio.to_thread(self._journal.mark_failed, job.job_id, BAD_CONFIG)
            self._link.acks_changed()


def _before_any_byte(exc: BaseException) -> bool:
    """Whether ``send`` failed while opening the printer, so no byte of the job can have left.

    Both a printer that cannot be reached and one that stops mid-job raise PrinterOfflineError; the
    transport says which in ``details["stage"]`` ("open" or "write"). Anything else counts as "write": the
    job is then reported failed instead of retried, never printed twice.
    """
    return isinstance(exc, PrinterOfflineError) and exc.details.get("stage") == "open"


def _bad_config(device_id: uuid.UUID) -> DeviceStatusReport:
    return DeviceStatusReport(device_id=device_id, online=False, error=True, detail=BAD_CONFIG)


def _report(device_id: uuid.UUID, status: PrinterStatus | None) -> DeviceStatusReport:
    if status is None:
        return DeviceStatusReport(device_id=device_id, online=False, detail=OFFLINE)
    detail = hold_reason(status) or (PAPER_NEAR_END if status.paper_near_end else "")
    return DeviceStatusReport(
        device_id=device_id,
        # Online means it answers: a printer out of paper calls itself offline, but the cable is fine and
        # paper_out says what is wrong.
        online=True,
        paper_out=status.paper_out,
        paper_near_end=status.paper_near_end,
        cover_open=status.cover_open,
        error=status.error,
        detail=detail,
    )
