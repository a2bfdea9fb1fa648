"""The owner's live dashboard over real sockets, on SQLite and Postgres: the snapshot, live changes, who may
see it, tenant isolation, a random day of sales, credit notes and restarts checked against SQL, and the
kitchen's ticket times following orders and bumps."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from actors.dashboard import dashboard_address
from actors.register import register_address
from actors.sales.taxes import net_of_tax, tax_rate
from schema.models import FiscalDocument, KitchenTicket, Product, Register, Sale, SaleLine
from schema.money import round_half_up
from tests.hub.gateway.conftest import Client, TenantWorld, World, connect
from tests.hub.gateway.test_kitchen import item, open_client, order, set_kitchen
from tests.hub.gateway.test_till import WEIGHED_SKU, ok, open_till, refused, stock_shop

SANTIAGO = ZoneInfo("America/Santiago")


async def socket_of(world: World, tenant: TenantWorld, role: str) -> Client:
    client = Client(await connect(world, tenant.tokens[role]))
    world.sockets.append(client.socket)
    welcome = await client.recv()
    assert welcome["type"] == "welcome", welcome
    return client


async def subscribe_after(client: Client, view: dict[str, Any]) -> None:
    """Follow the tenant stream from the snapshot's position, as a client resuming from it does."""
    answer = await client.call(
        "subscribe", {"stream": "tenant", "since": view["seq"], "epoch": view["epoch"]}
    )
    assert answer["type"] == "subscribed", answer


