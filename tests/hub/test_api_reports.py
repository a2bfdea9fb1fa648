"""``GET /api/v1/reports/sales``: days of the tenant's time zone, per day and register, JSON and CSV."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from actors.sales.taxes import tax_breakdown
from schema.models import CashSession, Register, Role, Sale
from tests.hub.conftest import Hub, HubFactory
from tests.support.tenants import TenantFixture, make_tenant

URL = "/api/v1/reports/sales"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    # Synchronous on purpose: pg_url sets up its server with asyncio.run(), outside any running loop.
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def report_hub(backend_url: str | None, hub_factory: HubFactory) -> Hub:
    built: Hub = await hub_factory(database_url=backend_url)
    return built


async def add_sale(
    hub: Hub,
    tenant: TenantFixture,
    when: datetime,
    total: int,
    cost: int,
    *,
    kind: str = "sale",
    tax_class: str = "cl_iva",
    register_id: uuid.UUID | None = None,
) -> None:
    """A sale (or a credit note, negated as returns.py stores it) at a moment: only what reports read."""
    sign = -1 if kind == "return" else 1
    taxes = [
        {"tax_class": t.tax_class, "rate_percent": t.rate_percent, "gross": sign * t.gross,
         "net": sign * t.net, "tax": sign * t.tax}
        for t in tax_breakdown([(tax_class, total)])
    ]  # fmt: skip
    async with hub.db.tenant(tenant.tenant_id) as session:
        cash = (await session.execute(select(CashSession.id).limit(1))).scalar_one()
        top = (await session.execute(select(Sale.number).order_by(Sale.number.desc()).limit(1))).scalar()
        session.add(
            Sale(number=(top or 0) + 1, kind=kind, register_id=register_id or tenant.register_id,
                 store_id=tenant.store_id, cash_session_id=cash, command_id=uuid.uuid4().hex, doc_type=39,
                 total=sign * total, to_pay=sign * total, cost=sign * cost, taxes=taxes,
                 created_at=when.astimezone(UTC))
        )  # fmt: skip


def local(tz: str, day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=ZoneInfo(tz))


MARCH_10, MARCH_11 = date(2025, 3, 10), date(2025, 3, 11)  # Santiago is UTC-3 in March


async def test_days_follow_the_tenants_time_zone_and_add_up(report_hub: Hub) -> None:
    hub, a = report_hub, report_hub.a
    async with hub.db.tenant(a.tenant_id) as session:
        second = Register(store_id=a.store_id, code="002", name="Caja 2")
        session.add(second)
    santiago = "America/Santiago"
    await add_sale(hub, a, local(santiago, MARCH_10, 9), 11_900, 6_000)
    # 23:59:59 on the 10th in Santiago is 02:59:59 UTC on the 11th: still the 10th here.
    await add_sale(hub, a, local(santiago, MARCH_10, 23, 59, 59), 2_380, 1_000, register_id=second.id)
    await add_sale(hub, a, local(santiago, MARCH_11, 0), 1_190, 500)  # the 11th's first second
    await add_sale(hub, a, local(santiago, MARCH_11, 12), 1_190, 600, kind="return")
    await add_sale(hub, a, local(santiago, date(2025, 3, 9), 23, 59), 99_999, 1)  # before the range
    await add_sale(hub, hub.b, local(santiago, MARCH_10, 10), 55_000, 1)  # another tenant's
    response = await hub.client.get(
        URL, params={"from": "2025-03-10", "to": "2025-03-11"}, headers=hub.owner(a)
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["from"], report["to"], report["timezone"], report["currency"]) == (
        "2025-03-10",
        "2025-03-11",
        santiago,
        "CLP",
    )
    ten, eleven = report["days"]
    # IVA 19 % included: 11,900 -> net 10,000; 2,380 -> 2,000; 1,190 -> 1,000.
    assert (ten["date"], ten["count"], ten["returns"], ten["total"]) == ("2025-03-10", 2, 0, 14_280)
    assert (ten["net"], ten["tax"], ten["cost"], ten["margin"]) == (12_000, 2_280, 7_000, 5_000)
    assert (eleven["count"], eleven["returns"], eleven["total"], eleven["net"]) == (1, 1, 0, 0)
    assert (eleven["cost"], eleven["margin"]) == (-100, 100)
    assert report["totals"] == {
        "count": 3, "returns": 1, "total": 14_280, "net": 12_000, "tax": 2_280, "cost": 6_900, "margin": 5_100
    }  # fmt: skip
    registers = {r["register"]: (r["count"], r["total"]) for r in report["registers"]}
    assert registers == {"Caja 1": (2, 11_900), "Caja 2": (1, 2_380)}
    cells = [(c["date"], c["register"], c["total"]) for c in report["day_registers"]]
    assert cells == [
        ("2025-03-10", "Caja 1", 11_900),
        ("2025-03-10", "Caja 2", 2_380),
        ("2025-03-11", "Caja 1", 0),
    ]
    # A day with nothing sold is in the list too.
    wider = await hub.client.get(URL, params={"from": "2025-03-08", "to": "2025-03-12"}, headers=hub.owner(a))
    assert [d["total"] for d in wider.json()["days"]] == [0, 99_999, 14_280, 0, 0]


def rows_of(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())  # Excel needs the BOM to read UTF-8
    text = body.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


async def test_csv_for_excel_with_spanish_headers_in_pesos_and_dollars(hub: Hub) -> None:
    a = hub.a
    await add_sale(hub, a, local("America/Santiago", MARCH_10, 11), 11_900, 6_000)
    params = {"from": "2025-03-10", "to": "2025-03-11", "format": "csv"}
    response = await hub.client.get(URL, params=params, headers=hub.owner(a))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="ventas-2025-03-10-2025-03-11.csv"' in response.headers["content-disposition"]
    rows = rows_of(response.content)
    assert rows[0] == ["Fecha", "Ventas", "Notas de crédito", "Total", "Neto", "Impuesto", "Costo", "Margen"]
    assert rows[1:] == [
        ["2025-03-10", "1", "0", "11900", "10000", "1900", "6000", "4000"],
        ["2025-03-11", "0", "0", "0", "0", "0", "0", "0"],
    ]
    by_register = await hub.client.get(URL, params=params | {"by": "register"}, headers=hub.owner(a))
    assert rows_of(by_register.content) == [
        [
            "Fecha",
            "Local",
            "Caja",
            "Ventas",
            "Notas de crédito",
            "Total",
            "Neto",
            "Impuesto",
            "Costo",
            "Margen",
        ],
        ["2025-03-10", "Casa matriz", "Caja 1", "1", "0", "11900", "10000", "1900", "6000", "4000"],
    ]
    # Ecuador sells in dollars: cents after a comma (IVA 15 %: 12.50 -> net 10.87, tax 1.63).
    quito = await make_tenant(hub.db, country="EC")
    await add_sale(hub, quito, local("America/Guayaquil", MARCH_10, 20), 1_250, 700, tax_class="ec_iva15")
    response = await hub.client.get(URL, params=params, headers=hub.owner(quito))
    assert rows_of(response.content)[1] == ["2025-03-10", "1", "0", "12,50", "10,87", "1,63", "7,00", "3,87"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-02-30", "to": "2025-03-01"},  # no such day
        {"from": "10-03-2025", "to": "2025-03-11"},
        {"from": "2025-03-10", "to": "20250311"},
        {"from": "2025-03-11", "to": "2025-03-10"},  # backwards
        {"from": "2024-01-01", "to": "2025-03-10"},  # more than 366 days
        {"from": "2025-03-10"},  # no end
        {"from": "2025-03-10", "to": "2025-03-11", "format": "xml"},
        {"from": "2025-03-10", "to": "2025-03-11", "by": "hour"},
    ],
)
async def test_bad_dates_and_options_are_refused(hub: Hub, params: dict[str, str]) -> None:
    response = await hub.client.get(URL, params=params, headers=hub.owner(hub.a))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid"


async def test_managers_may_read_it_cashiers_may_not(hub: Hub) -> None:
    params = {"from": "2025-03-10", "to": "2025-03-10"}
    for role, status in ((Role.MANAGER, 200), (Role.CASHIER, 403), (Role.KITCHEN, 403)):
        response = await hub.client.get(URL, params=params, headers=await hub.auth(hub.a, role))
        assert response.status_code == status, (role, response.text)
    assert (await hub.client.get(URL, params=params)).status_code == 401
