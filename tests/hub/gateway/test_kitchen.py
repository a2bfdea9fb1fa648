"""The kitchen over real sockets: orders routed to stations, the KDS's commands, resuming after a dropped
connection, a restarted station, the routing rules' REST API, and every refusal."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from actors.kitchen import kitchen_address
from hub.auth.tokens import bearer_token, digest, new_secret
from schema.models import (
    ApiToken,
    Category,
    KitchenItem,
    KitchenRoute,
    KitchenStation,
    KitchenTicket,
    Product,
    User,
)
from tests.hub.gateway.conftest import Client, TenantWorld, World, connect
from tests.support.tenants import add_store


@dataclass
class Kitchen:
    store: str
    cal: str  # hot line: Platos
    fri: str  # cold line and bar: Bebidas
    ant: str  # first station by code and no route of its own: gets every unrouted item
    plato: str
    jugo: str
    postre: str  # category Postres, not routed
    leche: str  # the world's product, without a category
    b_station: str  # tenant B's only station
    b_product: str


async def stations_for(world: World, tenant: TenantWorld, codes: list[str]) -> dict[str, str]:
    async with world.db.tenant(tenant.tenant_id) as session:
        rows = {
            code: KitchenStation(store_id=tenant.store_id, code=code, name=f"Estación {code}")
            for code in codes
        }
        session.add_all(rows.values())
        await session.flush()
        return {code: str(row.id) for code, row in rows.items()}


async def set_kitchen(world: World) -> Kitchen:
    a = world.a
    # ANT is created last: "first by code" must not mean "first created".
    stations = await stations_for(world, a, ["CAL", "FRI", "ANT"])
    b_stations = await stations_for(world, world.b, ["CAL"])
    async with world.db.tenant(a.tenant_id) as session:
        cats = {name: Category(name=name) for name in ("Platos", "Bebidas", "Postres")}
        session.add_all(cats.values())
        await session.flush()
        products = {
            key: Product(sku=f"K{n}", name=name, search_name=name.lower(), price=1000, tax_class="cl_iva",
                         category_id=cats[cat].id)
            for n, (key, name, cat) in enumerate([("plato", "Seco de pollo", "Platos"),
                                                  ("jugo", "Jugo de mora", "Bebidas"),
                                                  ("postre", "Helado de paila", "Postres")])
        }  # fmt: skip
        session.add_all(products.values())
        session.add_all(
            KitchenRoute(store_id=a.store_id, category_id=cats[cat].id, station_id=uuid.UUID(stations[code]))
            for cat, code in (("Platos", "CAL"), ("Bebidas", "FRI"))
        )
        await session.flush()
    return Kitchen(
        store=str(a.store_id), cal=stations["CAL"], fri=stations["FRI"], ant=stations["ANT"],
        plato=str(products["plato"].id), jugo=str(products["jugo"].id), postre=str(products["postre"].id),
        leche=str(a.product_id), b_station=b_stations["CAL"], b_product=str(world.b.product_id),
    )  # fmt: skip


async def open_client(world: World, role: str, tenant: TenantWorld | None = None) -> Client:
    """A welcomed socket of tenant A's (or ``tenant``'s) user of ``role`` (or any token name)."""
    socket = await connect(world, (tenant or world.a).tokens[role])
    world.sockets.append(socket)
    client = Client(socket)
    assert (await client.recv())["type"] == "welcome"
    return client


def ok(frame: dict[str, Any]) -> Any:
    assert frame["type"] == "reply", frame
    return frame["payload"]


def refused(frame: dict[str, Any], code: str) -> None:
    assert frame["type"] == "error", frame
    assert frame["code"] == code, frame


def item(product: str, quantity: int = 1000, **extra: Any) -> dict[str, Any]:
    return {"product_id": product, "quantity": quantity} | extra


def order(k: Kitchen, items: list[dict[str, Any]], table: str = "12", **extra: Any) -> dict[str, Any]:
    return {"store_id": k.store, "order_id": str(uuid.uuid4()), "table": table, "server": "Luis",
            "course": "fondo", "items": items} | extra  # fmt: skip


class Screen:
    """What a KDS shows: a station loaded with kitchen.get, then kept by applying its stream's events."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.stream = state["stream"]
        self.rev, self.seq, self.epoch = state["rev"], state["seq"], state["epoch"]
        self.station = state["station"]
        self.tickets = {t["ticket_id"]: t for t in state["tickets"]}
        self.applied = 0

    def apply(self, frame: dict[str, Any]) -> None:
        self.seq = frame["seq"]
        payload = frame["payload"]
        if payload["rev"] <= self.rev:  # already in what the screen shows
            return
        assert payload["rev"] == self.rev + 1, f"missed a change: at {self.rev}, got {payload['rev']}"
        self.rev = payload["rev"]
        self.applied += 1
        if frame["event"] == "KitchenStationChanged":
            self.station = payload
        elif payload["state"] == "served":
            self.tickets.pop(payload["ticket_id"], None)
        else:
            self.tickets[payload["ticket_id"]] = payload

    async def catch_up(self, client: Client, rev: int, timeout: float = 10.0) -> None:
        """Apply the stream's events the client has received (and receives) until the screen is at ``rev``."""
        async with asyncio.timeout(timeout):
            while True:
                mine = [f for f in client.frames if f.get("type") == "event" and f["stream"] == self.stream]
                client.frames = [f for f in client.frames if f not in mine]  # other streams' stay
                for frame in mine:
                    self.apply(frame)
                if self.rev >= rev:
                    return
                await client.recv()

    def matches(self, state: dict[str, Any]) -> bool:
        return self.rev == state["rev"] and self.tickets == {t["ticket_id"]: t for t in state["tickets"]}


