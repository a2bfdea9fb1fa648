"""Selling settings changed at ``/api/v1/settings`` reach the tills live, over a real hub and real sockets.

The till keeps its register actor (and its cart) across the change: no restart, no reconnect. The test waits
for the ``TenantSettingsChanged`` event on the tenant's catalog stream and then for one answer from the
tenant's actor (which queued its reload when the event arrived), never for a fixed time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from hub.events.bus import StreamEvent
from schema.barcodes import make_ean13
from schema.messages.catalog import CATALOG_STREAM
from tests.hub.gateway.conftest import Client, World, connect
from tests.hub.gateway.test_till import WEIGHED_SKU, ok, open_till, refused, sales_count, stock_of, stock_shop

SETTINGS = "/api/v1/settings"
DEFAULT_PREFIXES = {"20": "weight", "21": "weight", "22": "price", "23": "price"}


async def change_settings(world: World, till: Client, body: dict[str, Any]) -> Any:
    """PATCH tenant A's settings as its owner; return once A's tills (``till`` is one) apply them."""
    announced = asyncio.Event()

    def listener(event: StreamEvent) -> None:
        if event.event == "TenantSettingsChanged":
            announced.set()

    feed = await world.services.bus.subscribe(world.a.tenant_id, CATALOG_STREAM, listener)
    try:
        async with httpx.AsyncClient(base_url=world.http) as http:
            response = await http.patch(
                SETTINGS, json=body, headers={"Authorization": f"Bearer {world.a.tokens['owner']}"}
            )
        assert response.status_code == 200, response.text
        async with asyncio.timeout(10):
            await announced.wait()
    finally:
        feed.subscription.close()
    # The TenantActor queued its reload when the event was published: any answer of its comes after it.
    ok(await till.call("catalog.search", {"q": "leche"}))
    return response.json()


async def test_the_till_obeys_new_settings_without_a_restart(world: World) -> None:
    shop = await stock_shop(world, policy="allow", quantity=1000)  # one carton of milk in stock
    register = str(world.a.register_id)
    till = await open_till(world)  # a cashier
    ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
    label_25 = make_ean13("25" + WEIGHED_SKU + "00455")  # 455 g of the weighed product
    add_label = {"register_id": register, "code": label_25}

    # The defaults: 25 is no scale prefix, a cashier may give up to 10%, stock may go negative.
    refused(await till.call("cart.add", add_label), "not_found")
    two_cartons = {"register_id": register, "code": world.a.barcode, "quantity": 2000}
    cart = ok(await till.call("cart.add", two_cartons))
    line = cart["lines"][0]["line_id"]
    ok(await till.call("cart.discount", {"register_id": register, "line_id": line, "percent": 6}))
    frame = await till.call("cart.discount", {"register_id": register, "line_id": line, "percent": 11})
    refused(frame, "forbidden")
    assert frame["details"]["limit"] == 10 and "above 10%" in frame["message"]
    version = ok(await till.call("cart.get", {"register_id": register}))["version"]

    new = {
        "stock_policy": "block",
        "scale_prefixes": DEFAULT_PREFIXES | {"25": "weight"},
        "max_cashier_discount": 5,
    }
    assert await change_settings(world, till, new) == new

    # The same register actor, cart and all (a restart would have emptied it), now sells by the new rules.
    cart = ok(await till.call("cart.get", {"register_id": register}))
    assert cart["version"] == version
    assert [(li["quantity"], li["discount_percent"]) for li in cart["lines"]] == [(2000, 6)]
    frame = await till.call("cart.discount", {"register_id": register, "line_id": line, "percent": 6})
    refused(frame, "forbidden")
    assert frame["details"]["limit"] == 5 and "above 5%" in frame["message"]
    cart = ok(await till.call("cart.discount", {"register_id": register, "line_id": line, "percent": 5}))
    assert cart["lines"][0]["discount_percent"] == 5

    cart = ok(await till.call("cart.add", add_label))
    weighed = cart["lines"][-1]
    assert weighed["product_id"] == str(shop["weighed_id"]) and weighed["quantity"] == 455
    assert weighed["total"] == 1269  # 2,790/kg x 0.455 kg

    pay = {"register_id": register, "tenders": [{"kind": "card", "amount": cart["total"]}]}
    refused(await till.call("checkout", pay), "out_of_stock")  # two cartons, one in stock: blocked now
    assert await stock_of(world, world.a.product_id) == 1000 and await sales_count(world) == 0

    # A manager may still go above the cashier's limit.
    manager = await open_till(world, "manager")
    ok(await manager.call("cart.discount", {"register_id": register, "line_id": line, "percent": 30}))

    # And back: with 'allow' the same cart sells (the stock goes negative).
    await change_settings(world, till, {"stock_policy": "allow"})
    cart = ok(await till.call("cart.get", {"register_id": register}))
    pay = {"register_id": register, "tenders": [{"kind": "card", "amount": cart["total"]}]}
    receipt = ok(await till.call("checkout", pay))
    assert receipt["total"] == cart["total"] and await sales_count(world) == 1
    assert await stock_of(world, world.a.product_id) == 1000 - 2000


async def test_another_tenants_tills_keep_their_own_settings(world: World) -> None:
    a_till = await open_till(world)
    b_socket = await connect(world, world.b.tokens["cashier"])
    world.sockets.append(b_socket)
    b_till = Client(b_socket)
    await b_till.recv()
    a_register, b_register = str(world.a.register_id), str(world.b.register_id)
    for till, register, barcode in (
        (a_till, a_register, world.a.barcode),
        (b_till, b_register, world.b.barcode),
    ):
        ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
        ok(await till.call("cart.add", {"register_id": register, "code": barcode}))
    damaged = "2000000000000"  # a 20-label with a wrong check digit: refused as such while 20 is a prefix
    refused(await a_till.call("cart.add", {"register_id": a_register, "code": damaged}), "bad_barcode")

    await change_settings(world, a_till, {"scale_prefixes": {"25": "weight"}, "max_cashier_discount": 0})

    refused(await a_till.call("cart.add", {"register_id": a_register, "code": damaged}), "not_found")
    frame = await a_till.call("cart.discount", {"register_id": a_register, "line_id": 1, "percent": 1})
    refused(frame, "forbidden")
    assert frame["details"]["limit"] == 0
    # B's till still reads 20-labels and lets its cashier give 10%.
    refused(await b_till.call("cart.add", {"register_id": b_register, "code": damaged}), "bad_barcode")
    ok(await b_till.call("cart.discount", {"register_id": b_register, "line_id": 1, "percent": 10}))
