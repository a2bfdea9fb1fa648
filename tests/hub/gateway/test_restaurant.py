"""Restaurant mode over real sockets: a tab from its table to the kitchen (modifiers, notes, courses held and
fired), moved and merged, followed live on the floor stream with gapless revs, kept across a restart, and
every refusal. Paying is in ``test_restaurant_pay``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update

from actors.floor import floor_address
from actors.floor_kitchen import mark_sent
from hub.settings import load_settings
from schema.models import FloorArea, FloorTable, KitchenTicket, Sale, Store, Tab, TabItem
from tests.hub.gateway.conftest import Client, World, running_hub
from tests.hub.gateway.restaurant import (
    FloorScreen,
    Restaurant,
    make_restaurant,
    open_cash,
    set_restaurant,
)
from tests.hub.gateway.test_kitchen import bound_user, ok, open_client, refused
from tests.support.tenants import add_store


def add(tab: str, product: str, **extra: Any) -> dict[str, Any]:
    return {"tab_id": tab, "product_id": product} | extra


def tables_with_tabs(floor: dict[str, Any]) -> dict[str, str]:
    """table name -> its open tab's id, from a FloorState."""
    return {
        t["name"]: t["tab"]["tab_id"] for a in floor["areas"] for t in a["tables"] if t["tab"] is not None
    }


async def tickets(client: Client, station: str) -> list[dict[str, Any]]:
    state = ok(await client.call("kitchen.get", {"station_id": station}))
    tickets: list[dict[str, Any]] = state["tickets"]
    return tickets


async def follow_floor(world: World, r: Restaurant) -> tuple[Client, FloorScreen]:
    watcher = await open_client(world, "cashier")
    screen = FloorScreen(ok(await watcher.call("floor.get", {"store_id": r.store})))
    subscribed = await watcher.call(
        "subscribe", {"stream": screen.stream, "since": screen.seq, "epoch": screen.epoch}
    )
    assert subscribed["type"] == "subscribed", subscribed
    return watcher, screen