async def ticket_count(world: World) -> tuple[int, int]:
    """Tenant A's kitchen tickets and items."""
    async with world.db.tenant(world.a.tenant_id) as session:
        tickets = (await session.execute(select(func.count()).select_from(KitchenTicket))).scalar_one()
        items = (await session.execute(select(func.count()).select_from(KitchenItem))).scalar_one()
    return int(tickets), int(items)


async def test_an_order_is_routed_to_stations_by_category_once(world: World) -> None:
    k = await set_kitchen(world)
    cashier, kds = await open_client(world, "cashier"), await open_client(world, "kitchen")
    screens = {}
    for station in (k.cal, k.fri, k.ant):
        screens[station] = Screen(ok(await kds.call("kitchen.get", {"station_id": station})))
        assert screens[station].tickets == {}
        assert (await kds.call("subscribe", {"stream": f"kitchen:{station}"}))["type"] == "subscribed"
    before = await ticket_count(world)

    sent = order(k, [item(k.plato, 2000, modifiers=["sin cebolla"], note="bien cocido"), item(k.jugo),
                     item(k.postre), item(k.leche, 500)], note="cumpleaños")  # fmt: skip
    routed = ok(await cashier.call("kitchen.order", sent))
    assert routed["repeated"] is False
    by_station = {t["station_id"]: t for t in routed["tickets"]}
    assert [t["station_id"] for t in routed["tickets"]] == [k.ant, k.cal, k.fri]  # by station code
    assert [(i["product_id"], i["quantity"]) for i in by_station[k.cal]["items"]] == [(k.plato, 2000)]
    assert by_station[k.cal]["items"][0] == {
        "item_id": 1, "product_id": k.plato, "name": "Seco de pollo", "quantity": 2000,
        "modifiers": ["sin cebolla"], "note": "bien cocido", "state": "new"}  # fmt: skip
    assert [i["product_id"] for i in by_station[k.fri]["items"]] == [k.jugo]
    assert [i["product_id"] for i in by_station[k.ant]["items"]] == [k.postre, k.leche]  # unrouted, in order
    for ticket in routed["tickets"]:
        assert (ticket["table"], ticket["server"], ticket["course"], ticket["note"], ticket["state"]) == (
            "12", "Luis", "fondo", "cumpleaños", "new")  # fmt: skip

    # Each station's screen gets its ticket live, and equals its station's state.
    manager = await open_client(world, "manager")
    for station, screen in screens.items():
        state = ok(await manager.call("kitchen.get", {"station_id": station}))
        await screen.catch_up(kds, state["rev"])
        assert screen.matches(state) and list(screen.tickets) == [by_station[station]["ticket_id"]]
    assert await ticket_count(world) == (before[0] + 3, before[1] + 4)

    # The same order again (a till that lost the reply): the same tickets, nothing new cooked.
    again = ok(await cashier.call("kitchen.order", sent))
    assert again["repeated"] is True and again["tickets"] == routed["tickets"]
    assert await ticket_count(world) == (before[0] + 3, before[1] + 4)


