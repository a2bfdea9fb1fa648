"""Paying restaurant tabs over real sockets: split by items (two sales, the tab closes with the second), an
equal split in three parts (one sale, three tenders), the tip kept out of the total and in the drawer, a
resent payment that makes one sale, and a refused one that changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select

from actors.floor import floor_address
from schema.models import Device, FiscalDocument, PrintJob, Sale, SaleTender, TabItem
from tests.devices.printing.support import read
from tests.hub.gateway.conftest import Client, World
from tests.hub.gateway.restaurant import Restaurant, open_cash, set_restaurant
from tests.hub.gateway.test_kitchen import ok, open_client, refused
from tests.hub.gateway.test_restaurant import add

FLOAT = 10_000


def cash(amount: int) -> dict[str, Any]:
    return {"kind": "cash", "amount": amount}


def card(amount: int) -> dict[str, Any]:
    return {"kind": "card", "amount": amount}


async def a_tab(waiter: Client, r: Restaurant, table: str, items: list[tuple[str, int]]) -> str:
    tab: str = ok(await waiter.call("tab.open", {"table_id": r.tables[table], "guests": 3}))["tab_id"]
    for product, quantity in items:
        ok(await waiter.call("tab.add", add(tab, product, quantity=quantity)))
    return tab


async def sales_of(world: World, tab: str) -> list[Sale]:
    async with world.db.tenant(world.a.tenant_id) as session:
        rows = await session.execute(select(Sale).where(Sale.tab_id == uuid.UUID(tab)).order_by(Sale.number))
        return list(rows.scalars())


async def test_split_by_items_makes_a_sale_per_guest_and_closes_the_tab_with_the_last(world: World) -> None:
    r = await set_restaurant(world)
    k = r.k
    waiter = await open_client(world, "cashier")
    await open_cash(waiter, r.register, FLOAT)
    tab = await a_tab(waiter, r, "M1", [(k.plato, 1000), (k.jugo, 3000), (k.postre, 1000)])

    # The first guest: the dish and one of the three juices (the juice line is split).
    guest = [{"n": 1, "quantity": 1000}, {"n": 2, "quantity": 1000}]
    first = ok(await waiter.call("tab.pay", {
        "tab_id": tab, "register_id": r.register, "items": guest, "tenders": [cash(5000)]}))  # fmt: skip
    assert (first["total"], first["tip"], first["tab_id"], first["change"]) == (2000, 0, tab, 3000)
    assert [(line["name"], line["quantity"]) for line in first["lines"]] == [
        ("Seco de pollo", 1000), ("Jugo de mora", 1000)]  # fmt: skip
    after = ok(await waiter.call("tab.get", {"tab_id": tab}))
    assert after["status"] == "open"
    assert [(i["n"], i["product_id"], i["quantity"], i["paid"]) for i in after["items"]] == [
        (1, k.plato, 1000, True), (2, k.jugo, 2000, False), (3, k.postre, 1000, False),
        (4, k.jugo, 1000, True)]  # fmt: skip
    assert (after["total"], after["paid_total"], after["suggested_tip"]) == (3000, 2000, 300)
    refused(
        await waiter.call("tab.pay", {"tab_id": tab, "register_id": r.register,
                                      "items": [{"n": 4, "quantity": 1000}], "tenders": [cash(1000)]}),
        "already_paid",
    )  # fmt: skip

    # The second guest pays the rest by card, with the suggested tip: the tab closes.
    second = ok(await waiter.call("tab.pay", {
        "tab_id": tab, "register_id": r.register, "tip": 300, "tenders": [card(3300)]}))  # fmt: skip
    assert (second["total"], second["to_pay"], second["tip"], second["change"]) == (3000, 3000, 300, 0)
    assert second["tenders"] == [{"kind": "card", "amount": 3300, "tendered": 3300, "change": 0}]
    closed = ok(await waiter.call("tab.get", {"tab_id": tab}))
    assert (closed["status"], closed["total"], closed["paid_total"]) == ("closed", 0, 5000)
    floor = ok(await waiter.call("floor.get", {"store_id": r.store}))
    assert all(t["tab"] is None for a in floor["areas"] for t in a["tables"])
    sales = await sales_of(world, tab)
    assert [(s.total, s.tip, s.to_pay) for s in sales] == [(2000, 0, 2000), (3000, 300, 3000)]
    async with world.db.tenant(world.a.tenant_id) as session:
        rows = await session.execute(
            select(TabItem.n, TabItem.sale_id).where(TabItem.tab_id == uuid.UUID(tab))
        )
        paid_by = dict(rows.tuples().all())
        documents = (await session.execute(select(func.count()).select_from(FiscalDocument).where(
            FiscalDocument.sale_id.in_([s.id for s in sales])))).scalar_one()  # fmt: skip
    assert paid_by == {1: sales[0].id, 4: sales[0].id, 2: sales[1].id, 3: sales[1].id}
    assert documents == 2
    refused(
        await waiter.call("tab.pay", {"tab_id": tab, "register_id": r.register, "tenders": [cash(1)]}),
        "tab_closed",
    )


async def test_an_equal_split_is_one_sale_with_a_tender_per_part_and_the_tip_goes_to_the_drawer(
    world: World,
) -> None:
    r = await set_restaurant(world)
    k = r.k
    waiter = await open_client(world, "cashier")
    await open_cash(waiter, r.register, FLOAT)
    tab = await a_tab(waiter, r, "M2", [(k.jugo, 10_000)])  # 10 x 1000

    # Three parts of 10,000 (3,334 + 3,333 + 3,333) plus a tip of 1,000 (334 + 333 + 333): each part pays its
    # share exactly by card or at least in cash.
    parts = [cash(5000), card(3666), cash(3666)]
    for bad, code in [
        ([cash(3667), card(3666), cash(3666)], "insufficient_tender"),
        ([cash(5000), card(3667), cash(3666)], "card_exceeds_total"),
        ([cash(5000), card(3666)], "invalid"),
    ]:
        refused(
            await waiter.call("tab.pay", {"tab_id": tab, "register_id": r.register, "parts": 3, "tip": 1000,
                                          "tenders": bad}),
            code,
        )  # fmt: skip
    receipt = ok(await waiter.call("tab.pay", {
        "tab_id": tab, "register_id": r.register, "parts": 3, "tip": 1000, "tenders": parts}))  # fmt: skip
    # The cash part (11,000 - 3,666 = 7,334) is rounded to 7,330 (Ley 20.956): the rounding goes to to_pay.
    assert (receipt["total"], receipt["tip"], receipt["rounding"], receipt["to_pay"]) == (
        10_000,
        1000,
        -4,
        9996,
    )
    assert [(t["kind"], t["amount"], t["tendered"], t["change"]) for t in receipt["tenders"]] == [
        ("cash", 5000, 5000, 0), ("card", 3666, 3666, 0), ("cash", 2330, 3666, 1336)]  # fmt: skip
    assert sum(t["amount"] for t in receipt["tenders"]) == receipt["to_pay"] + receipt["tip"]
    assert sum(t["gross"] for t in receipt["taxes"]) == 10_000  # the tip is outside the taxable base
    (sale,) = await sales_of(world, tab)
    assert (sale.total, sale.tip, sale.to_pay) == (10_000, 1000, 9996)
    async with world.db.tenant(world.a.tenant_id) as session:
        tenders = (await session.execute(select(func.count()).select_from(SaleTender).where(
            SaleTender.sale_id == sale.id))).scalar_one()  # fmt: skip
    assert tenders == 3
    assert ok(await waiter.call("tab.get", {"tab_id": tab}))["status"] == "closed"

    # A single cash payment with a tip: the drawer expects the tip too.
    other = await a_tab(waiter, r, "M3", [(k.plato, 1000), (k.jugo, 2000)])
    paid = ok(await waiter.call("tab.pay", {
        "tab_id": other, "register_id": r.register, "tip": 300, "tenders": [cash(5000)]}))  # fmt: skip
    assert (paid["total"], paid["to_pay"], paid["tip"], paid["change"]) == (3000, 3000, 300, 1700)
    z = ok(await waiter.call("cash.close", {"register_id": r.register, "counted": {"cash": 0, "card": 0}}))
    expected = {line["tender"]: line["expected"] for line in z["lines"]}
    assert expected == {"cash": FLOAT + 7330 + 3300, "card": 3666}
    assert z["sales_total"] == 9996 + 3000  # sales, not tips
    assert z["tips"] == 1000 + 300  # said apart: the tips of this session's tabs (the 3-part tab's, then 300)


async def test_a_resent_payment_makes_one_sale(world: World) -> None:
    r = await set_restaurant(world)
    k = r.k
    waiter = await open_client(world, "cashier")
    await open_cash(waiter, r.register, FLOAT)
    tab = await a_tab(waiter, r, "T1", [(k.plato, 2000)])
    pay = {"tab_id": tab, "register_id": r.register, "tip": 200, "tenders": [cash(4200)]}
    first = ok(await waiter.answer(await waiter.send("tab.pay", pay, id_="pay-t1")))
    again = ok(await waiter.answer(await waiter.send("tab.pay", pay, id_="pay-t1")))
    assert again == first
    # Even after the store's floor actor is gone (a restart): the database finds the sale of that id.
    await world.services.actors.stop_actor(floor_address(world.a.tenant_id, world.a.store_id))
    later = ok(await waiter.answer(await waiter.send("tab.pay", pay, id_="pay-t1")))
    assert (later["sale_id"], later["total"], later["tip"], later["tab_id"]) == (
        first["sale_id"],
        2000,
        200,
        tab,
    )
    assert len(await sales_of(world, tab)) == 1
    refused(await waiter.call("tab.pay", pay), "tab_closed")  # a new id: the tab is paid already


async def test_paying_needs_an_open_cash_session_on_a_register_of_the_store(world: World) -> None:
    r = await set_restaurant(world)
    waiter = await open_client(world, "cashier")
    tab = await a_tab(waiter, r, "M1", [(r.k.jugo, 1000)])
    pay = {"tab_id": tab, "register_id": r.register, "tenders": [cash(1000)]}
    refused(await waiter.call("tab.pay", pay), "no_cash_session")
    refused(await waiter.call("tab.pay", pay | {"register_id": str(uuid.uuid4())}), "not_found")
    refused(await waiter.call("tab.pay", pay | {"register_id": str(world.b.register_id)}), "not_found")
    await open_cash(waiter, r.register, FLOAT)
    refused(await waiter.call("tab.pay", pay | {"doc_type": 33}), "invalid")  # a factura needs its buyer
    receipt = ok(await waiter.call("tab.pay", pay | {"doc_type": 33, "buyer": {
        "rut": "76.086.428-5", "razon_social": "Comercial Los Andes SpA", "giro": "Almacén",
        "address": "Av. Grecia 1234", "comuna": "Ñuñoa"}}))  # fmt: skip
    assert (receipt["doc_type"], receipt["total"], receipt["tab_id"]) == (33, 1000, tab)


async def test_the_precuenta_and_the_receipt_print_on_the_registers_printer(world: World) -> None:
    r = await set_restaurant(world)
    k = r.k
    waiter = await open_client(world, "cashier")
    tab = await a_tab(waiter, r, "M2", [(k.plato, 1000)])
    nothing = {"ok": True, "queued": False}  # no printer on the register yet: the till must say so
    assert ok(await waiter.call("tab.prebill", {"tab_id": tab, "register_id": r.register})) == nothing
    async with world.db.tenant(world.a.tenant_id) as session:
        printer = Device(store_id=world.a.store_id, register_id=world.a.register_id, kind="printer",
                         name="Impresora", config={"paper_mm": 80})  # fmt: skip
        session.add(printer)
    await open_cash(waiter, r.register, FLOAT)
    assert (await waiter.call("subscribe", {"stream": f"register:{r.register}"}))["type"] == "subscribed"
    tab = await a_tab(waiter, r, "M1", [(k.plato, 1000), (k.jugo, 2000)])
    ok(await waiter.call("tab.add", add(tab, k.plato, modifier_ids=[r.modifiers["palta"]], note="sin sal")))
    # Asked twice (the tab changed in between): two precuentas, never deduplicated like a sale's receipt.
    queued = {"ok": True, "queued": True}
    assert ok(await waiter.call("tab.prebill", {"tab_id": tab, "register_id": r.register})) == queued
    assert ok(await waiter.call("tab.prebill", {"tab_id": tab, "register_id": r.register})) == queued
    refused(await waiter.call("tab.prebill", {"tab_id": tab, "register_id": str(uuid.uuid4())}), "not_found")
    jobs = await printed_jobs(waiter, "prebill", 2)
    text = await rendered(world, jobs[0])
    assert "PRECUENTA" in text and "Mesa M1" in text and "+ palta" in text and "Nota: sin sal" in text
    assert (
        "Propina sugerida 10%" in text and "$480" in text and "Total con propina" in text and "$5.280" in text
    )

    receipt = ok(await waiter.call("tab.pay", {"tab_id": tab, "register_id": r.register, "tip": 480,
                                              "tenders": [cash(6000)]}))  # fmt: skip
    (job,) = [j for j in await printed_jobs(waiter, "receipt", 1) if j["source_id"] == receipt["sale_id"]]
    text = await rendered(world, job)
    assert "Seco de pollo (palta)" in text and "Propina" in text and "TOTAL CON PROPINA" in text


async def printed_jobs(client: Client, kind: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` print jobs of ``kind`` announced on the register stream (waits for them)."""
    async with asyncio.timeout(10):
        while True:
            jobs: dict[str, dict[str, Any]] = {}
            for frame in client.frames:
                event = frame.get("event") if frame.get("type") == "event" else None
                if event == "PrintJobChanged" and frame["payload"]["kind"] == kind:
                    jobs.setdefault(frame["payload"]["job_id"], frame["payload"])
            if len(jobs) >= count:
                return list(jobs.values())
            await client.recv()


async def rendered(world: World, job: dict[str, Any]) -> str:
    """The job as the printer would print it, read back as text."""
    async with world.db.tenant(world.a.tenant_id) as session:
        row = await session.get(PrintJob, (world.a.tenant_id, uuid.UUID(job["job_id"])))
    assert row is not None
    return read(await world.services.devices.render(world.a.tenant_id, row, {"paper_mm": 80})).text