async def test_a_tab_goes_to_the_kitchen_by_course_then_moves_and_merges(world: World) -> None:
    r = await set_restaurant(world)
    k = r.k
    waiter, kds = await open_client(world, "cashier"), await open_client(world, "kitchen")
    watcher, screen = await follow_floor(world, r)
    floor = ok(await waiter.call("floor.get", {"store_id": r.store}))
    assert [(a["name"], [t["name"] for t in a["tables"]]) for a in floor["areas"]] == [
        ("Salón", ["M1", "M2", "M3"]),
        ("Terraza", ["T1"]),
    ]
    assert tables_with_tabs(floor) == {} and floor["tip_percent"] == 10
    assert {(m["group"], m["name"], m["price_delta"]) for m in floor["modifiers"]} == {
        ("Punto", "jugoso", 0), ("Punto", "a punto", 0), ("Agregado", "palta", 800)}  # fmt: skip

    opened = ok(await waiter.call("tab.open", {"table_id": r.tables["M1"], "guests": 2}))
    tab = opened["tab_id"]
    assert (opened["status"], opened["table_name"], opened["guests"], opened["server"]) == (
        "open",
        "M1",
        2,
        "cashier",
    )
    mods = [r.modifiers["jugoso"], r.modifiers["palta"]]
    with_mods = ok(await waiter.call("tab.add", add(tab, k.plato, note="sin sal", modifier_ids=mods)))
    dish = with_mods["items"][0]
    assert (dish["n"], dish["name"], dish["unit_price"], dish["total"], dish["note"]) == (
        1, "Seco de pollo", 1800, 1800, "sin sal")  # fmt: skip
    assert [(m["group"], m["name"], m["price_delta"]) for m in dish["modifiers"]] == [
        ("Punto", "jugoso", 0), ("Agregado", "palta", 800)]  # fmt: skip
    ok(await waiter.call("tab.add", add(tab, k.jugo, quantity=2000)))
    ok(await waiter.call("tab.add", add(tab, k.postre, course=2, hold=True)))
    before_send = ok(await waiter.call("tab.add", add(tab, k.leche)))  # no category: the first station (ANT)
    assert before_send["total"] == 1800 + 2000 + 1000 + 1090 and before_send["suggested_tip"] == 589

    sent = ok(await waiter.call("tab.send", {"tab_id": tab}))
    assert [(i["n"], i["sent"], i["held"]) for i in sent["items"]] == [
        (1, True, False), (2, True, False), (3, False, True), (4, True, False)]  # fmt: skip
    hot, cold, first = [await tickets(kds, s) for s in (k.cal, k.fri, k.ant)]
    assert len(hot) == len(cold) == len(first) == 1
    assert hot[0]["items"][0] | {"item_id": 0} == {
        "item_id": 0, "product_id": k.plato, "name": "Seco de pollo", "quantity": 1000,
        "modifiers": ["jugoso", "palta"], "note": "sin sal", "state": "new"}  # fmt: skip
    assert (hot[0]["table"], hot[0]["server"], hot[0]["course"]) == ("M1", "cashier", "Curso 1")
    assert [(i["product_id"], i["quantity"]) for i in cold[0]["items"]] == [(k.jugo, 2000)]
    assert [i["product_id"] for i in first[0]["items"]] == [k.leche]
    # Sending again sends nothing and changes nothing (the held dessert waits for its course).
    again = ok(await waiter.call("tab.send", {"tab_id": tab}))
    assert again["rev"] == sent["rev"] and again["items"] == sent["items"]
    assert len(await tickets(kds, k.ant)) == 1

    fired = ok(await waiter.call("tab.fire", {"tab_id": tab, "course": 2}))
    assert [(i["n"], i["sent"], i["held"]) for i in fired["items"]][2] == (3, True, False)
    dessert = [t for t in await tickets(kds, k.ant) if t["course"] == "Curso 2"]
    assert [[i["product_id"] for i in t["items"]] for t in dessert] == [[k.postre]]

    # Moving to a free table; then a second tab is merged into this one.
    moved = ok(await waiter.call("tab.move", {"tab_id": tab, "table_id": r.tables["M2"]}))
    assert (moved["table_id"], moved["table_name"]) == (r.tables["M2"], "M2")
    other = ok(await waiter.call("tab.open", {"table_id": r.tables["M3"]}))["tab_id"]
    ok(await waiter.call("tab.add", add(other, k.jugo)))
    ok(await waiter.call("tab.add", add(other, k.plato, modifier_ids=[r.modifiers["a punto"]])))
    merged = ok(await waiter.call("tab.merge", {"tab_id": other, "into_tab_id": tab}))
    assert merged["tab_id"] == tab and merged["guests"] == 3
    assert [(i["n"], i["product_id"]) for i in merged["items"]][4:] == [(5, k.jugo), (6, k.plato)]
    assert merged["total"] == before_send["total"] + 1000 + 1000
    source = ok(await waiter.call("tab.get", {"tab_id": other}))
    assert (source["status"], source["merged_into"], source["items"]) == ("merged", tab, [])
    refused(await waiter.call("tab.add", add(other, k.jugo)), "tab_closed")

    # The floor screen followed every change in order, with no rev missing.
    state = ok(await waiter.call("floor.get", {"store_id": r.store}))
    await screen.catch_up(watcher, state["rev"])
    assert screen.revs == list(range(screen.revs[0], state["rev"] + 1))
    assert len(screen.revs) == 13  # open, 4 adds, send, fire, move, open, 2 adds, merge (both tabs)
    assert {t: v["table_id"] for t, v in screen.tabs.items()} == {tab: r.tables["M2"]}
    assert tables_with_tabs(state) == {"M2": tab}
    summary = next(t["tab"] for a in state["areas"] for t in a["tables"] if t["name"] == "M2")
    assert (summary["items"], summary["unsent"], summary["total"], summary["guests"]) == (
        6,
        2,
        merged["total"],
        3,
    )
    assert ok(await waiter.call("tab.get", {"tab_id": tab})) == merged


