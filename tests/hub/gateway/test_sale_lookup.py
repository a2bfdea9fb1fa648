"""``sale.lookup`` over real sockets: finding a sale to return, what is left of it, and who may see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hub.auth.passwords import default_passwords
from schema.models import Product, User
from tests.hub.gateway.conftest import Client, TenantWorld, World, connect
from tests.support.tenants import add_store

PIN = "2468"


async def till(world: World, tenant: TenantWorld, role: str = "cashier") -> Client:
    socket = await connect(world, tenant.tokens[role])
    world.sockets.append(socket)
    client = Client(socket)
    welcome = await client.recv()
    assert welcome["type"] == "welcome", welcome
    return client


def ok(frame: dict[str, Any]) -> Any:
    assert frame["type"] == "reply", frame
    return frame["payload"]


def refused(frame: dict[str, Any], code: str) -> dict[str, Any]:
    assert frame["type"] == "error", frame
    assert frame["code"] == code, frame
    return frame


async def sell(client: Client, register_id: uuid.UUID, codes: list[tuple[str, int]]) -> dict[str, Any]:
    """Open the register's cash session if needed, scan (code, units) and pay cash: the receipt."""
    register = str(register_id)
    cart = ok(await client.call("cart.get", {"register_id": register}))
    if not cart["session_open"]:
        ok(await client.call("cash.open", {"register_id": register, "float_amount": 0}))
    for code, units in codes:
        ok(await client.call("cart.add", {"register_id": register, "code": code, "quantity": units * 1000}))
    tenders = [{"kind": "cash", "amount": 1_000_000}]
    receipt: dict[str, Any] = ok(await client.call("checkout", {"register_id": register, "tenders": tenders}))
    return receipt


async def second_product(world: World) -> str:
    """Tenant A gets a second product (SKU 00002) and its manager a PIN; returns the SKU."""
    async with world.db.tenant(world.a.tenant_id) as session:
        bread = Product(sku="00002", name="Pan de molde", search_name="pan de molde", price=2490,
                        tax_class="cl_iva")  # fmt: skip
        session.add(bread)
        manager = (await session.execute(select(User).where(User.username == "u-manager"))).scalar_one()
        manager.pin_hash = default_passwords().hash_pin(PIN)
    return "00002"


async def second_store(world: World) -> uuid.UUID:
    """A second store of tenant A with its own warehouse and register; returns the register's id."""
    _store, _warehouse, register_id = await add_store(world.db, world.a.tenant_id)
    return register_id


def lookup(register_id: uuid.UUID, **by: Any) -> dict[str, Any]:
    return {"register_id": str(register_id), **by}


async def test_a_sale_is_found_by_number_and_by_id_with_what_is_left_to_return(world: World) -> None:
    bread = await second_product(world)
    cashier = await till(world, world.a)
    register = world.a.register_id
    sale = await sell(cashier, register, [(world.a.barcode, 3), (bread, 2)])

    found = ok(await cashier.call("sale.lookup", lookup(register, number=sale["number"])))
    assert (found["sale_id"], found["number"], found["kind"]) == (sale["sale_id"], sale["number"], "sale")
    assert (found["doc_type"], found["folio"], found["total"]) == (39, sale["folio"], 3 * 1090 + 2 * 2490)
    assert (found["to_pay"], found["rounding"]) == (sale["to_pay"], sale["rounding"])
    assert datetime.fromisoformat(found["created_at"]) == datetime.fromisoformat(sale["created_at"])
    assert [(t["kind"], t["amount"]) for t in found["tenders"]] == [("cash", sale["to_pay"])]
    assert [
        (line["line_no"], line["name"], line["quantity"], line["returned"], line["returnable"], line["total"])
        for line in found["lines"]
    ] == [(1, "Leche entera 1 L", 3000, 0, 3000, 3270), (2, "Pan de molde", 2000, 0, 2000, 4980)]
    assert found["lines"][0]["unit_price"] == 1090 and found["lines"][0]["unit"] == "unit"
    assert (found["returnable"], found["credit_notes"], found["returned_total"]) == (True, 0, 0)
    by_id = ok(await cashier.call("sale.lookup", lookup(register, sale_id=sale["sale_id"])))
    assert by_id == found

    # One unit of the first line comes back: the lookup now says two are left of it, none taken of the other.
    back = {
        "register_id": str(register), "sale_id": sale["sale_id"], "reason": "Producto defectuoso",
        "lines": [{"line_no": 1, "quantity": 1000}], "approver": "u-manager", "pin": PIN,
    }  # fmt: skip
    credit = ok(await cashier.call("sale.return", back))
    after = ok(await cashier.call("sale.lookup", lookup(register, number=sale["number"])))
    assert [(line["returned"], line["returnable"]) for line in after["lines"]] == [(1000, 2000), (0, 2000)]
    assert (after["credit_notes"], after["returned_total"], after["returnable"]) == (1, 1090, True)

    # The credit note has its own number series; by id it is found, but it cannot itself be returned.
    refused(await cashier.call("sale.lookup", lookup(register, sale_id=credit["sale_id"])), "not_returnable")

    # A void of what is left: nothing remains to return, and the lookup says so line by line.
    void = {key: value for key, value in back.items() if key != "lines"} | {"reason": "Cliente desiste"}
    ok(await cashier.call("sale.return", void))
    done = ok(await cashier.call("sale.lookup", lookup(register, sale_id=sale["sale_id"])))
    assert [(line["returned"], line["returnable"]) for line in done["lines"]] == [(3000, 0), (2000, 0)]
    assert (done["credit_notes"], done["returned_total"]) == (2, found["total"]) and not done["returnable"]

    refused(await cashier.call("sale.lookup", lookup(register, number=sale["number"] + 1)), "not_found")
    refused(await cashier.call("sale.lookup", lookup(register, sale_id=str(uuid.uuid4()))), "not_found")