async def test_bump_item_done_and_recall(world: World) -> None:
    k = await set_kitchen(world)
    cashier, kds = await open_client(world, "cashier"), await open_client(world, "kitchen")
    station = k.cal
    first = ok(await cashier.call("kitchen.order", order(k, [item(k.plato), item(k.plato, note="sin sal")])))
    ticket = first["tickets"][0]
    tid, rev = ticket["ticket_id"], ticket["rev"]
    cmd = {"station_id": station, "ticket_id": tid}

    started = ok(await kds.call("kitchen.bump", cmd))
    assert started["state"] == "in_progress" and started["started_at"] and started["rev"] == rev + 1
    assert [i["state"] for i in started["items"]] == ["in_progress", "in_progress"]

    one = ok(await kds.call("kitchen.item_done", cmd | {"item_id": 2}))
    assert one["state"] == "in_progress" and [i["state"] for i in one["items"]] == ["in_progress", "ready"]
    again = ok(await kds.call("kitchen.item_done", cmd | {"item_id": 2}))  # a second tap changes nothing
    assert again == one
    done = ok(await kds.call("kitchen.item_done", cmd | {"item_id": 1}))  # the last item: the ticket is ready
    assert done["state"] == "ready" and done["ready_at"] and done["rev"] == rev + 3

    # A bump resent with the same command id (its reply was lost) is answered, not done twice.
    served = ok(await kds.answer(await kds.send("kitchen.bump", cmd, id_="bump-1")))
    assert served["state"] == "served" and served["served_at"]
    assert ok(await kds.answer(await kds.send("kitchen.bump", cmd, id_="bump-1"))) == served
    state = ok(await kds.call("kitchen.get", {"station_id": station}))
    assert state["tickets"] == [] and state["rev"] == rev + 4
    async with world.db.tenant(world.a.tenant_id) as session:
        row = await session.get(KitchenTicket, (world.a.tenant_id, uuid.UUID(tid)))
        assert row is not None and row.state == "served" and row.served_at is not None
    refused(await kds.call("kitchen.bump", cmd), "not_found")  # served: gone from the screen

    # Recall brings back the last bumped-away ticket, ready again.
    back = ok(await kds.call("kitchen.recall", {"station_id": station}))
    assert back["ticket_id"] == tid and back["state"] == "ready" and back["served_at"] is None
    assert [i["state"] for i in back["items"]] == ["ready", "ready"]
    state = ok(await kds.call("kitchen.get", {"station_id": station}))
    assert [t["ticket_id"] for t in state["tickets"]] == [tid] and state["rev"] == rev + 5
    refused(await kds.call("kitchen.recall", {"station_id": k.fri}), "nothing_to_recall")

    # A manager works the screens too.
    manager = await open_client(world, "manager")
    assert ok(await manager.call("kitchen.bump", cmd))["state"] == "served"


