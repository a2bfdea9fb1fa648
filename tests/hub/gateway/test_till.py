"""Selling at the till over real sockets: cart, scale, checkout, cash session, and every refusal."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

import actors.register
from hub.auth.passwords import default_passwords
from schema.models import (
    FiscalDocument,
    FolioRange,
    Product,
    Register,
    Sale,
    StockLevel,
    StockMovement,
    Store,
    Tenant,
    User,
    Warehouse,
)
from tests.hub.gateway.conftest import Client, World, connect

WEIGHED_SKU = "00007"


async def stock_shop(world: World, *, policy: str = "allow", quantity: int = 10_000) -> dict[str, Any]:
    """Tenant A gets stock at a known cost, a weighed product, and a folio range for boletas."""
    a = world.a
    async with world.db.tenant(a.tenant_id) as session:
        store = await session.get(Store, (a.tenant_id, a.store_id))
        assert store is not None
        weighed = Product(
            sku=WEIGHED_SKU,
            name="Pan amasado",
            search_name="pan amasado",
            price=2790,
            tax_class="cl_iva",
            weighable=True,
            unit="kg",
        )
        session.add(weighed)
        await session.flush()
        session.add_all([
            StockLevel(warehouse_id=store.warehouse_id, product_id=a.product_id, quantity=quantity,
                       avg_cost=600 * 10_000),
            StockLevel(warehouse_id=store.warehouse_id, product_id=weighed.id, quantity=5_000,
                       avg_cost=1500 * 10_000),
            FolioRange(doc_type=39, first_folio=101, last_folio=200, next_folio=101),
        ])  # fmt: skip
        tenant = await session.get(Tenant, a.tenant_id)
        assert tenant is not None
        tenant.stock_policy = policy
    return {"warehouse_id": store.warehouse_id, "weighed_id": weighed.id}


async def open_till(world: World, role: str = "cashier") -> Client:
    socket = await connect(world, world.a.tokens[role])
    world.sockets.append(socket)
    client = Client(socket)
    await client.recv()
    return client


async def stock_of(world: World, product_id: uuid.UUID) -> int:
    async with world.db.tenant(world.a.tenant_id) as session:
        level = (
            await session.execute(select(StockLevel).where(StockLevel.product_id == product_id))
        ).scalar_one()
        return level.quantity


async def sales_count(world: World) -> int:
    async with world.db.tenant(world.a.tenant_id) as session:
        return int((await session.execute(select(func.count()).select_from(Sale))).scalar_one())


def ok(frame: dict[str, Any]) -> Any:
    assert frame["type"] == "reply", frame
    return frame["payload"]


def refused(frame: dict[str, Any], code: str) -> None:
    assert frame["type"] == "error", frame
    assert frame["code"] == code, frame


async def test_a_sale_from_scan_to_receipt(world: World) -> None:
    shop = await stock_shop(world)
    register = str(world.a.register_id)
    till = await open_till(world)
    display = await open_till(world)  # the customer display follows the same register
    assert (await display.call("subscribe", {"stream": f"register:{register}"}))["type"] == "subscribed"
    owner = await open_till(world, "owner")
    assert (await owner.call("subscribe", {"stream": "tenant"}))["type"] == "subscribed"

    refused(
        await till.call("cart.add", {"register_id": register, "code": world.a.barcode}), "no_cash_session"
    )
    opened = ok(await till.call("cash.open", {"register_id": register, "float_amount": 20_000}))
    assert opened["float_amount"] == 20_000

    cart = ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
    cart = ok(await till.call("cart.add", {"register_id": register, "code": "00001"}))  # same product by SKU
    assert [(line["quantity"], line["total"]) for line in cart["lines"]] == [(2000, 2180)]
    ok(await till.call("scale.reading", {"register_id": register, "grams": 455, "stable": True}))
    cart = ok(await till.call("cart.add", {"register_id": register, "product_id": str(shop["weighed_id"])}))
    assert cart["lines"][1]["quantity"] == 455 and cart["lines"][1]["total"] == 1269  # 2,790/kg x 0.455 kg
    assert cart["total"] == 3449
    tax = cart["taxes"][0]
    assert (tax["gross"], tax["net"] + tax["tax"]) == (3449, 3449) and tax["net"] == 2898

    seen: list[int] = []
    async with asyncio.timeout(10):  # the display sees every change live, in order
        while not seen or seen[-1] != 3449:
            frame = await display.recv()
            if frame.get("event") == "CartChanged":
                seen.append(frame["payload"]["total"])
    assert seen == [0, 1090, 2180, 3449]

    receipt = ok(await till.call("checkout", {"register_id": register, "tenders": [
        {"kind": "card", "amount": 2000}, {"kind": "cash", "amount": 5000}]}))  # fmt: skip
    # Ley 20.956 rounds the cash part only: 3,449 - 2,000 on card = 1,449 in cash, rounded up to 1,450.
    assert receipt["total"] == 3449 and receipt["rounding"] == 1 and receipt["to_pay"] == 3450
    assert receipt["change"] == 5000 - 1450
    assert receipt["folio"] == 101 and receipt["doc_type"] == 39
    assert ok(await till.call("cart.get", {"register_id": register}))["lines"] == []

    async with asyncio.timeout(10):
        while True:
            frame = await owner.recv()
            if frame.get("event") == "SaleCompleted":
                break
    assert frame["payload"]["number"] == receipt["number"]
    assert await stock_of(world, world.a.product_id) == 8_000
    assert await stock_of(world, shop["weighed_id"]) == 5_000 - 455
    async with world.db.tenant(world.a.tenant_id) as session:
        sale = (await session.execute(select(Sale))).scalar_one()
        assert sale.cost == 2 * 600 + 683  # PPP snapshot: 0.455 kg at 1,500/kg rounds to 683
        moves = (await session.execute(select(StockMovement))).scalars().all()
        assert sorted(m.quantity for m in moves) == [-2000, -455]
        document = (await session.execute(select(FiscalDocument))).scalar_one()
        assert (document.status, document.folio) == ("pending", 101)

    z = ok(
        await till.call("cash.close", {"register_id": register, "counted": {"cash": 21_400, "card": 2000}})
    )
    lines = {line["tender"]: line for line in z["lines"]}
    assert lines["cash"]["expected"] == 20_000 + 1450 and lines["cash"]["difference"] == -50
    assert lines["card"]["difference"] == 0 and z["sales_count"] == 1 and z["sales_total"] == 3450


async def test_a_resent_checkout_makes_one_sale(world: World) -> None:
    await stock_shop(world)
    register = str(world.a.register_id)
    till = await open_till(world)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
    payload = {"register_id": register, "tenders": [{"kind": "card", "amount": 1090}]}
    first = ok(await till.answer(await till.send("checkout", payload, id_="pay-1")))
    again = ok(await till.answer(await till.send("checkout", payload, id_="pay-1")))
    assert again == first
    assert await sales_count(world) == 1
    # After a restart of the register actor the answer comes from the database.
    services = world.services
    await services.actors.stop_actor(f"register/{world.a.tenant_id}/{register}")
    third = ok(await till.answer(await till.send("checkout", payload, id_="pay-1")))
    assert third["sale_id"] == first["sale_id"] and await sales_count(world) == 1


async def test_the_scale_must_be_stable_and_fresh(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = await stock_shop(world)
    register = str(world.a.register_id)
    till = await open_till(world)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    add = {"register_id": register, "product_id": str(shop["weighed_id"])}
    refused(await till.call("cart.add", add), "scale_stale")
    ok(await till.call("scale.reading", {"register_id": register, "grams": 300, "stable": False}))
    refused(await till.call("cart.add", add), "scale_unstable")
    ok(await till.call("scale.reading", {"register_id": register, "grams": 0, "stable": True}))
    refused(await till.call("cart.add", add), "scale_empty")
    ok(await till.call("scale.reading", {"register_id": register, "grams": 300, "stable": True}))
    monkeypatch.setattr(actors.register, "SCALE_MAX_AGE_SECONDS", -1.0)  # every reading is now too old
    refused(await till.call("cart.add", add), "scale_stale")
    refused(await till.call("cart.add", add | {"quantity": 300}), "invalid")
    assert ok(await till.call("cart.get", {"register_id": register}))["lines"] == []


async def test_bad_input_leaves_cart_and_stock_unchanged(world: World) -> None:
    await stock_shop(world, policy="block", quantity=2000)
    register = str(world.a.register_id)
    till = await open_till(world)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    before = ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
    for payload, code in [
        ({"code": "7800000009999"}, "not_found"),
        ({"code": "2000000000000"}, "bad_barcode"),
        ({"code": world.a.barcode, "quantity": -1000}, "invalid"),
        ({"code": world.a.barcode, "quantity": 10**12}, "invalid"),
        ({"code": world.a.barcode, "quantity": 1500}, "invalid"),  # half a carton of milk
        ({}, "invalid"),
        ({"product_id": str(world.b.product_id)}, "not_found"),
    ]:
        refused(await till.call("cart.add", {"register_id": register, **payload}), code)
    refused(await till.call("cart.set_qty", {"register_id": register, "line_id": 99, "quantity": 1000}),
            "not_found")  # fmt: skip
    refused(
        await till.call("cart.discount", {"register_id": register, "line_id": 1, "percent": 50}), "forbidden"
    )
    for tenders, code in [
        ([{"kind": "cash", "amount": 1000}], "insufficient_tender"),
        ([{"kind": "card", "amount": 5000}], "card_exceeds_total"),
        ([{"kind": "cheque", "amount": 5000}], "invalid"),
        ([], "invalid"),
    ]:
        refused(await till.call("checkout", {"register_id": register, "tenders": tenders}), code)
    ok(await till.call("cart.set_qty", {"register_id": register, "line_id": 1, "quantity": 3000}))
    pay_all = {"register_id": register, "tenders": [{"kind": "card", "amount": 3270}]}
    refused(await till.call("checkout", pay_all), "out_of_stock")
    after = ok(await till.call("cart.get", {"register_id": register}))
    assert [line["quantity"] for line in after["lines"]] == [3000]
    assert before["lines"][0]["product_id"] == after["lines"][0]["product_id"]
    assert await stock_of(world, world.a.product_id) == 2000
    assert await sales_count(world) == 0


async def test_registers_of_other_stores_and_tenants_are_refused(world: World) -> None:
    async with world.db.tenant(world.a.tenant_id) as session:
        warehouse = Warehouse(name="Bodega 2")
        session.add(warehouse)
        await session.flush()
        store = Store(code="2", name="Sucursal 2", warehouse_id=warehouse.id)
        session.add(store)
        await session.flush()
        other = Register(store_id=store.id, code="9", name="Caja 9")
        session.add(other)
        await session.flush()
        cashier = (await session.execute(select(User).where(User.username == "u-cashier"))).scalar_one()
        cashier.store_id = world.a.store_id  # this cashier works in store 1 only
    till = await open_till(world)
    refused(await till.call("cash.open", {"register_id": str(other.id), "float_amount": 0}), "forbidden")
    refused(
        await till.call("cash.open", {"register_id": str(world.b.register_id), "float_amount": 0}),
        "not_found",
    )
    refused(await till.call("cart.get", {"register_id": str(uuid.uuid4())}), "not_found")
    kitchen = await open_till(world, "kitchen")
    refused(await kitchen.call("cart.get", {"register_id": str(world.a.register_id)}), "forbidden")
    assert await sales_count(world) == 0


async def test_a_repeated_id_gets_the_first_answer_even_a_refusal(world: World) -> None:
    await stock_shop(world)
    register = str(world.a.register_id)
    till = await open_till(world)
    cart = ok(await till.call("cart.get", {"register_id": register}))
    assert cart["session_open"] is False
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    assert ok(await till.call("cart.get", {"register_id": register}))["session_open"] is True
    ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
    short = {"register_id": register, "tenders": [{"kind": "cash", "amount": 100}]}
    refused(await till.answer(await till.send("checkout", short, id_="pay-x")), "insufficient_tender")
    enough = {"register_id": register, "tenders": [{"kind": "cash", "amount": 5000}]}
    refused(await till.answer(await till.send("checkout", enough, id_="pay-x")), "insufficient_tender")
    assert await sales_count(world) == 0
    ok(await till.answer(await till.send("checkout", enough, id_="pay-y")))  # a new id is a new attempt
    assert await sales_count(world) == 1


async def test_returns_make_credit_notes_with_approval_and_bring_stock_back(world: World) -> None:
    await stock_shop(world, quantity=10_000)
    register = str(world.a.register_id)
    async with world.db.tenant(world.a.tenant_id) as session:
        session.add(FolioRange(doc_type=61, first_folio=7, last_folio=50, next_folio=7))
        manager = (await session.execute(select(User).where(User.username == "u-manager"))).scalar_one()
        manager.pin_hash = default_passwords().hash_pin("2468")
    till = await open_till(world)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 10_000}))
    ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode, "quantity": 3000}))
    sale = ok(
        await till.call("checkout", {"register_id": register, "tenders": [{"kind": "cash", "amount": 5000}]})
    )
    assert (sale["total"], sale["to_pay"]) == (3270, 3270)
    assert await stock_of(world, world.a.product_id) == 7000

    back_two = {"register_id": register, "sale_id": sale["sale_id"], "reason": "leche vencida",
                "lines": [{"line_no": 1, "quantity": 2000}]}  # fmt: skip
    refused(await till.call("sale.return", back_two), "forbidden")  # a cashier alone may not
    refused(await till.call("sale.return", back_two | {"approver": "u-manager", "pin": "1111"}), "forbidden")
    credit = ok(await till.call("sale.return", back_two | {"approver": "u-manager", "pin": "2468"}))
    assert (credit["kind"], credit["doc_type"], credit["folio"]) == ("return", 61, 7)
    assert (
        credit["total"] == -2180
        and credit["to_pay"] == -2180
        and credit["original_sale_id"] == sale["sale_id"]
    )
    assert credit["lines"][0]["quantity"] == -2000 and credit["reason"] == "leche vencida"
    assert await stock_of(world, world.a.product_id) == 9000

    over = back_two | {"approver": "u-manager", "pin": "2468"}
    refused(await till.call("sale.return", over), "over_return")  # only one unit is left to return
    void = {
        "register_id": register, "sale_id": sale["sale_id"], "reason": "anulación", "approver": "u-manager",
        "pin": "2468", "refund": "card",
    }  # fmt: skip
    rest = ok(await till.call("sale.return", void))
    assert rest["lines"][0]["quantity"] == -1000 and rest["tenders"][0]["kind"] == "card"
    refused(await till.call("sale.return", void), "not_returnable")  # nothing left
    refused(await till.call("sale.return", void | {"sale_id": rest["sale_id"]}), "not_returnable")
    refused(await till.call("sale.return", void | {"sale_id": str(uuid.uuid4())}), "not_found")
    assert await stock_of(world, world.a.product_id) == 10_000

    async with world.db.tenant(world.a.tenant_id) as session:
        notes = (await session.execute(select(Sale).where(Sale.kind == "return"))).scalars().all()
        assert {n.approved_by for n in notes} == {manager.id} and len(notes) == 2
        moves = (await session.execute(select(StockMovement).where(StockMovement.kind == "return"))).scalars()
        assert sorted(m.cost for m in moves) == [600, 1200]  # back at the cost the units left with
        documents = (
            await session.execute(select(FiscalDocument).where(FiscalDocument.doc_type == 61))
        ).scalars()
        assert sorted(d.folio or 0 for d in documents) == [7, 8]

    z = ok(await till.call("cash.close", {"register_id": register, "counted": {"cash": 11_090, "card": 0}}))
    lines = {line["tender"]: line for line in z["lines"]}
    assert lines["cash"]["expected"] == 10_000 + 3270 - 2180  # the cash refund left the drawer
    assert lines["card"]["expected"] == -1090 and z["sales_total"] == 0


async def test_wrong_manager_pins_are_limited_per_till(world: World) -> None:
    await stock_shop(world)
    register = str(world.a.register_id)
    async with world.db.tenant(world.a.tenant_id) as session:
        manager = (await session.execute(select(User).where(User.username == "u-manager"))).scalar_one()
        manager.pin_hash = default_passwords().hash_pin("2468")
    till = await open_till(world)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
    sale = ok(
        await till.call("checkout", {"register_id": register, "tenders": [{"kind": "card", "amount": 1090}]})
    )
    attempt = {
        "register_id": register,
        "sale_id": sale["sale_id"],
        "reason": "prueba",
        "approver": "u-manager",
    }
    for pin in ("0000", "1111", "2222", "3333", "4444"):
        refused(await till.call("sale.return", attempt | {"pin": pin}), "forbidden")
    refused(await till.call("sale.return", attempt | {"pin": "2468"}), "rate_limited")  # even the right one
    assert await sales_count(world) == 1


async def test_a_factura_needs_a_valid_buyer_and_keeps_it_with_the_sale(world: World) -> None:
    await stock_shop(world)
    register = str(world.a.register_id)
    till = await open_till(world)
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
    pay = {"register_id": register, "tenders": [{"kind": "card", "amount": 1090}]}
    buyer = {"rut": "76.086.428-5", "razon_social": "Comercial Los Andes SpA", "giro": "Almacén",
             "address": "Av. Grecia 1234", "comuna": "Ñuñoa"}  # fmt: skip
    refused(await till.call("checkout", pay | {"doc_type": 33}), "invalid")
    refused(
        await till.call("checkout", pay | {"doc_type": 33, "buyer": buyer | {"rut": "76.086.428-4"}}),
        "invalid",
    )
    refused(
        await till.call("checkout", pay | {"doc_type": 33, "buyer": buyer | {"rut": "66666666-6"}}), "invalid"
    )
    refused(await till.call("checkout", pay | {"buyer": buyer}), "invalid")  # a boleta has no buyer
    refused(await till.call("checkout", pay | {"doc_type": 33, "buyer": {"rut": "76086428-5"}}), "invalid")
    assert await sales_count(world) == 0
    assert len(ok(await till.call("cart.get", {"register_id": register}))["lines"]) == 1  # cart kept

    receipt = ok(await till.call("checkout", pay | {"doc_type": 33, "buyer": buyer}))
    assert receipt["doc_type"] == 33
    async with world.db.tenant(world.a.tenant_id) as session:
        sale = await session.get(Sale, (world.a.tenant_id, uuid.UUID(receipt["sale_id"])))
        assert sale is not None and sale.buyer == buyer | {"rut": "76086428-5", "city": ""}