async def test_another_stores_sale_is_not_found_and_its_register_is_refused(world: World) -> None:
    other_register = await second_store(world)
    owner = await till(world, world.a, "owner")  # owners work in every store
    there = await sell(owner, other_register, [(world.a.barcode, 1)])
    cashier = await till(world, world.a)
    here = await sell(cashier, world.a.register_id, [(world.a.barcode, 2)])
    assert here["number"] == there["number"] + 1

    register = world.a.register_id
    refused(await cashier.call("sale.lookup", lookup(register, number=there["number"])), "not_found")
    refused(await cashier.call("sale.lookup", lookup(register, sale_id=there["sale_id"])), "not_found")
    # ...and it cannot be returned here either, even by the owner (its stock belongs to the other store).
    back = {"register_id": str(register), "sale_id": there["sale_id"], "reason": "Cliente desiste"}
    refused(await owner.call("sale.return", back), "not_found")
    found = ok(await cashier.call("sale.lookup", lookup(register, number=here["number"])))
    assert found["sale_id"] == here["sale_id"]
    # From the other store's register the same number is that store's sale.
    found = ok(await owner.call("sale.lookup", lookup(other_register, number=there["number"])))
    assert found["sale_id"] == there["sale_id"]
    refused(await owner.call("sale.lookup", lookup(other_register, number=here["number"])), "not_found")

    # A cashier of store 1 may not look through store 2's register at all.
    async with world.db.tenant(world.a.tenant_id) as session:
        user = (await session.execute(select(User).where(User.username == "u-cashier"))).scalar_one()
        user.store_id = world.a.store_id
    store_bound = await till(world, world.a)
    denied = await store_bound.call("sale.lookup", lookup(other_register, number=there["number"]))
    refused(denied, "forbidden")


async def test_another_tenants_sales_are_not_found(world: World) -> None:
    b_till = await till(world, world.b)
    b_sales = [await sell(b_till, world.b.register_id, [(world.b.barcode, 1)]) for _ in range(2)]
    a_till = await till(world, world.a)
    a_sale = await sell(a_till, world.a.register_id, [(world.a.barcode, 1)])
    assert a_sale["number"] == 1 and [s["number"] for s in b_sales] == [1, 2]

    register = world.a.register_id
    assert ok(await a_till.call("sale.lookup", lookup(register, number=1)))["sale_id"] == a_sale["sale_id"]
    refused(await a_till.call("sale.lookup", lookup(register, number=2)), "not_found")  # B has a number 2
    for b_sale in b_sales:
        refused(await a_till.call("sale.lookup", lookup(register, sale_id=b_sale["sale_id"])), "not_found")
    # B's register is not found from A either (never "forbidden": existence is not confirmed).
    refused(await a_till.call("sale.lookup", lookup(world.b.register_id, number=1)), "not_found")


async def test_bad_lookups_are_invalid_and_roles_are_checked(world: World) -> None:
    cashier = await till(world, world.a)
    register = world.a.register_id
    sale = await sell(cashier, register, [(world.a.barcode, 1)])
    for payload in (
        lookup(register, number=0),
        lookup(register, number=-3),
        lookup(register, number="1"),
        lookup(register, number=1, sale_id=sale["sale_id"]),  # both
        lookup(register),  # neither
        lookup(register, sale_id="not-a-uuid"),
        lookup(register, number=1, extra=True),
        {"number": 1},  # no register
    ):
        refused(await cashier.call("sale.lookup", payload), "invalid")
    unknown_register = uuid.uuid4()
    refused(await cashier.call("sale.lookup", lookup(unknown_register, number=1)), "not_found")
    kitchen = await till(world, world.a, "kitchen")
    refused(await kitchen.call("sale.lookup", lookup(register, number=1)), "forbidden")
    device = await till(world, world.a, "device")
    refused(await device.call("sale.lookup", lookup(register, number=1)), "forbidden")
    manager = await till(world, world.a, "manager")
    assert ok(await manager.call("sale.lookup", lookup(register, number=1)))["sale_id"] == sale["sale_id"]