async def change_where(client: Client, check: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The next DashboardChanged on this socket whose payload passes ``check``."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await client.recv()
            if (
                frame.get("type") == "event"
                and frame["event"] == "DashboardChanged"
                and check(frame["payload"])
            ):
                payload: dict[str, Any] = frame["payload"]
                return payload


def newer_than(view: dict[str, Any], frame: dict[str, Any]) -> bool:
    return (
        frame.get("event") == "DashboardChanged"
        and frame["epoch"] == view["epoch"]
        and frame["seq"] > view["seq"]
    )


async def settled(owner: Client, documents: int, timeout: float = 20.0) -> dict[str, Any]:
    """The snapshot once it counts ``documents`` (events may still be on their way when we ask).

    A DashboardChanged newer than the snapshot (its seq is higher) may overtake the reply: then ask
    again at once; otherwise wait for the next one.
    """
    async with asyncio.timeout(timeout):
        while True:
            owner.frames.clear()
            view: dict[str, Any] = ok(await owner.call("dashboard.get"))
            if view["totals"]["count"] + view["totals"]["returns"] == documents:
                return view
            if not any(newer_than(view, frame) for frame in owner.frames):
                await change_where(owner, lambda _: True, timeout)


async def sell(till: Client, register: str, items: list[tuple[str, int]], tender: str) -> dict[str, Any]:
    """Scan (barcode, units) or weigh (the weighed SKU, grams), then pay: the receipt."""
    for code, amount in items:
        if code == WEIGHED_SKU:
            ok(await till.call("scale.reading", {"register_id": register, "grams": amount, "stable": True}))
            ok(await till.call("cart.add", {"register_id": register, "code": code}))
        else:
            ok(
                await till.call(
                    "cart.add", {"register_id": register, "code": code, "quantity": amount * 1000}
                )
            )
    total = ok(await till.call("cart.get", {"register_id": register}))["total"]
    tenders = [{"kind": tender, "amount": total + (9 if tender == "cash" else 0)}]
    receipt: dict[str, Any] = ok(await till.call("checkout", {"register_id": register, "tenders": tenders}))
    return receipt


async def test_the_owner_sees_a_snapshot_and_every_change_live(world: World) -> None:
    await stock_shop(world)
    a = world.a
    async with world.db.tenant(a.tenant_id) as session:  # two cartons sold take it under its minimum
        await session.execute(update(Product).where(Product.id == a.product_id).values(min_stock=9_000))
    owner = await open_till(world, "owner")
    view = ok(await owner.call("dashboard.get"))
    assert (view["currency"], view["timezone"], view["totals"]["count"]) == ("CLP", "America/Santiago", 0)
    assert [r["name"] for r in view["registers"]] == ["Caja 1"]
    assert [(d["name"], d["kind"], d["connected"]) for d in view["devices"]] == [("Balanza", "scale", False)]
    assert len(view["hours"]["today"]) == 24 and view["low_stock"] == [] and view["cash_sessions"] == []
    await subscribe_after(owner, view)

    register = str(a.register_id)
    till = await open_till(world)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 20_000}))
    change = await change_where(owner, lambda c: "cash_sessions" in c)
    assert [(c["register"], c["float_amount"]) for c in change["cash_sessions"]] == [("Caja 1", 20_000)]

    receipt = await sell(till, register, [(a.barcode, 2)], "card")
    change = await change_where(owner, lambda c: c.get("totals", {}).get("count") == 1)
    totals = change["totals"]
    assert totals["total"] == receipt["total"] == 2180 and totals["average"] == 2180
    assert (totals["net"], totals["tax"], totals["cost"]) == (1832, 348, 1200)  # cost: 2 x 600 at PPP
    assert totals["margin"] == 1832 - 1200
    assert [(r["name"], r["total"], r["count"]) for r in change["registers"]] == [("Caja 1", 2180, 1)]
    [milk] = change["top_products"]
    assert (milk["name"], milk["quantity"], milk["total"], milk["margin"]) == (
        "Leche entera 1 L",
        2000,
        2180,
        632,
    )
    hour = datetime.fromisoformat(receipt["created_at"]).astimezone(SANTIAGO).hour
    assert change["hours"]["today"][hour] == 2180
    assert change["fiscal"]["counts"] == {"pending": 1}
    assert "devices" not in change and "cash_sessions" not in change  # only what changed travels
    low = change["low_stock"]
    assert [(i["name"], i["quantity"], i["min_stock"]) for i in low] == [("Leche entera 1 L", 8_000, 9_000)]

    # The in-store agent connects the scale: the dashboard shows it connected.
    agent = await socket_of(world, a, "device")
    ok(await agent.call("agent.hello", {"devices": [{"device_id": str(a.device_id), "kind": "scale"}]}))
    change = await change_where(owner, lambda c: "devices" in c)
    assert [(d["name"], d["connected"]) for d in change["devices"]] == [("Balanza", True)]

    again = ok(await owner.call("dashboard.get"))
    assert again["totals"]["total"] == 2180 and again["devices"][0]["connected"] is True
    assert again["seq"] > view["seq"] and again["epoch"] == view["epoch"]


async def test_cashiers_kitchen_staff_and_devices_are_refused(world: World) -> None:
    for role in ("cashier", "kitchen"):
        refused(await (await open_till(world, role)).call("dashboard.get"), "forbidden")
    refused(await (await socket_of(world, world.a, "device")).call("dashboard.get"), "forbidden")
    assert ok(await (await open_till(world, "manager")).call("dashboard.get"))["totals"]["count"] == 0


