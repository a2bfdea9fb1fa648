"""The print queue's rows: what a printer's DeviceActor reads and writes in ``print_jobs``.

Every state change is its own short transaction, so what the agent has acknowledged is on disk before the
till is told. A job's state only moves forward (printed and failed are final), so a repeated or late
acknowledgement changes nothing: ``save_job`` never moves a printed or failed row back (another node's
DeviceActor may hold an older copy of a job this node's printed, ``hub.devices``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from schema.messages.devices import PrintJobView
from schema.models import PrintJob

OPEN_STATES = ("queued", "sent", "held")
FINAL_STATES = ("printed", "failed")

# Written in the new job's own transaction (the notice that another hub node's actor picks it up).
JobAdded = Callable[[AsyncSession, PrintJob], None]


def job_view(job: PrintJob) -> PrintJobView:
    return PrintJobView(
        job_id=job.id,
        device_id=job.device_id,
        register_id=job.register_id,
        kind=job.kind,
        state=job.state,  # type: ignore[arg-type]  # the CHECK constraint keeps it to the five states
        reason=job.reason,
        source_id=job.source_id,
        attempts=job.attempts,
        created_at=_iso(job.created_at) or "",
        printed_at=_iso(job.printed_at),
    )


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


async def open_jobs(db: Database, tenant_id: uuid.UUID, device_id: uuid.UUID) -> list[PrintJob]:
    async with db.tenant(tenant_id) as session:
        rows = await session.execute(
            select(PrintJob)
            .where(PrintJob.device_id == device_id, PrintJob.state.in_(OPEN_STATES))
            .order_by(PrintJob.created_at, PrintJob.id)
        )
        jobs = list(rows.scalars())
        session.expunge_all()
    return jobs


async def add_job(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    device_id: uuid.UUID,
    kind: str,
    data: bytes,
    register_id: uuid.UUID | None,
    source_id: uuid.UUID | None,
    reprint_of: uuid.UUID | None = None,
    added: JobAdded | None = None,
) -> PrintJob:
    now = datetime.now(UTC)
    job = PrintJob(
        tenant_id=tenant_id,
        id=uuid.uuid4(),
        device_id=device_id,
        register_id=register_id,
        kind=kind,
        source_id=source_id,
        data=data,
        state="queued",
        reason="",
        attempts=0,
        reprint_of=reprint_of,
        created_at=now,
        updated_at=now,
    )
    async with db.tenant(tenant_id) as session:
        session.add(job)
        await session.flush()
        if added is not None:
            added(session, job)
        session.expunge(job)
    return job


async def save_job(db: Database, tenant_id: uuid.UUID, job: PrintJob) -> None:
    """Write the job's state, reason, attempts, data and printed time (the actor's copy is the truth)."""
    async with db.tenant(tenant_id) as session:
        row = await session.get(PrintJob, (tenant_id, job.id))
        if row is None:  # its printer was deleted meanwhile
            return
        if row.state in FINAL_STATES:  # settled already (by the actor of another node): stays as it is
            return
        row.state, row.reason, row.attempts = job.state, job.reason, job.attempts
        row.data, row.printed_at = job.data, job.printed_at
        row.updated_at = job.updated_at = datetime.now(UTC)


async def get_job(db: Database, tenant_id: uuid.UUID, job_id: uuid.UUID) -> PrintJob | None:
    async with db.tenant(tenant_id) as session:
        job = await session.get(PrintJob, (tenant_id, job_id))
        if job is not None:
            session.expunge(job)
        return job


async def jobs_of_source(db: Database, tenant_id: uuid.UUID, source_id: uuid.UUID) -> Sequence[PrintJob]:
    async with db.tenant(tenant_id) as session:
        rows = await session.execute(
            select(PrintJob).where(PrintJob.source_id == source_id).order_by(PrintJob.created_at)
        )
        jobs = list(rows.scalars())
        session.expunge_all()
    return jobs
