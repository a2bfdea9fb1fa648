"""The hub's devices service: DeviceActors, what gets printed where, and revocation.

* ``printable`` is the RegisterActor's (and a restaurant's FloorActor's) hook after a sale, a credit note,
  a closed cash session or a precuenta asked for: the job goes to the printer bound to that register, if
  there is one (found once, then cached until a device changes). Queuing it never delays the till: it runs
  in a task of its own. A job of a sale is queued once (a resent command finds it); a precuenta every time.
* ``render`` turns a job into ESC/POS bytes when its DeviceActor asks (``hub.receipts``).
* ``device_changed`` / ``revoked``: the back office changed a device; its actor reloads, and a revoked
  device's own socket is closed at once (4401), so a revoked agent stops driving anything. The node that
  made the change calls them, and ``announce`` writes the notice every other hub node acts on the same way
  (``hub.control``, shared with users' notices): a device's socket and actor may be on another node than
  the back office. This node listens to a tenant's notices while it holds state of it: its sockets (the
  gateway holds for each), its DeviceActors (each holds before it loads its row) and the printer lookups.
* ``job_queued``: a printer's actor queued a job (a till's paper or a reprint served by this node); the
  notice goes in the job's own transaction, and the node whose actor of that printer drives its agent
  picks the job up from the database (``PickUpJob``): it loaded only the jobs open when it started.
* ``presence``: scaled (Redis), where the actors share their connected devices' status with every node's
  dashboard (``hub.device_presence``); None when embedded.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.device import DeviceActor, DeviceDeps, EnqueueJob, PickUpJob, Reload, device_address
from actors.print_jobs import jobs_of_source
from actors.register import TillCommand
from actors.runtime import ActorError, ActorRef, Props
from hub.auth.principal import Principal
from hub.device_presence import RedisPresence
from hub.events.outbox import emit
from schema.errors import UnavailableError
from schema.messages.control_notices import (
    CONTROL_STREAM,
    DeviceChanged,
    DeviceNotice,
    DeviceRevoked,
    PrintJobQueued,
)
from schema.messages.till import ScaleReading
from schema.models import Device, PrintJob
from schema.models.identity import Role

if TYPE_CHECKING:
    from hub.services import Services

log = logging.getLogger("hub.devices")

CLOSE_REVOKED = 4401
# Printed every time they are asked for (a table's precuenta changes as the tab does), never deduplicated.
REPEATABLE_KINDS = frozenset({"prebill"})
_PRINTERS = "printer lookups"  # the holder of a tenant's notices for the printer cache


class DeviceService:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.presence = RedisPresence(services.redis) if services.redis is not None else None
        self.deps = DeviceDeps(
            db=services.db,
            bus=services.bus,
            render=self.render,
            forward_reading=self.forward_reading,
            follow=self.follow_device,
            job_queued=self.job_queued,
            presence=self.presence,
        )
        self.control = services.control  # its notices come through ``heard``, from ``Services``
        self._printers: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID | None] = {}
        # Bumped by every change of a tenant's devices: a printer looked up meanwhile is not cached.
        self._generations: dict[uuid.UUID, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def ref(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> ActorRef:
        return self.services.actors.ref(
            device_address(tenant_id, device_id),
            Props(lambda: DeviceActor(tenant_id, device_id, self.deps), kind="DeviceActor", idle_after=None),
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- printing ------------------------------------------------------------------------------------

    def printable(
        self, tenant_id: uuid.UUID, register_id: uuid.UUID, kind: str, source_id: uuid.UUID
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._queue(tenant_id, register_id, kind, source_id), name=f"print-{kind}-{source_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _queue(
        self, tenant_id: uuid.UUID, register_id: uuid.UUID, kind: str, source_id: uuid.UUID
    ) -> None:
        try:
            await self.print_for_register(tenant_id, register_id, kind, source_id)
        except Exception:
            log.exception("could not queue the %s of %s for register %s", kind, source_id, register_id)

    async def print_for_register(
        self,
        tenant_id: uuid.UUID,
        register_id: uuid.UUID,
        kind: str,
        source_id: uuid.UUID,
        *,
        reprint_of: uuid.UUID | None = None,
    ) -> Any:
        """Queue a job on the register's printer; None when the register has no printer."""
        printer = await self.printer_of(tenant_id, register_id)
        if printer is None:
            return None
        if (
            reprint_of is None
            and kind not in REPEATABLE_KINDS
            and any(
                job.kind == kind and job.reprint_of is None
                for job in await jobs_of_source(self.services.db, tenant_id, source_id)
            )
        ):
            return None  # a resent command answered from the database: its paper is already queued
        order = EnqueueJob(kind=kind, register_id=register_id, source_id=source_id, reprint_of=reprint_of)
        return await self.ref(tenant_id, printer).ask(
            order, timeout=self.services.settings.ask_timeout_seconds
        )

    async def printer_of(self, tenant_id: uuid.UUID, register_id: uuid.UUID) -> uuid.UUID | None:
        key = (tenant_id, register_id)
        if key not in self._printers:
            # Listen first, then look: a binding changed on another node from now on drops what is found.
            listening = await self._listen(tenant_id, _PRINTERS)
            generation = self._generations.get(tenant_id, 0)
            async with self.services.db.tenant(tenant_id) as session:
                found = (
                    await session.execute(
                        select(Device.id)
                        .where(
                            Device.register_id == register_id,
                            Device.kind == "printer",
                            Device.revoked_at.is_(None),
                        )
                        .order_by(Device.created_at, Device.id)
                        .limit(1)
                    )
                ).scalar_one_or_none()
            if not listening or self._generations.get(tenant_id, 0) != generation:
                return found  # it may be stale by now: not kept
            self._printers[key] = found
        return self._printers[key]

    async def render(self, tenant_id: uuid.UUID, job: PrintJob, config: dict[str, Any]) -> bytes:
        from hub.receipts import render_job  # weasyprint-free, but only needed once something prints

        return await render_job(self.services, tenant_id, job, config)

    # -- scales --------------------------------------------------------------------------------------

    async def forward_reading(
        self, tenant_id: uuid.UUID, register_id: uuid.UUID, reading: ScaleReading
    ) -> None:
        from hub.gateway.till import register_ref_for

        ref = register_ref_for(self.services, tenant_id, register_id)
        principal = Principal(tenant_id=tenant_id, kind="device", role=Role.CASHIER)
        await ref.tell(TillCommand(reading, principal, None))

    # -- back-office changes -------------------------------------------------------------------------

    def announce(
        self, session: AsyncSession, kind: type[DeviceNotice], device_id: uuid.UUID, **fields: Any
    ) -> None:
        """Tell every hub node, once ``session`` commits, what changed (this one acts on it itself)."""
        emit(session, CONTROL_STREAM, kind.__name__, self.control.notice(kind, device_id=device_id, **fields))

    def job_queued(self, session: AsyncSession, job: PrintJob) -> None:
        """A printer's actor here queued ``job`` (in ``session``): its actor on another node picks it up."""
        self.announce(session, PrintJobQueued, job.device_id, job_id=job.id)

    def device_changed(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> None:
        self._printers = {k: v for k, v in self._printers.items() if k[0] != tenant_id}
        self._generations[tenant_id] = self._generations.get(tenant_id, 0) + 1
        ref = self.services.actors.lookup(device_address(tenant_id, device_id))
        if ref is not None:
            try:
                ref.tell_nowait(Reload())
            except ActorError as exc:  # a full mailbox: it may act on the old row until it next loads
                log.warning(
                    "device %s of tenant %s could not be told to reload: %r", device_id, tenant_id, exc
                )

    def revoked(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> int:
        """Close the revoked device's own sockets on this node; returns how many were closed."""
        closed = 0
        for conn in list(self.services.sockets):
            principal = conn.principal
            if principal.tenant_id == tenant_id and principal.device_id == device_id:
                conn.disconnect(CLOSE_REVOKED, "device revoked")
                closed += 1
        self.device_changed(tenant_id, device_id)
        return closed

    def heard(self, tenant_id: uuid.UUID, notice: DeviceNotice) -> None:
        """Another node's change (a bus listener: must not block)."""
        match notice:
            case DeviceRevoked(device_id=device_id):
                closed = self.revoked(tenant_id, device_id)
                log.info(
                    "device %s of tenant %s revoked elsewhere; %d sockets closed",
                    device_id,
                    tenant_id,
                    closed,
                )
            case DeviceChanged(device_id=device_id):
                self.device_changed(tenant_id, device_id)
            case PrintJobQueued(device_id=device_id, job_id=job_id):
                self._pick_up(tenant_id, device_id, job_id)

    def _pick_up(self, tenant_id: uuid.UUID, device_id: uuid.UUID, job_id: uuid.UUID) -> None:
        # No actor of the printer here: the one that starts (here or anywhere) loads its open jobs.
        ref = self.services.actors.lookup(device_address(tenant_id, device_id))
        if ref is None:
            return
        try:
            ref.tell_nowait(PickUpJob(job_id))
        except ActorError as exc:  # a full mailbox: the job waits here until the actor next starts
            log.warning(
                "print job %s of device %s (tenant %s) could not be handed over: %r",
                job_id,
                device_id,
                tenant_id,
                exc,
            )

    async def follow_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Callable[[], None]:
        """A DeviceActor's hold on its tenant's notices; returns its release."""
        holder = device_address(tenant_id, device_id)
        if not await self._listen(tenant_id, holder):
            return lambda: None
        return lambda: self.control.release(tenant_id, holder)

    async def _listen(self, tenant_id: uuid.UUID, holder: Hashable) -> bool:
        try:
            await self.control.hold(tenant_id, holder)
        except UnavailableError as exc:
            # Printing and devices go on; what another node changes meanwhile is missed here until the
            # next change. A socket is refused instead (``hub.gateway.route.follow_revocation``).
            log.warning("tenant %s: not listening to device changes (%s)", tenant_id, exc)
            return False
        return True