async def test_another_tenants_sales_never_appear(world: World) -> None:
    await stock_shop(world)
    a_owner = await open_till(world, "owner")
    await subscribe_after(a_owner, ok(await a_owner.call("dashboard.get")))
    b_till, b_owner = await socket_of(world, world.b, "cashier"), await socket_of(world, world.b, "owner")
    b_register = str(world.b.register_id)
    ok(await b_till.call("cash.open", {"register_id": b_register, "float_amount": 0}))
    await sell(b_till, b_register, [(world.b.barcode, 3)], "card")
    view_b = await settled(b_owner, 1)
    assert view_b["totals"]["total"] == 3270
    assert {r["register_id"] for r in view_b["registers"]} == {b_register}

    # A sells after B did; once A's dashboard shows A's sale, B's would have been there before it.
    a_till = await open_till(world)
    a_register = str(world.a.register_id)
    ok(await a_till.call("cash.open", {"register_id": a_register, "float_amount": 0}))
    await sell(a_till, a_register, [(world.a.barcode, 1)], "card")
    view_a = await settled(a_owner, 1)
    assert (view_a["totals"]["count"], view_a["totals"]["total"]) == (1, 1090)
    assert {r["register_id"] for r in view_a["registers"]} == {a_register}
    assert {p["product_id"] for p in view_a["top_products"]} == {str(world.a.product_id)}
    assert {d["device_id"] for d in view_a["devices"]} == {str(world.a.device_id)}
    for frame in a_owner.frames:  # nothing of B's on A's stream either
        assert b_register not in str(frame.get("payload"))


# -- a random day --------------------------------------------------------------------------------------


async def recompute(world: World) -> dict[str, Any]:
    """Today's figures straight from the database: SQL sums over the sales table and its lines."""
    async with world.db.tenant(world.a.tenant_id) as session:
        by_kind = {
            kind: (int(n), int(total), int(cost))
            for kind, n, total, cost in await session.execute(
                select(Sale.kind, func.count(), func.sum(Sale.total), func.sum(Sale.cost)).group_by(Sale.kind)
            )
        }
        registers = {
            str(rid): (int(total), int(sales), int(returns))
            for rid, total, sales, returns in await session.execute(
                select(
                    Register.id,
                    func.coalesce(func.sum(Sale.total), 0),
                    func.count().filter(Sale.kind == "sale"),
                    func.count().filter(Sale.kind == "return"),
                )
                .outerjoin(Sale, (Sale.register_id == Register.id) & (Sale.tenant_id == Register.tenant_id))
                .group_by(Register.id)
            )
        }
        documents = (await session.execute(select(Sale.created_at, Sale.total, Sale.taxes))).all()
        lines = (
            await session.execute(
                select(
                    SaleLine.product_id, SaleLine.tax_class, func.sum(SaleLine.quantity),
                    func.sum(SaleLine.total), func.sum(SaleLine.cost),
                ).group_by(SaleLine.product_id, SaleLine.tax_class)
            )
        ).all()  # fmt: skip
        statuses = select(FiscalDocument.status, func.count()).group_by(FiscalDocument.status)
        fiscal: dict[str, int] = {status: int(n) for status, n in await session.execute(statuses)}
    sales, returns = by_kind.get("sale", (0, 0, 0)), by_kind.get("return", (0, 0, 0))
    tax = sum(t["tax"] for _, _, taxes in documents for t in taxes)
    hours = [0] * 24
    for created_at, total, _ in documents:
        moment = created_at if created_at.tzinfo else created_at.replace(tzinfo=ZoneInfo("UTC"))
        hours[moment.astimezone(SANTIAGO).hour] += total
    products: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for product_id, tax_class, quantity, total, cost in lines:
        p = products[str(product_id)]
        p[0], p[1], p[3] = p[0] + int(quantity), p[1] + int(total), p[3] + int(cost)
        p[2] += net_of_tax(int(total), tax_rate(tax_class))
    total = sales[1] + returns[1]
    return {
        "totals": {
            "count": sales[0], "returns": returns[0], "sales_total": sales[1], "returns_total": returns[1],
            "total": total, "net": total - tax, "tax": tax, "cost": sales[2] + returns[2],
            "margin": total - tax - sales[2] - returns[2],
            "average": round_half_up(sales[1], sales[0]) if sales[0] else 0,
        },
        "registers": registers, "hours": hours, "fiscal": fiscal,
        "products": {pid: tuple(p) for pid, p in products.items()},
    }  # fmt: skip


