"""One register served by two hub nodes (one Postgres, one Redis): a till and its customer display on
different nodes, a till that moves to the other node, a scale whose agent talks to the other node. Each
node runs its own RegisterActor of the register; they must work on one cart, one cash session and one
reading, and a command resent to the other node must not be applied twice."""

from __future__ import annotations

from typing import Any

import pytest

import actors.register
import hub.redis_register_state
from tests.hub.gateway.conftest import Client, World
from tests.hub.gateway.test_till import ok as answer_of
from tests.hub.gateway.test_till import open_till, refused, sales_count, stock_of, stock_shop
from tests.hub.test_devices_two_nodes import nodes  # noqa: F401  (the two nodes' fixture)


def lines_of(cart: dict[str, Any]) -> list[tuple[str, int]]:
    return [(line["sku"], line["quantity"]) for line in cart["lines"]]


async def call(client: Client, register: str, type_: str, **payload: Any) -> Any:
    return answer_of(await client.call(type_, {"register_id": register, **payload}))


async def test_a_cart_filled_on_one_node_is_the_cart_on_the_other(nodes: tuple[World, World]) -> None:  # noqa: F811
    a, b = nodes
    await stock_shop(a)
    register = str(a.a.register_id)
    till = await open_till(a)
    display = await open_till(b)  # the customer display, on the other node, asks first: B's actor starts
    assert (await call(display, register, "cart.get"))["lines"] == []

    await call(till, register, "cash.open", float_amount=0)
    await call(till, register, "cart.add", code=a.a.barcode)
    on_a = await call(till, register, "cart.add", code=a.a.barcode)
    on_b = await call(display, register, "cart.get")
    assert lines_of(on_b) == lines_of(on_a) == [("00001", 2000)] and on_b["version"] == on_a["version"]

    # The till's node goes away; the till carries on through B, in the session opened through A.
    moved = await open_till(b)
    cart = await call(moved, register, "cart.add", code=a.a.barcode)
    assert lines_of(cart) == [("00001", 3000)] and cart["version"] == on_a["version"] + 1
    receipt = await call(moved, register, "checkout", tenders=[{"kind": "card", "amount": 3 * 1090}])
    assert receipt["total"] == 3 * 1090
    assert await sales_count(a) == 1 and await stock_of(a, a.a.product_id) == 10_000 - 3000
    assert (await call(till, register, "cart.get"))["lines"] == []  # A's actor sees the emptied cart


async def test_a_command_resent_to_the_other_node_is_not_applied_twice(nodes: tuple[World, World]) -> None:  # noqa: F811
    a, b = nodes
    await stock_shop(a)
    register = str(a.a.register_id)
    till_a, till_b = await open_till(a), await open_till(b)
    await call(till_b, register, "cart.get")  # B's actor holds the empty cart
    await call(till_a, register, "cash.open", float_amount=0)
    payload = {"register_id": register, "code": a.a.barcode}
    first = answer_of(await till_a.answer(await till_a.send("cart.add", payload, id_="add-1")))
    # A's answer was lost with A: the till sends the same command to B.
    again = answer_of(await till_b.answer(await till_b.send("cart.add", payload, id_="add-1")))
    assert lines_of(again) == lines_of(first) == [("00001", 1000)] and again["version"] == first["version"]


async def test_the_cash_session_is_one_across_nodes(nodes: tuple[World, World]) -> None:  # noqa: F811
    a, b = nodes
    await stock_shop(a)
    register = str(a.a.register_id)
    till_a, till_b = await open_till(a), await open_till(b)
    refused(await till_b.call("cart.add", {"register_id": register, "code": a.a.barcode}), "no_cash_session")
    await call(till_a, register, "cash.open", float_amount=0)
    assert (await call(till_b, register, "cart.add", code=a.a.barcode))["session_open"] is True
    await call(till_a, register, "cart.clear")
    await call(till_a, register, "cash.close", counted={"cash": 0})
    refused(await till_b.call("cart.add", {"register_id": register, "code": a.a.barcode}), "no_cash_session")
    assert (await call(till_b, register, "cart.get"))["session_open"] is False


async def test_a_weight_read_through_one_node_weighs_on_the_other(
    nodes: tuple[World, World],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A reading is fresh for 2 s; a loaded test machine may take that long between two commands.
    monkeypatch.setattr(actors.register, "SCALE_MAX_AGE_SECONDS", 30.0)
    monkeypatch.setattr(hub.redis_register_state, "READING_TTL_SECONDS", 30.0)
    a, b = nodes
    shop = await stock_shop(a)
    register = str(a.a.register_id)
    scale_side, till = await open_till(a), await open_till(b)
    await call(till, register, "cash.open", float_amount=0)
    await call(scale_side, register, "scale.reading", grams=455, stable=True)
    cart = await call(till, register, "cart.add", product_id=str(shop["weighed_id"]))
    assert lines_of(cart) == [("00007", 455)] and cart["total"] == 1269
