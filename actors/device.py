"""DeviceActor: one per scale, printer or drawer; the hub's side of a device its in-store agent drives.

* A **scale** forwards each reading to the register it is bound to (the RegisterActor keeps the latest and
  pushes it, transient, to the till's sockets), with the reading's age so a kept one is never fresh.
* A **printer** owns its print queue. Jobs are rows (``print_jobs``): the actor loads the open ones at start,
  so a hub restart loses none. While its agent is connected every open job is handed to it (``print``
  directive); the agent journals them and prints each exactly once, acknowledging printed, held (paper
  out, cover open: it keeps the job and prints it when it can) or failed. A new agent connection gets every
  open job again; the agent recognises the ones it already has. A job queued by this printer's actor on
  another hub node (its till or back office is served there) is announced (``job_queued``, in the job's own
  transaction); this node's actor is then told to ``PickUpJob`` from the database, once: a job it has
  already, or one printed or failed, is left alone. A receipt is rendered after it is queued
  (its boleta waits for the fiscal pipeline's TED), in a task of its own so acknowledgements keep flowing.
* Every state change reaches the till (``register:<id>``) and the owner's dashboard (``tenant``) as
  ``PrintJobChanged`` / ``DeviceStatusChanged``. Scaled, the status is also shared (``hub.device_presence``)
  while the agent is connected here, so a dashboard rebuilt on another hub node sees it: written on every
  change and again every few seconds, withdrawn when the agent leaves.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from actors.print_jobs import (
    FINAL_STATES,
    OPEN_STATES,
    JobAdded,
    add_job,
    get_job,
    job_view,
    open_jobs,
    save_job,
)
from actors.runtime import Actor, ActorDeadError, MailboxFull
from hub.db import Database
from hub.device_presence import DevicePresence
from hub.events.bus import Bus
from schema.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from schema.messages.devices import (
    DeviceStatusReport,
    DeviceStatusView,
    DeviceWeight,
    PrintAck,
    PrintDirective,
    PrintJobView,
    ScaleDirective,
)
from schema.messages.till import ScaleReading
from schema.models import Device, PrintJob
from schema.wire import Directive, ServerFrame

log = logging.getLogger("actors.device")

RENDER_FAILED = "no se pudo preparar la impresión"


class AgentLink(Protocol):
    """The agent's socket, as the actor needs it: a non-blocking send."""

    def send(self, frame: ServerFrame | str) -> None: ...


# Renders a job's bytes (a receipt waits for its TED); the device's config gives the paper width.
Renderer = Callable[[uuid.UUID, PrintJob, dict[str, Any]], Awaitable[bytes]]
# Hands a scale's reading to the register it is bound to.
ReadingForwarder = Callable[[uuid.UUID, uuid.UUID, ScaleReading], Awaitable[None]]
# Starts hearing the back office's changes to the tenant's devices made on any hub node (they come as
# ``Reload``); returns the call that stops it.
Follow = Callable[[uuid.UUID, uuid.UUID], Awaitable[Callable[[], None]]]


@dataclass(frozen=True, slots=True)
class DeviceDeps:
    db: Database
    bus: Bus
    render: Renderer
    forward_reading: ReadingForwarder
    follow: Follow | None = None
    # Tells every hub node, in the new job's transaction, that it was queued (``hub.devices``).
    job_queued: JobAdded | None = None
    # Scaled: where the status of a device connected here is shared with the other nodes.
    presence: DevicePresence | None = None


def device_address(tenant_id: uuid.UUID, device_id: uuid.UUID) -> str:
    return f"device/{tenant_id}/{device_id}"


@dataclass(frozen=True, slots=True)
class AttachAgent:
    link: AgentLink


@dataclass(frozen=True, slots=True)
class DetachAgent:
    link: AgentLink


@dataclass(frozen=True, slots=True)
class EnqueueJob:
    kind: str
    register_id: uuid.UUID | None
    source_id: uuid.UUID | None
    data: bytes = b""  # empty: rendered by the actor (a receipt, once its document has its TED)
    reprint_of: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    job_id: uuid.UUID
    data: bytes | None  # None: the render failed