@pytest.mark.parametrize("seed", [5, 12])
async def test_totals_equal_a_sql_recomputation_after_a_random_day_of_sales_voids_and_restarts(
    world: World, seed: int
) -> None:
    """A dashboard's totals equal a SQL recomputation from the database after a random day of sales,
    voids and restarts."""
    rng = random.Random(seed)
    a = world.a
    await stock_shop(world)
    async with world.db.tenant(a.tenant_id) as session:
        second = Register(store_id=a.store_id, code="2", name="Caja 2")
        session.add(second)
    registers = [str(a.register_id), str(second.id)]
    till, manager, owner = (
        await open_till(world),
        await open_till(world, "manager"),
        await open_till(world, "owner"),
    )
    for register in registers:
        ok(await till.call("cash.open", {"register_id": register, "float_amount": 10_000}))
    await subscribe_after(owner, ok(await owner.call("dashboard.get")))
    sold: list[dict[str, Any]] = []
    documents = 0
    done: dict[str, int] = defaultdict(int)  # what the seed made happen, so it surely covers each kind
    steps = ["sale"] * 6 + ["return"] * 3 + ["restart dashboard"] * 2 + ["restart register"] * 2 + ["look"]
    for _ in range(18):
        step = rng.choice(steps)
        if step == "sale" or (not sold and step == "return"):
            items = [(a.barcode, rng.randint(1, 3))] + (
                [(WEIGHED_SKU, rng.randint(50, 900))] if rng.random() < 0.4 else []
            )
            sold.append(await sell(till, rng.choice(registers), items, rng.choice(["cash", "card"])))
            documents += 1
        elif step == "return":
            original = rng.choice(sold)
            request: dict[str, Any] = {
                "register_id": rng.choice(registers), "sale_id": original["sale_id"],
                "reason": "cliente devuelve", "refund": rng.choice(["cash", "card"]),
            }  # fmt: skip
            if rng.random() < 0.5:  # a partial return of one unit of the first line, else a void
                request["lines"] = [
                    {"line_no": 1, "quantity": 1000 if original["lines"][0]["unit"] == "unit" else 10}
                ]
            answer = await manager.call("sale.return", request)
            if answer["type"] == "reply":
                assert answer["payload"]["kind"] == "return" and answer["payload"]["total"] < 0
                documents += 1
                done["credit note"] += 1
            else:  # everything already given back, or not that much left of the line
                assert answer["code"] in ("not_returnable", "over_return"), answer
        elif step == "restart dashboard":
            await world.services.actors.stop_actor(dashboard_address(a.tenant_id))
            done[step] += 1
        elif step == "restart register":
            register = rng.choice(registers)
            await world.services.actors.stop_actor(register_address(a.tenant_id, uuid.UUID(register)))
            done[step] += 1
        else:
            ok(await owner.call("dashboard.get"))
    assert (
        documents >= 5 and min(done["credit note"], done["restart dashboard"], done["restart register"]) >= 1
    ), done
    view = await settled(owner, documents)
    expected = await recompute(world)
    assert {k: view["totals"][k] for k in expected["totals"]} == expected["totals"]
    assert {r["register_id"]: (r["total"], r["count"], r["returns"]) for r in view["registers"]} == expected[
        "registers"
    ]
    assert view["hours"]["today"] == expected["hours"]
    assert view["fiscal"]["counts"] == expected["fiscal"]
    shown = {p["product_id"]: (p["quantity"], p["total"], p["net"], p["cost"]) for p in view["top_products"]}
    assert shown == expected["products"]
    # And once more from a cold start: the rebuild alone gives the same figures.
    await world.services.actors.stop_actor(dashboard_address(a.tenant_id))
    cold = ok(await owner.call("dashboard.get"))
    assert cold["totals"] == view["totals"] and cold["registers"] == view["registers"]
    assert cold["top_products"] == view["top_products"] and cold["hours"] == view["hours"]


# -- kitchen ticket times --------------------------------------------------------------------------------