async def test_open_tabs_survive_a_restart_and_undelivered_orders_reach_the_kitchen(
    world: World, database_url: str
) -> None:
    r = await set_restaurant(world)
    k = r.k
    waiter = await open_client(world, "cashier")
    tab = ok(await waiter.call("tab.open", {"table_id": r.tables["T1"], "guests": 4}))["tab_id"]
    ok(await waiter.call("tab.add", add(tab, k.plato, modifier_ids=[r.modifiers["palta"]], note="rápido")))
    ok(await waiter.call("tab.add", add(tab, k.jugo, course=2, hold=True)))
    before = ok(await waiter.call("tab.get", {"tab_id": tab}))
    # Items marked sent whose delivery never happened (the hub died between the commit and the kitchen).
    _, orders = await mark_sent(world.db, world.a.tenant_id, world.a.store_id, uuid.UUID(tab), None)
    assert len(orders) == 1
    async with world.db.tenant(world.a.tenant_id) as session:
        query = (
            select(func.count())
            .select_from(KitchenTicket)
            .where(KitchenTicket.order_id == orders[0].order_id)
        )
        assert (await session.execute(query)).scalar_one() == 0

    # A new hub on the same database (a restart, or another node): the tab is there as it was.
    settings = load_settings(env={}, database_url=database_url, fiscal_runner="hub")
    async with running_hub(settings) as (host, services):
        world.url = f"ws://{host}/ws"
        fresh = await open_client(world, "cashier")
        assert services.actors.lookup(floor_address(world.a.tenant_id, world.a.store_id)) is None
        after = ok(await fresh.call("tab.get", {"tab_id": tab}))
        assert after == before | {"items": after["items"], "rev": after["rev"]}
        assert [i["sent"] for i in after["items"]] == [True, False]
        floor = ok(await fresh.call("floor.get", {"store_id": r.store}))
        assert tables_with_tabs(floor) == {"T1": tab}
        # Its floor actor started with the first command and, before the next one (floor.get), delivered
        # the order no station had.
        kds = await open_client(world, "kitchen")
        hot = await tickets(kds, k.cal)
        assert [(t["order_id"], t["table"], [i["modifiers"] for i in t["items"]]) for t in hot] == [
            (str(orders[0].order_id), "T1", [["palta"]])
        ]
        fired = ok(await fresh.call("tab.fire", {"tab_id": tab, "course": 2}))
        assert all(i["sent"] for i in fired["items"]) and fired["rev"] == after["rev"] + 1
        await fresh.socket.close()
        await kds.socket.close()


