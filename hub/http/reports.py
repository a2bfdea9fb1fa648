"""``GET /api/v1/reports/sales``: sales per day and per register over a range of dates, as JSON or CSV.

``from`` and ``to`` (``YYYY-MM-DD``, both included, at most 366 days) are days of the tenant's time zone
(``Tenant.timezone``): a sale at 23:30 in Santiago belongs to that day, although it is already the next one
in UTC. Managers and owners; a manager bound to a store gets that store's registers only.

Figures (money in minor units in JSON): ``count`` sales, ``returns`` credit notes, ``total`` tax included
and net of credit notes (they are stored negated), ``net`` = total - tax, ``tax`` as the documents state
it, ``cost`` of goods at the weighted-average cost (PPP), ``margin`` = net - cost.

CSV (``format=csv``) is made for Excel as Chile and Ecuador set it up: UTF-8 with a byte-order mark (without
it Excel reads Windows-1252 and garbles "Ñuñoa"), ``;`` between fields (Spanish-locale Excel's list
separator, because the comma is its decimal mark), CRLF line ends, Spanish headers, amounts in currency
units with a comma decimal mark and no thousands separator (CLP ``12345``, USD ``123,45``). ``by=day``
(default): one row per day of the range; ``by=register``: one row per day and register that sold.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Literal, TypeVar

import msgspec
from litestar import Controller, Response, get
from litestar.params import QueryParameter
from sqlalchemy import func, select

from actors.dashboard_load import bucket, sale_tax, tenant_zone
from actors.dashboard_totals import day_bounds
from hub.http.common import Out, PrincipalDep, ServicesDep, current_tenant, tenant_session
from schema.errors import ValidationError
from schema.models import Register, Role, Sale, Store

MAX_DAYS = 366
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DECIMALS = {"CLP": 0, "USD": 2}
CSV_HEADERS = {
    "day": ["Fecha", "Ventas", "Notas de crédito", "Total", "Neto", "Impuesto", "Costo", "Margen"],
    "register": ["Fecha", "Local", "Caja", "Ventas", "Notas de crédito", "Total", "Neto", "Impuesto", "Costo",
                 "Margen"],
}  # fmt: skip
DateParam = Annotated[str, QueryParameter(min_length=1, max_length=10)]


class Figures(Out, frozen=True):
    count: int
    returns: int
    total: int
    net: int
    tax: int
    cost: int
    margin: int


R = TypeVar("R", bound=Figures)


class DayOut(Figures, frozen=True):
    date: str


class RegisterOut(Figures, frozen=True):
    register_id: uuid.UUID
    register: str
    store: str


class DayRegisterOut(Figures, frozen=True):
    date: str
    register_id: uuid.UUID
    register: str
    store: str


class SalesReportOut(Out, frozen=True):
    from_: str = msgspec.field(name="from")
    to: str
    timezone: str
    currency: str
    totals: Figures
    days: list[DayOut]  # every day of the range, quiet ones too
    registers: list[RegisterOut]  # over the whole range, registers that sold
    day_registers: list[DayRegisterOut]  # per day and register, where something was sold


@dataclass(slots=True)
class _Sum:
    count: int = 0
    returns: int = 0
    total: int = 0
    tax: int = 0
    cost: int = 0

    def add(self, kind: str, n: int, total: int, tax: int, cost: int) -> None:
        if kind == "sale":
            self.count += n
        else:
            self.returns += n
        self.total, self.tax, self.cost = self.total + total, self.tax + tax, self.cost + cost

    def figures(self) -> dict[str, int]:
        net = self.total - self.tax
        return {"count": self.count, "returns": self.returns, "total": self.total, "net": net,
                "tax": self.tax, "cost": self.cost, "margin": net - self.cost}  # fmt: skip


@dataclass(slots=True)
class _Report:
    days: dict[int, _Sum] = field(default_factory=dict)
    registers: dict[uuid.UUID, _Sum] = field(default_factory=dict)
    cells: dict[tuple[int, uuid.UUID], _Sum] = field(default_factory=dict)
    totals: _Sum = field(default_factory=_Sum)


def parse_day(value: str, name: str) -> date:
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name} must be a date YYYY-MM-DD", parameter=name, value=value) from None


def money(minor: int, currency: str) -> str:
    """Minor units as Spanish-locale Excel reads them: no thousands separator, a comma before the cents."""
    decimals = _DECIMALS.get(currency, 2)
    if not decimals:
        return str(minor)
    whole, part = divmod(abs(minor), 10**decimals)
    return f"{'-' if minor < 0 else ''}{whole},{part:0{decimals}d}"


class ReportsController(Controller):
    path = "/reports"
    tags = ["reports"]

    @get("/sales", summary="Sales per day and register over a range of the tenant's days; JSON or CSV")
    async def sales(
        self,
        principal: PrincipalDep,
        services: ServicesDep,
        from_: Annotated[str, QueryParameter(name="from", min_length=1, max_length=10)],
        to: DateParam,
        format: Annotated[Literal["json", "csv"], QueryParameter()] = "json",
        by: Annotated[Literal["day", "register"], QueryParameter()] = "day",
    ) -> Response[bytes] | SalesReportOut:
        principal.require(Role.MANAGER)
        first, last = parse_day(from_, "from"), parse_day(to, "to")
        if last < first:
            raise ValidationError("to is before from", **{"from": from_, "to": to})
        days = (last - first).days + 1
        if days > MAX_DAYS:
            raise ValidationError(f"at most {MAX_DAYS} days at a time", days=days)
        async with tenant_session(services, principal) as session:
            tenant = await current_tenant(session, principal)
            tz = tenant_zone(tenant)
            starts = [(day_bounds(first + timedelta(days=n), tz)[0], n) for n in range(days)]
            end = day_bounds(last, tz)[1]
            tax = sale_tax(services.db.engine.dialect.name)
            query = select(
                Sale.register_id, Sale.kind, Sale.total, Sale.cost, tax.label("tax"),
                bucket(Sale.created_at, starts).label("day"),
            ).where(Sale.created_at >= starts[0][0], Sale.created_at < end)  # fmt: skip
            if principal.store_id is not None:
                query = query.where(Sale.store_id == principal.store_id)
            inner = query.subquery()
            rows = await session.execute(
                select(
                    inner.c.day, inner.c.register_id, inner.c.kind, func.count(), func.sum(inner.c.total),
                    func.sum(inner.c.tax), func.sum(inner.c.cost),
                ).group_by(inner.c.day, inner.c.register_id, inner.c.kind)
            )  # fmt: skip
            report = _Report()
            for day, register_id, kind, n, total, tax, cost in rows:
                figures = (kind, int(n), int(total), int(tax), int(cost))
                report.days.setdefault(int(day), _Sum()).add(*figures)
                report.registers.setdefault(register_id, _Sum()).add(*figures)
                report.cells.setdefault((int(day), register_id), _Sum()).add(*figures)
                report.totals.add(*figures)
            names = {
                rid: (name, store)
                for rid, name, store in await session.execute(
                    select(Register.id, Register.name, Store.name).join(
                        Store, (Store.id == Register.store_id) & (Store.tenant_id == Register.tenant_id)
                    )
                )
            }
        out = _out(report, first, days, names, from_, to, tenant.timezone, tenant.currency)
        if format == "json":
            return out
        return _csv(out, by, f"ventas-{from_}-{to}.csv")


def _out(
    report: _Report,
    first: date,
    days: int,
    names: dict[uuid.UUID, tuple[str, str]],
    from_: str,
    to: str,
    timezone: str,
    currency: str,
) -> SalesReportOut:
    def day_of(n: int) -> str:
        return (first + timedelta(days=n)).isoformat()

    def row(kind: type[R], rid: uuid.UUID | None, day: int | None, figures: _Sum) -> R:
        fields: dict[str, object] = {**figures.figures()}
        if rid is not None:
            name, store = names.get(rid, ("", ""))
            fields.update(register_id=str(rid), register=name, store=store)
        if day is not None:
            fields["date"] = day_of(day)
        return msgspec.convert(fields, kind)

    registers = [row(RegisterOut, rid, None, s) for rid, s in report.registers.items()]
    cells = [row(DayRegisterOut, rid, n, s) for (n, rid), s in report.cells.items()]
    return SalesReportOut(
        from_=from_, to=to, timezone=timezone, currency=currency,
        totals=row(Figures, None, None, report.totals),
        days=[row(DayOut, None, n, report.days.get(n, _Sum())) for n in range(days)],
        registers=sorted(registers, key=lambda r: (r.store, r.register, str(r.register_id))),
        day_registers=sorted(cells, key=lambda r: (r.date, r.store, r.register, str(r.register_id))),
    )  # fmt: skip


def _csv(out: SalesReportOut, by: str, filename: str) -> Response[bytes]:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADERS[by])

    def amounts(f: Figures) -> list[str]:
        return [str(f.count), str(f.returns)] + [
            money(v, out.currency) for v in (f.total, f.net, f.tax, f.cost, f.margin)
        ]

    if by == "day":
        writer.writerows([d.date, *amounts(d)] for d in out.days)
    else:
        writer.writerows([r.date, r.store, r.register, *amounts(r)] for r in out.day_registers)
    return Response(
        ("\ufeff" + text.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


ROUTES = [ReportsController]