def stations_of(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["station_id"]: s for s in payload.get("kitchen", [])}


async def test_kitchen_ticket_times_follow_orders_and_bumps_and_survive_a_restart(world: World) -> None:
    k = await set_kitchen(world)
    owner = await open_till(world, "owner")
    view = ok(await owner.call("dashboard.get"))
    assert {s["name"] for s in view["kitchen"]} == {"Estación CAL", "Estación FRI", "Estación ANT"}
    assert all((s["open"], s["served"], s["oldest_open_at"]) == (0, 0, None) for s in view["kitchen"])
    assert datetime.fromisoformat(view["server_time"]).tzinfo is not None
    await subscribe_after(owner, view)

    # A waiter's order: a dish for the hot line, a juice for the cold one. Both show as open.
    cashier, kds = await open_client(world, "cashier"), await open_client(world, "kitchen")
    routed = ok(await cashier.call("kitchen.order", order(k, [item(k.plato), item(k.plato), item(k.jugo)])))
    tickets = {t["station_id"]: t for t in routed["tickets"]}
    # Two stations, two transactions: their events may come in one change or in two.
    both_open = lambda c: all(stations_of(c).get(s, {}).get("open") == 1 for s in (k.cal, k.fri))  # noqa: E731
    change = await change_where(owner, both_open)
    hot, cold = stations_of(change)[k.cal], stations_of(change)[k.fri]
    assert (hot["open"], hot["ready_waiting"], hot["served"]) == (1, 0, 0)
    opened = datetime.fromisoformat(tickets[k.fri]["created_at"])
    assert datetime.fromisoformat(cold["oldest_open_at"]) == opened.replace(
        microsecond=opened.microsecond // 1000 * 1000
    )
    assert "totals" not in change  # a kitchen change carries the kitchen only

    # The hot line bumps its ticket to ready (waiting at the pass), then served.
    cmd = {"station_id": k.cal, "ticket_id": tickets[k.cal]["ticket_id"]}
    for _ in range(2):
        ok(await kds.call("kitchen.bump", cmd))
    change = await change_where(owner, lambda c: stations_of(c).get(k.cal, {}).get("ready_waiting") == 1)
    assert stations_of(change)[k.cal]["prep_count"] == 1
    ok(await kds.call("kitchen.bump", cmd))
    change = await change_where(owner, lambda c: stations_of(c).get(k.cal, {}).get("served") == 1)
    hot = stations_of(change)[k.cal]
    async with world.db.tenant(world.a.tenant_id) as session:
        row = await session.get(KitchenTicket, (world.a.tenant_id, uuid.UUID(cmd["ticket_id"])))
        assert row is not None and row.ready_at is not None and row.served_at is not None
        aware = [
            m if m.tzinfo else m.replace(tzinfo=UTC) for m in (row.created_at, row.ready_at, row.served_at)
        ]
    prep, serve = (int((end - aware[0]).total_seconds()) for end in aware[1:])
    assert (hot["open"], hot["ready_waiting"], hot["served"], hot["oldest_open_at"]) == (0, 0, 1, None)
    assert (hot["prep_avg_s"], hot["prep_max_s"], hot["serve_avg_s"], hot["serve_max_s"]) == (
        prep,
        prep,
        serve,
        serve,
    )

    # Recalled: open again, no longer served. A restart rebuilds the same figures from the database.
    ok(await kds.call("kitchen.recall", {"station_id": k.cal}))
    change = await change_where(owner, lambda c: stations_of(c).get(k.cal, {}).get("served") == 0)
    assert stations_of(change)[k.cal]["open"] == 1
    live = ok(await owner.call("dashboard.get"))["kitchen"]
    await world.services.actors.stop_actor(dashboard_address(world.a.tenant_id))
    assert ok(await owner.call("dashboard.get"))["kitchen"] == live
    # Tenant B's station never shows on A's board.
    assert k.b_station not in {s["station_id"] for s in live}