async def test_bad_input_is_refused_and_changes_nothing(world: World) -> None:
    r = await set_restaurant(world)
    k = r.k
    waiter, kds = await open_client(world, "cashier"), await open_client(world, "kitchen")
    await open_cash(waiter, r.register)
    tab = ok(await waiter.call("tab.open", {"table_id": r.tables["M1"]}))["tab_id"]
    ok(await waiter.call("tab.add", add(tab, k.plato)))
    ok(await waiter.call("tab.add", add(tab, k.jugo, course=2, hold=True)))
    ok(await waiter.call("tab.send", {"tab_id": tab}))
    busy = ok(await waiter.call("tab.open", {"table_id": r.tables["M2"]}))["tab_id"]
    state = ok(await waiter.call("tab.get", {"tab_id": tab}))

    # Unknown ids, and another tenant's restaurant, are not found.
    await make_restaurant(world, world.b)
    b_table, b_tab = await _foreign_tab(world)
    for type_, payload in [
        ("tab.get", {"tab_id": str(uuid.uuid4())}),
        ("tab.add", add(str(uuid.uuid4()), k.plato)),
        ("tab.open", {"table_id": str(uuid.uuid4())}),
        ("tab.get", {"tab_id": b_tab}),
        ("tab.pay", {"tab_id": b_tab, "register_id": r.register, "tenders": [{"kind": "cash", "amount": 1}]}),
        ("tab.open", {"table_id": b_table}),
        ("floor.get", {"store_id": str(world.b.store_id)}),
        ("subscribe", {"stream": f"floor:{world.b.store_id}"}),
        ("tab.add", add(tab, str(world.b.product_id))),
        ("tab.move", {"tab_id": tab, "table_id": b_table}),
        ("tab.merge", {"tab_id": tab, "into_tab_id": b_tab}),
        ("tab.remove", {"tab_id": tab, "n": 9}),
    ]:
        refused(await waiter.call(type_, payload), "not_found")
    # Kitchen staff have nothing to do with tabs or the floor.
    for type_, payload in [
        ("floor.get", {"store_id": r.store}),
        ("tab.get", {"tab_id": tab}),
        ("tab.open", {"table_id": r.tables["M3"]}),
        ("subscribe", {"stream": f"floor:{r.store}"}),
    ]:
        refused(await kds.call(type_, payload), "forbidden")
    # A waiter bound to another store may not touch this one's tabs.
    other_store, _, _ = await add_store(world.db, world.a.tenant_id, "009")
    await bound_user(world, "cashier", other_store)
    elsewhere = await open_client(world, "cashier-elsewhere")
    refused(await elsewhere.call("tab.get", {"tab_id": tab}), "forbidden")
    refused(await elsewhere.call("floor.get", {"store_id": r.store}), "forbidden")
    refused(await elsewhere.call("subscribe", {"stream": f"floor:{r.store}"}), "forbidden")
    # A retail store has no floor.
    refused(await waiter.call("floor.get", {"store_id": str(other_store)}), "not_restaurant")
    refused(await waiter.call("subscribe", {"stream": f"floor:{other_store}"}), "not_restaurant")
    b_waiter = await open_client(world, "cashier", world.b)
    async with world.db.tenant(world.b.tenant_id) as session:
        await session.execute(update(Store).where(Store.id == world.b.store_id).values(mode="retail"))
    refused(await b_waiter.call("tab.get", {"tab_id": b_tab}), "not_restaurant")
    refused(await b_waiter.call("floor.get", {"store_id": str(world.b.store_id)}), "not_restaurant")

    # The tab's own refusals.
    refused(await waiter.call("tab.remove", {"tab_id": tab, "n": 1}), "already_sent")
    refused(await waiter.call("tab.set_qty", {"tab_id": tab, "n": 1, "quantity": 2000}), "already_sent")
    refused(await waiter.call("tab.merge", {"tab_id": tab, "into_tab_id": tab}), "invalid")
    busy_move = await waiter.call("tab.move", {"tab_id": tab, "table_id": r.tables["M2"]})
    refused(busy_move, "table_busy")
    assert busy_move["details"]["tab_id"] == busy
    busy_open = await waiter.call("tab.open", {"table_id": r.tables["M1"]})
    refused(busy_open, "table_busy")
    assert busy_open["details"]["tab_id"] == tab
    refused(await waiter.call("tab.add", add(tab, k.jugo, modifier_ids=[r.modifiers["palta"]])), "invalid")
    refused(
        await waiter.call("tab.add", add(tab, k.plato, modifier_ids=[r.modifiers["palta"]] * 2)), "invalid"
    )
    refused(await waiter.call("tab.add", add(tab, k.plato, quantity=1500)), "invalid")
    refused(await waiter.call("tab.add", {"tab_id": tab}), "invalid")
    refused(await waiter.call("tab.add", add(tab, k.plato, course=6)), "invalid")
    refused(await waiter.call("tab.void", {"tab_id": tab, "n": 1, "reason": "se enfrió"}), "forbidden")
    refused(await waiter.call("tab.close", {"tab_id": tab}), "unpaid_items")
    refused(
        await waiter.call("tab.pay", {"tab_id": tab, "register_id": r.register, "tip": 100,
                                      "tenders": [{"kind": "cash", "amount": 2000}]}),
        "insufficient_tender",
    )  # fmt: skip
    refused(
        await waiter.call("tab.pay", {"tab_id": tab, "register_id": r.register, "parts": 2,
                                      "tenders": [{"kind": "cash", "amount": 5000}]}),
        "invalid",
    )  # fmt: skip
    refused(
        await waiter.call("tab.pay", {"tab_id": tab, "register_id": r.register,
                                      "items": [{"n": 1, "quantity": 2000}],
                                      "tenders": [{"kind": "cash", "amount": 5000}]}),
        "invalid",
    )  # fmt: skip
    assert ok(await waiter.call("tab.get", {"tab_id": tab})) == state
    async with world.db.tenant(world.a.tenant_id) as session:
        assert (await session.execute(select(func.count()).select_from(Sale))).scalar_one() == 0

    # A manager voids a sent item: it stays listed, not charged. Remove works on unsent ones.
    manager = await open_client(world, "manager")
    voided = ok(await manager.call("tab.void", {"tab_id": tab, "n": 1, "reason": "se enfrió"}))
    assert (voided["items"][0]["voided"], voided["items"][0]["void_reason"], voided["total"]) == (
        True,
        "se enfrió",
        1000,
    )
    refused(await waiter.call("tab.void", {"tab_id": tab, "n": 2, "reason": "no lo quiere"}), "forbidden")
    removed = ok(await waiter.call("tab.remove", {"tab_id": tab, "n": 2}))
    assert [i["n"] for i in removed["items"]] == [1] and removed["total"] == 0
    closed = ok(await waiter.call("tab.close", {"tab_id": tab}))
    assert closed["status"] == "closed" and closed["closed_at"]

    # A restaurant without a kitchen station: nothing is marked sent.
    bare = await _bare_restaurant(world)
    bare_tab = ok(await waiter.call("tab.open", {"table_id": bare}))["tab_id"]
    ok(await waiter.call("tab.add", add(bare_tab, k.plato)))
    refused(await waiter.call("tab.send", {"tab_id": bare_tab}), "no_station")
    assert [i["sent"] for i in ok(await waiter.call("tab.get", {"tab_id": bare_tab}))["items"]] == [False]


