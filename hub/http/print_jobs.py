"""``/api/v1/print-jobs``: each printer's queue as the back office sees it, and reprints.

A job's bytes stay on the hub (``GET …/{id}/escpos`` returns them, for support); a reprint is a new job on
the same printer with the same source, so the original's history is kept.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from sqlalchemy import select

from actors.device import EnqueueJob
from actors.print_jobs import job_view
from hub.http.common import Limit, Offset, PrincipalDep, ServicesDep, store_scoped, tenant_session
from schema.errors import ConflictError, NotFoundError
from schema.messages.devices import PrintJobView
from schema.models import Device, PrintJob, Role

JobState = Literal["queued", "sent", "held", "printed", "failed"]


class PrintJobController(Controller):
    path = "/print-jobs"
    tags = ["devices"]

    @get("/")
    async def list_jobs(
        self,
        principal: PrincipalDep,
        services: ServicesDep,
        device_id: FromQuery[uuid.UUID | None] = None,
        job_state: Annotated[JobState | None, QueryParameter(name="state")] = None,  # "state" is reserved
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[PrintJobView]:
        principal.require(Role.MANAGER)
        query = select(PrintJob).join(
            Device, (Device.tenant_id == PrintJob.tenant_id) & (Device.id == PrintJob.device_id)
        )
        query = store_scoped(query, Device, principal, None)
        if device_id is not None:
            query = query.where(PrintJob.device_id == device_id)
        if job_state is not None:
            query = query.where(PrintJob.state == job_state)
        query = query.order_by(PrintJob.created_at.desc(), PrintJob.id).limit(limit).offset(offset)
        async with tenant_session(services, principal) as session:
            return [job_view(j) for j in (await session.execute(query)).scalars()]

    @get("/{job_id:uuid}/escpos", media_type="application/octet-stream")
    async def job_bytes(
        self, job_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> Response[bytes]:
        job, _ = await _job(services, principal, job_id)
        return Response(job.data, media_type="application/octet-stream")

    @post("/{job_id:uuid}/reprint", summary="Print a job again on its printer (a new job)")
    async def reprint(
        self, job_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> PrintJobView:
        job, device = await _job(services, principal, job_id)
        if device.revoked_at is not None:
            raise ConflictError("the printer was revoked")
        if not job.data:
            raise ConflictError("the job was never rendered; nothing to print again")
        order = EnqueueJob(
            kind=job.kind,
            register_id=job.register_id,
            source_id=job.source_id,
            data=job.data,
            reprint_of=job.reprint_of or job.id,
        )
        view: PrintJobView = await services.devices.ref(principal.tenant_id, device.id).ask(
            order, timeout=services.settings.ask_timeout_seconds
        )
        return view


async def _job(services: ServicesDep, principal: PrincipalDep, job_id: uuid.UUID) -> tuple[PrintJob, Device]:
    principal.require(Role.MANAGER)
    async with tenant_session(services, principal) as session:
        job = await session.get(PrintJob, (principal.tenant_id, job_id))
        device = None if job is None else await session.get(Device, (principal.tenant_id, job.device_id))
        if job is None or device is None or not principal.can_access_store(device.store_id):
            raise NotFoundError("print job not found")
        return job, device


ROUTES = [PrintJobController]