@dataclass(frozen=True, slots=True)
class Reload:
    """The device's row changed (binding, settings, revocation)."""


@dataclass(frozen=True, slots=True)
class PickUpJob:
    """A job of this printer was queued on another hub node: load it, unless it is here or settled."""

    job_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class GetDeviceStatus:
    pass


@dataclass(frozen=True, slots=True)
class _Refresh:
    """Time to write the shared status again, before it expires."""


@dataclass(frozen=True, slots=True)
class ScaleCommand:
    name: str  # "tare" | "zero"


@dataclass(slots=True)
class _Status:
    online: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False
    error: bool = False
    detail: str = ""


@dataclass(slots=True)
class _Queue:
    jobs: dict[uuid.UUID, PrintJob] = field(default_factory=dict)  # open jobs, in order
    rendering: set[uuid.UUID] = field(default_factory=set)


class DeviceActor(Actor):
    def __init__(self, tenant_id: uuid.UUID, device_id: uuid.UUID, deps: DeviceDeps) -> None:
        self.tenant_id = tenant_id
        self.device_id = device_id
        self.deps = deps
        self.link: AgentLink | None = None
        self.status = _Status()
        self.queue = _Queue()
        self.readings = 0
        self._unfollow: Callable[[], None] | None = None
        self.refresh_timer: asyncio.TimerHandle | None = None

    async def on_start(self) -> None:
        if self.deps.follow is not None:
            # Follow first, then load: a change committed in between is reloaded once more, never missed.
            # (A crashed incarnation's hold is the same one: the next holds it again, changing nothing.)
            self._unfollow = await self.deps.follow(self.tenant_id, self.device_id)
        await self._load_row()
        await self._share_status()  # no agent yet: what a crashed incarnation here shared is withdrawn
        if self.kind == "printer":
            for job in await open_jobs(self.deps.db, self.tenant_id, self.device_id):
                self.queue.jobs[job.id] = job
                if not job.data:
                    self._render(job)

    async def _load_row(self) -> None:
        async with self.deps.db.tenant(self.tenant_id) as session:
            row = await session.get(Device, (self.tenant_id, self.device_id))
            if row is None:
                raise NotFoundError("device not found", device_id=str(self.device_id))
            self.kind, self.name, self.register_id = row.kind, row.name, row.register_id
            self.config: dict[str, Any] = dict(row.config or {})
            self.revoked = row.revoked_at is not None

    async def on_stop(self) -> None:
        unfollow, self._unfollow = self._unfollow, None
        if unfollow is not None:
            unfollow()
        if self.link is not None:  # the hub stops: this node no longer drives the device
            self.link = None
            await self._share_status()

    async def receive(self, message: object) -> object:
        match message:
            case DeviceWeight() as weight:
                return await self._weight(weight)
            case PrintAck() as ack:
                return await self._ack(ack)
            case DeviceStatusReport() as report:
                return await self._report(report)
            case AttachAgent(link=link):
                if self.revoked:
                    raise PermissionDeniedError("this device was revoked")
                self.link = link
                await self._publish_status()
                await self._dispatch(resend=True)
                return self._view()
            case DetachAgent(link=link):
                if self.link is link:
                    self.link = None
                    self.status.online = False
                    await self._publish_status()
                return None
            case EnqueueJob() as order:
                return await self._enqueue(order)
            case PickUpJob(job_id=job_id):
                await self._pick_up(job_id)
                return None
            case Rendered(job_id=job_id, data=data):
                await self._rendered(job_id, data)
                return None
            case Reload():
                await self._load_row()
                if self.revoked and self.link is not None:
                    self.link = None
                    await self._publish_status()
                return self._view()
            case GetDeviceStatus():
                return self._view()
            case _Refresh():
                if self.link is not None:  # one queued before the agent left changes nothing
                    await self._share_status()
                return None
            case ScaleCommand(name=name):
                return self._scale_command(name)
        raise ValidationError(f"DeviceActor cannot handle {type(message).__name__}")

    # -- scale ---------------------------------------------------------------------------------------

    async def _weight(self, weight: DeviceWeight) -> dict[str, bool]:
        if self.kind != "scale":
            raise ValidationError(f"device {self.name!r} is a {self.kind}, not a scale")
        if self.register_id is None:
            raise ConflictError(f"the scale {self.name!r} is not bound to a register")
        if not self.status.online:
            self.status.online = True
            await self._publish_status()
        self.readings += 1
        reading = ScaleReading(
            register_id=self.register_id,
            grams=weight.grams,
            # An overloaded or under-zero scale shows a number that must never be sold by.
            stable=weight.stable and not weight.overload and not weight.under_zero,
            at_ms=int(time.time() * 1000) - weight.age_ms,
        )
        await self.deps.forward_reading(self.tenant_id, self.register_id, reading)
        return {"ok": True}

    def _scale_command(self, name: str) -> dict[str, bool]:
        if self.kind != "scale":
            raise ValidationError(f"device {self.name!r} is a {self.kind}, not a scale")
        if self.link is None:
            raise ConflictError(f"the scale {self.name!r} is not connected")
        self.link.send(Directive(name=name, payload=ScaleDirective(device_id=self.device_id)))
        return {"ok": True}

    # -- status --------------------------------------------------------------------------------------

    async def _report(self, report: DeviceStatusReport) -> DeviceStatusView:
        new = _Status(
            online=report.online,
            paper_out=report.paper_out,
            paper_near_end=report.paper_near_end,
            cover_open=report.cover_open,
            error=report.error,
            detail=report.detail,
        )
        if new != self.status:
            self.status = new
            await self._publish_status()
        return self._view()

    def _view(self) -> DeviceStatusView:
        s = self.status
        return DeviceStatusView(
            device_id=self.device_id,
            kind=self.kind,
            name=self.name,
            register_id=self.register_id,
            connected=self.link is not None,
            online=s.online and self.link is not None,
            paper_out=s.paper_out,
            paper_near_end=s.paper_near_end,
            cover_open=s.cover_open,
            error=s.error,
            detail=s.detail,
        )

    async def _publish_status(self) -> None:
        await self._share_status()  # first: it never raises, and the bus may
        await self._publish("DeviceStatusChanged", self._view(), self.register_id)

    async def _share_status(self) -> None:
        presence = self.deps.presence
        if presence is None:
            return
        if self.link is None:
            if self.refresh_timer is not None:
                self.refresh_timer.cancel()
                self.refresh_timer = None
            await presence.withdraw(self.tenant_id, self.device_id)
            return
        await presence.share(self.tenant_id, self._view())
        self._arm_refresh()

    def _arm_refresh(self) -> None:
        presence = self.deps.presence
        if self.refresh_timer is None and presence is not None:
            loop = asyncio.get_running_loop()
            self.refresh_timer = loop.call_later(presence.refresh_seconds, self._refresh_due)

    def _refresh_due(self) -> None:
        self.refresh_timer = None
        try:
            self.ref.tell_nowait(_Refresh())
        except MailboxFull:  # busy: the next period writes it (the record outlives a few)
            self._arm_refresh()
        except ActorDeadError:
            pass

    async def _publish(self, event: str, payload: Any, register_id: uuid.UUID | None) -> None:
        bus = self.deps.bus
        if register_id is not None:
            await bus.publish(self.tenant_id, f"register:{register_id}", event, payload)
        await bus.publish(self.tenant_id, "tenant", event, payload)

    # -- print queue ---------------------------------------------------------------------------------

    async def _enqueue(self, order: EnqueueJob) -> PrintJobView:
        if self.kind != "printer":
            raise ValidationError(f"device {self.name!r} is a {self.kind}, not a printer")
        if self.revoked:
            raise ConflictError(f"the printer {self.name!r} was revoked")
        job = await add_job(
            self.deps.db,
            self.tenant_id,
            device_id=self.device_id,
            kind=order.kind,
            data=order.data,
            register_id=order.register_id,
            source_id=order.source_id,
            reprint_of=order.reprint_of,
            added=self.deps.job_queued,
        )
        self.queue.jobs[job.id] = job
        await self._publish("PrintJobChanged", job_view(job), job.register_id)
        if job.data:
            await self._dispatch()
        else:
            self._render(job)
        return job_view(job)

    async def _pick_up(self, job_id: uuid.UUID) -> None:
        if self.kind != "printer" or job_id in self.queue.jobs:
            return  # loaded at start, or told twice (notices come at least once)
        job = await get_job(self.deps.db, self.tenant_id, job_id)
        if job is None or job.device_id != self.device_id or job.state not in OPEN_STATES:
            return  # printed or failed already: never again
        self.queue.jobs[job.id] = job
        if job.data:
            await self._dispatch()
        else:
            self._render(job)

    def _render(self, job: PrintJob) -> None:
        if job.id in self.queue.rendering:
            return
        self.queue.rendering.add(job.id)
        asyncio.get_running_loop().create_task(self._render_task(job), name=f"render-{job.id}")

    async def _render_task(self, job: PrintJob) -> None:
        data: bytes | None
        try:
            data = await self.deps.render(self.tenant_id, job, self.config)
        except Exception:
            log.exception("rendering print job %s (%s) failed", job.id, job.kind)
            data = None
        await self.ref.tell(Rendered(job.id, data))

    async def _rendered(self, job_id: uuid.UUID, data: bytes | None) -> None:
        self.queue.rendering.discard(job_id)
        job = self.queue.jobs.get(job_id)
        if job is None:
            return
        if data is None:
            await self._settle(job, "failed", RENDER_FAILED)
            return
        job.data = data
        await save_job(self.deps.db, self.tenant_id, job)
        await self._dispatch()

    async def _dispatch(self, *, resend: bool = False) -> None:
        """Hand the agent every job it does not have yet (all open ones after it reconnected)."""
        if self.link is None:
            return
        for job in list(self.queue.jobs.values()):
            if not job.data or (job.state != "queued" and not resend):
                continue
            job.attempts += 1
            if job.state == "queued":  # on disk before the agent can answer for it
                job.state = "sent"
                await save_job(self.deps.db, self.tenant_id, job)
                await self._publish("PrintJobChanged", job_view(job), job.register_id)
            if self.link is None:  # the agent left while the row was written: it gets it on return
                return
            self.link.send(
                Directive(
                    name="print",
                    payload=PrintDirective(
                        device_id=self.device_id, job_id=job.id, kind=job.kind, data=job.data
                    ),
                )
            )

    async def _ack(self, ack: PrintAck) -> PrintJobView:
        job = self.queue.jobs.get(ack.job_id)
        if job is None:  # printed or failed already (a repeated ack), or not this printer's
            done = await get_job(self.deps.db, self.tenant_id, ack.job_id)
            if done is None or done.device_id != self.device_id:
                raise NotFoundError("no such print job for this printer", job_id=str(ack.job_id))
            return job_view(done)
        match ack.outcome:
            case "printed":
                job.printed_at = datetime.now(UTC)
                await self._settle(job, "printed", "")
            case "failed":
                await self._settle(job, "failed", ack.reason)
            case "held" if job.state != "held" or job.reason != ack.reason:
                job.state, job.reason = "held", ack.reason
                await save_job(self.deps.db, self.tenant_id, job)
                await self._publish("PrintJobChanged", job_view(job), job.register_id)
        return job_view(job)

    async def _settle(self, job: PrintJob, state: str, reason: str) -> None:
        assert state in FINAL_STATES
        job.state, job.reason = state, reason
        await save_job(self.deps.db, self.tenant_id, job)
        self.queue.jobs.pop(job.id, None)
        await self._publish("PrintJobChanged", job_view(job), job.register_id)
