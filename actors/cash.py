"""Cash sessions: open with a float, cash in and out, a blind closing count and its Z-report.

What the drawer should hold is computed from the database (the session's sales and movements), never from
what the till remembers: a restarted hub closes the day with the same figures.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.events.outbox import emit
from schema.errors import ConflictError, NotFoundError
from schema.ids import utc_iso
from schema.messages.till import CashSessionView, ZLine, ZReport
from schema.models import CashMovement, CashSession, Sale, SaleTender


class NoCashSessionError(ConflictError):
    """The register has no open cash session: open one with a float first."""

    code = "no_cash_session"


class CashSessionOpenError(ConflictError):
    """The register already has an open cash session."""

    code = "cash_session_open"


async def open_session(
    db: Database, tenant_id: uuid.UUID, register_id: uuid.UUID, float_amount: int, user_id: uuid.UUID | None
) -> CashSessionView:
    try:
        async with db.tenant(tenant_id) as session:
            row = CashSession(register_id=register_id, float_amount=float_amount, opened_by=user_id)
            session.add(row)
            await session.flush()
            view = await _view(session, row)
            emit(session, "tenant", "CashSessionOpened", view)
    except IntegrityError:
        raise CashSessionOpenError("this register already has an open cash session") from None
    return view


async def current_session(db: Database, tenant_id: uuid.UUID, register_id: uuid.UUID) -> uuid.UUID | None:
    async with db.tenant(tenant_id) as session:
        return await _open_id(session, register_id)


async def move_cash(
    db: Database,
    tenant_id: uuid.UUID,
    register_id: uuid.UUID,
    direction: str,
    amount: int,
    reason: str,
    user_id: uuid.UUID | None,
) -> CashSessionView:
    async with db.tenant(tenant_id) as session:
        row = await _open_row(session, register_id)
        session.add(
            CashMovement(
                session_id=row.id, direction=direction, amount=amount, reason=reason, user_id=user_id
            )
        )
        await session.flush()
        return await _view(session, row)


async def close_session(
    db: Database,
    tenant_id: uuid.UUID,
    register_id: uuid.UUID,
    counted: dict[str, int],
    user_id: uuid.UUID | None,
) -> ZReport:
    async with db.tenant(tenant_id) as session:
        row = await _open_row(session, register_id)
        view = await _view(session, row)
        now = datetime.now(UTC)
        row.closed_at, row.closed_by = now, user_id
        row.expected = dict(view.expected)
        row.counted = {kind: int(counted.get(kind, 0)) for kind in ("cash", "card")}
        report = await _z_report(session, row)
        emit(session, "tenant", "CashSessionClosed", report)
    return report


async def z_report_of(db: Database, tenant_id: uuid.UUID, session_id: uuid.UUID) -> ZReport:
    """The Z-report of a closed cash session, as it was when it closed (to print it again)."""
    async with db.tenant(tenant_id) as session:
        row = await session.get(CashSession, (tenant_id, session_id))
        if row is None or row.closed_at is None:
            raise NotFoundError("no closed cash session with that id", session_id=str(session_id))
        return await _z_report(session, row)


async def _z_report(session: AsyncSession, row: CashSession) -> ZReport:
    sales_count, sales_total, tips = (
        await session.execute(
            select(
                func.count(), func.coalesce(func.sum(Sale.to_pay), 0), func.coalesce(func.sum(Sale.tip), 0)
            ).where(Sale.cash_session_id == row.id)
        )
    ).one()
    assert row.closed_at is not None
    expected, counted = dict(row.expected or {}), dict(row.counted or {})
    return ZReport(
        session_id=row.id,
        register_id=row.register_id,
        opened_at=utc_iso(row.opened_at),
        closed_at=utc_iso(row.closed_at),
        sales_count=int(sales_count),
        sales_total=int(sales_total),
        tips=int(tips),
        lines=[
            ZLine(
                tender=kind,
                expected=int(expected.get(kind, 0)),
                counted=int(counted.get(kind, 0)),
                difference=int(counted.get(kind, 0)) - int(expected.get(kind, 0)),
            )
            for kind in ("cash", "card")
        ],
    )


async def _open_id(session: AsyncSession, register_id: uuid.UUID) -> uuid.UUID | None:
    query = select(CashSession.id).where(
        CashSession.register_id == register_id, CashSession.closed_at.is_(None)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _open_row(session: AsyncSession, register_id: uuid.UUID) -> CashSession:
    row = (
        await session.execute(
            select(CashSession)
            .where(CashSession.register_id == register_id, CashSession.closed_at.is_(None))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NoCashSessionError("no open cash session on this register")
    return row


async def _view(session: AsyncSession, row: CashSession) -> CashSessionView:
    tenders = await session.execute(
        select(SaleTender.kind, func.coalesce(func.sum(SaleTender.amount), 0))
        .join(Sale, (Sale.id == SaleTender.sale_id) & (Sale.tenant_id == SaleTender.tenant_id))
        .where(Sale.cash_session_id == row.id)
        .group_by(SaleTender.kind)
    )
    by_kind: dict[str, int] = {kind: int(total) for kind, total in tenders.all()}
    movements = await session.execute(
        select(CashMovement.direction, func.coalesce(func.sum(CashMovement.amount), 0))
        .where(CashMovement.session_id == row.id)
        .group_by(CashMovement.direction)
    )
    moves: dict[str, int] = {direction: int(total) for direction, total in movements.all()}
    cash_in, cash_out = int(moves.get("in", 0)), int(moves.get("out", 0))
    return CashSessionView(
        session_id=row.id,
        register_id=row.register_id,
        opened_at=utc_iso(row.opened_at),
        float_amount=row.float_amount,
        cash_in=cash_in,
        cash_out=cash_out,
        expected={
            "cash": row.float_amount + int(by_kind.get("cash", 0)) + cash_in - cash_out,
            "card": int(by_kind.get("card", 0)),
        },
    )