async def test_a_dropped_kds_resumes_and_equals_the_station(world: World) -> None:
    k = await set_kitchen(world)
    cashier, control = await open_client(world, "cashier"), await open_client(world, "kitchen")
    station = k.cal
    kds = await open_client(world, "kitchen")
    screen = Screen(ok(await kds.call("kitchen.get", {"station_id": station})))
    resumed = await kds.call(
        "subscribe", {"stream": screen.stream, "since": screen.seq, "epoch": screen.epoch}
    )
    assert resumed["type"] == "subscribed", resumed
    first = ok(await cashier.call("kitchen.order", order(k, [item(k.plato)])))
    await screen.catch_up(kds, first["tickets"][0]["rev"])
    await kds.socket.close()

    # 20 changes while the screen is away: 8 new tickets, 11 bumps (some served), an item done.
    tickets = [first["tickets"][0]["ticket_id"]]
    for n in range(8):
        routed = ok(
            await cashier.call("kitchen.order", order(k, [item(k.plato), item(k.plato)], table=str(n)))
        )
        tickets.append(routed["tickets"][0]["ticket_id"])
    for tid in tickets[:4] + tickets[:4] + tickets[:3]:
        ok(await control.call("kitchen.bump", {"station_id": station, "ticket_id": tid}))
    ok(
        await control.call(
            "kitchen.item_done", {"station_id": station, "ticket_id": tickets[5], "item_id": 1}
        )
    )
    server = ok(await control.call("kitchen.get", {"station_id": station}))
    assert server["rev"] == screen.rev + 20
    assert not screen.matches(server)

    kds = await open_client(world, "kitchen")
    resumed = await kds.call(
        "subscribe", {"stream": screen.stream, "since": screen.seq, "epoch": screen.epoch}
    )
    assert resumed["type"] == "subscribed" and resumed["replayed"] > 0, resumed
    await screen.catch_up(kds, server["rev"])
    assert screen.applied == 21
    assert screen.matches(server)
    assert len(screen.tickets) == 9 - 3  # three were served
    assert {t["state"] for t in screen.tickets.values()} == {"new", "in_progress", "ready"}


async def test_a_restarted_station_keeps_its_open_tickets(world: World) -> None:
    k = await set_kitchen(world)
    cashier, kds = await open_client(world, "cashier"), await open_client(world, "kitchen")
    routed = [
        ok(await cashier.call("kitchen.order", order(k, [item(k.plato), item(k.jugo)]))) for _ in range(3)
    ]
    hot = [t["ticket_id"] for r in routed for t in r["tickets"] if t["station_id"] == k.cal]
    ok(await kds.call("kitchen.bump", {"station_id": k.cal, "ticket_id": hot[0]}))
    ok(await kds.call("kitchen.item_done", {"station_id": k.cal, "ticket_id": hot[1], "item_id": 1}))
    before = ok(await kds.call("kitchen.get", {"station_id": k.cal}))

    address = kitchen_address(world.a.tenant_id, uuid.UUID(k.cal))
    assert world.services.actors.lookup(address) is not None
    await world.services.actors.stop_actor(address)  # as after a restart: only the rows remain
    assert world.services.actors.lookup(address) is None

    after = ok(await kds.call("kitchen.get", {"station_id": k.cal}))
    assert world.services.actors.lookup(address) is not None
    assert (after["rev"], after["tickets"], after["station"]) == (
        before["rev"],
        before["tickets"],
        before["station"],
    )
    assert [t["state"] for t in after["tickets"]] == ["in_progress", "ready", "new"]
    bumped = ok(await kds.call("kitchen.bump", {"station_id": k.cal, "ticket_id": hot[0]}))
    assert bumped["state"] == "ready" and bumped["rev"] == before["rev"] + 1