async def _foreign_tab(world: World) -> tuple[str, str]:
    """Tenant B's restaurant: a table and an open tab on it (straight into the database)."""
    b = world.b
    async with world.db.tenant(b.tenant_id) as session:
        area = FloorArea(store_id=b.store_id, name="Salón")
        session.add(area)
        await session.flush()
        table = FloorTable(store_id=b.store_id, area_id=area.id, name="B1", seats=2)
        session.add(table)
        await session.flush()
        tab = Tab(store_id=b.store_id, table_id=table.id, number=1, guests=1)
        session.add(tab)
        await session.flush()
        session.add(
            TabItem(tab_id=tab.id, n=1, product_id=b.product_id, name="Leche", unit_price=1090, quantity=1000)
        )
        return str(table.id), str(tab.id)


async def _bare_restaurant(world: World) -> str:
    """Another restaurant store of tenant A, with a table and no kitchen station: the table's id."""
    store_id, _, _ = await add_store(world.db, world.a.tenant_id, "010")
    async with world.db.tenant(world.a.tenant_id) as session:
        await session.execute(update(Store).where(Store.id == store_id).values(mode="restaurant"))
        area = FloorArea(store_id=store_id, name="Barra")
        session.add(area)
        await session.flush()
        table = FloorTable(store_id=store_id, area_id=area.id, name="B1", seats=2)
        session.add(table)
        await session.flush()
        return str(table.id)


async def test_an_empty_restaurant_floor(world: World) -> None:
    # A restaurant with nothing on its floor yet: floor.get answers an empty plan at rev 0.
    await make_restaurant(world, world.a)
    waiter = await open_client(world, "cashier")
    floor = ok(await waiter.call("floor.get", {"store_id": str(world.a.store_id)}))
    assert (floor["areas"], floor["rev"], floor["tip_percent"]) == ([], 0, 10)