async def test_bad_input_is_refused_and_changes_nothing(world: World) -> None:
    k = await set_kitchen(world)
    cashier, kds = await open_client(world, "cashier"), await open_client(world, "kitchen")
    hot = ok(await cashier.call("kitchen.order", order(k, [item(k.plato)])))["tickets"][0]["ticket_id"]
    state = ok(await kds.call("kitchen.get", {"station_id": k.cal}))

    # Unknown tickets and items, and tickets of another station, are not found.
    refused(
        await kds.call("kitchen.bump", {"station_id": k.cal, "ticket_id": str(uuid.uuid4())}), "not_found"
    )
    refused(await kds.call("kitchen.bump", {"station_id": k.fri, "ticket_id": hot}), "not_found")
    refused(
        await kds.call("kitchen.item_done", {"station_id": k.fri, "ticket_id": hot, "item_id": 1}),
        "not_found",
    )
    refused(
        await kds.call("kitchen.item_done", {"station_id": k.cal, "ticket_id": hot, "item_id": 9}),
        "not_found",
    )
    refused(await kds.call("kitchen.bump", {"station_id": k.cal, "ticket_id": "nope"}), "invalid")
    # Another tenant's station is not found, by command or stream.
    foreign = [
        ("kitchen.get", {"station_id": k.b_station}),
        ("kitchen.recall", {"station_id": k.b_station}),
        ("kitchen.bump", {"station_id": k.b_station, "ticket_id": hot}),
        ("subscribe", {"stream": f"kitchen:{k.b_station}"}),
        ("kitchen.expo", {"store_id": str(world.b.store_id)}),
    ]
    for type_, payload in foreign:
        refused(await kds.call(type_, payload), "not_found")
    # Orders: another tenant's product or store, bad quantities, a store without stations.
    other_store, _, _ = await add_store(world.db, world.a.tenant_id, "009")
    refused(await cashier.call("kitchen.order", order(k, [item(k.b_product)])), "not_found")
    elsewhere_order = order(k, [item(k.plato)])
    refused(
        await cashier.call("kitchen.order", elsewhere_order | {"store_id": str(world.b.store_id)}),
        "not_found",
    )
    refused(
        await cashier.call("kitchen.order", elsewhere_order | {"store_id": str(other_store)}), "no_station"
    )
    refused(await cashier.call("kitchen.order", order(k, [item(k.plato, 0)])), "invalid")
    refused(await cashier.call("kitchen.order", order(k, [])), "invalid")
    b_cashier = await open_client(world, "cashier", world.b)
    b_order = {"store_id": str(world.b.store_id), "order_id": str(uuid.uuid4()), "items": [item(k.b_product)]}
    assert ok(await b_cashier.call("kitchen.order", b_order))["tickets"][0]["station_id"] == k.b_station

    # Kitchen staff see kitchen streams only: no sales totals, no till, no orders.
    refused(await kds.call("subscribe", {"stream": "tenant"}), "forbidden")
    refused(await kds.call("subscribe", {"stream": f"register:{world.a.register_id}"}), "forbidden")
    refused(await kds.call("subscribe", {"stream": f"store:{world.a.store_id}"}), "forbidden")
    refused(await kds.call("cart.get", {"register_id": str(world.a.register_id)}), "forbidden")
    refused(await kds.call("kitchen.order", order(k, [item(k.plato)])), "forbidden")
    # Cashiers send orders but do not work the screens.
    refused(await cashier.call("kitchen.bump", {"station_id": k.cal, "ticket_id": hot}), "forbidden")
    refused(await cashier.call("subscribe", {"stream": f"kitchen:{k.cal}"}), "forbidden")
    # Kitchen staff bound to another store may not touch this one's stations.
    await bound_user(world, "kitchen", other_store)
    elsewhere = await open_client(world, "kitchen-elsewhere")
    refused(await elsewhere.call("kitchen.get", {"station_id": k.cal}), "forbidden")
    refused(await elsewhere.call("kitchen.bump", {"station_id": k.cal, "ticket_id": hot}), "forbidden")

    assert ok(await kds.call("kitchen.get", {"station_id": k.cal}))["rev"] == state["rev"]


async def bound_user(world: World, role: str, store_id: uuid.UUID) -> None:
    """A new user of tenant A with ``role``, bound to ``store_id``: ``tokens["<role>-elsewhere"]``."""
    secret = new_secret()
    async with world.db.tenant(world.a.tenant_id) as session:
        user = User(username=f"{role}-{secret[:6]}", display_name=role, role=role, store_id=store_id,
                    password_hash="x")  # fmt: skip
        session.add(user)
        await session.flush()
        session.add(ApiToken(id=digest(secret), user_id=user.id, name="test"))
    world.a.tokens[f"{role}-elsewhere"] = bearer_token("shk", world.a.tenant_id, secret)


async def test_expo_and_thresholds_and_routes_over_rest(world: World) -> None:
    k = await set_kitchen(world)
    cashier, kds = await open_client(world, "cashier"), await open_client(world, "kitchen")
    ok(await cashier.call("kitchen.order", order(k, [item(k.plato), item(k.jugo)])))
    expo = ok(await kds.call("kitchen.expo", {"store_id": k.store}))
    assert [(s["station"]["code"], len(s["tickets"])) for s in expo["stations"]] == [
        ("ANT", 0),
        ("CAL", 1),
        ("FRI", 1),
    ]
    screen = Screen(expo["stations"][1])
    resumed = await kds.call(
        "subscribe", {"stream": screen.stream, "since": screen.seq, "epoch": screen.epoch}
    )
    assert resumed["type"] == "subscribed"

    auth = {"Authorization": f"Bearer {world.a.tokens['manager']}"}
    kitchen_auth = {"Authorization": f"Bearer {world.a.tokens['kitchen']}"}
    async with httpx.AsyncClient(base_url=world.http + "/api/v1") as http:
        stations = (await http.get("/kitchen/stations", headers=kitchen_auth)).json()
        assert [s["code"] for s in stations] == ["ANT", "CAL", "FRI"]
        assert (stations[1]["warn_after_s"], stations[1]["late_after_s"]) == (480, 900)
        assert (
            await http.get(
                "/kitchen/stations", headers={"Authorization": f"Bearer {world.a.tokens['cashier']}"}
            )
        ).status_code == 403

        # Thresholds go through the station: every screen gets them, numbered with the tickets.
        changed = await http.put(
            f"/kitchen/stations/{k.cal}/settings",
            json={"warn_after_s": 300, "late_after_s": 600},
            headers=auth,
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["warn_after_s"], changed.json()["rev"]) == (300, screen.rev + 1)
        await screen.catch_up(kds, screen.rev + 1)
        assert screen.station["late_after_s"] == 600
        bad = await http.put(
            f"/kitchen/stations/{k.cal}/settings",
            json={"warn_after_s": 600, "late_after_s": 300},
            headers=auth,
        )
        assert bad.status_code == 400
        assert (
            await http.put(
                f"/kitchen/stations/{k.b_station}/settings",
                json={"warn_after_s": 60, "late_after_s": 120},
                headers=auth,
            )
        ).status_code == 404
        assert (
            await http.put(
                f"/kitchen/stations/{k.cal}/settings",
                json={"warn_after_s": 60, "late_after_s": 120},
                headers=kitchen_auth,
            )
        ).status_code == 403

        # Routing rules: read, replace, and the next order follows them.
        routes = (await http.get("/kitchen/routes", params={"store_id": k.store}, headers=auth)).json()
        assert routes["default_station_id"] == k.ant and len(routes["routes"]) == 2
        async with world.db.tenant(world.a.tenant_id) as session:
            postres = (
                await session.execute(select(Category.id).where(Category.name == "Postres"))
            ).scalar_one()
        put = await http.put(
            "/kitchen/routes",
            params={"store_id": k.store},
            headers=auth,
            json={"routes": [{"category_id": str(postres), "station_id": k.fri}]},
        )
        assert put.status_code == 200, put.text
        assert put.json()["routes"] == [{"category_id": str(postres), "station_id": k.fri}]
        routed = ok(await cashier.call("kitchen.order", order(k, [item(k.postre), item(k.plato)])))
        assert [t["station_id"] for t in routed["tickets"]] == [k.ant, k.fri]  # Platos lost its route
        for body, status in [
            ({"routes": [{"category_id": str(postres), "station_id": k.b_station}]}, 404),  # B's station
            ({"routes": [{"category_id": str(uuid.uuid4()), "station_id": k.cal}]}, 404),
            ({"routes": [{"category_id": str(postres), "station_id": k.cal}] * 2}, 400),
        ]:
            assert (
                await http.put("/kitchen/routes", params={"store_id": k.store}, json=body, headers=auth)
            ).status_code == status
        assert (
            await http.get("/kitchen/routes", params={"store_id": str(world.b.store_id)}, headers=auth)
        ).status_code == 404
        assert (
            await http.get("/kitchen/routes", params={"store_id": k.store}, headers=kitchen_auth)
        ).status_code == 403
        assert (
            len(
                (await http.get("/kitchen/routes", params={"store_id": k.store}, headers=auth)).json()[
                    "routes"
                ]
            )
            == 1
        )
