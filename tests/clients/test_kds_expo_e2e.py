"""The kitchen's expo screen in a real browser against a real hub: the demo restaurant's two stations at once.

The waiter's socket sends orders with dishes for both stations (hot dishes to "Cocina caliente", drinks and
desserts to "Fríos y bar"); the expo shows one card per order with each station's part. The cook's socket
bumps tickets as a station's KDS would, and the expo follows live; when every part is ready the order says
"Listo para servir", and serving it from the expo takes it off the screen and off the stations. Ages turn
yellow and red by each station's own thresholds. A socket dropped while the kitchen keeps working comes
back equal to the hub's state, resumed from its stream positions. A cashier is refused by the hub.
Screenshots (TV 1920x1080 and tablet 1280x800) go to tests/artifacts/till/expo-*.png (``support.shot``).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from hub.gateway.connection import Connection
from hub.seed.demo import DEMO_PASSWORD
from tests.clients.conftest import Demo
from tests.clients.restaurant_support import (
    RESTAURANT,
    check_kds_page,
    kds_texts_asked,
    missing_kds_texts,
    restaurant_page,
)
from tests.clients.support import WAIT_MS, FrameLog, Gate, call_ok, check_served_with_csp, shot
from tests.clients.test_kds_e2e import TABLET, TV, order, page_seconds, restaurant, socket_of

pytestmark = pytest.mark.timeout(240)

expect.set_options(timeout=WAIT_MS)


async def open_expo(page: Any, demo: Demo, query: str = "") -> None:
    await page.goto(f"{demo.base}/kds/expo.html{query}")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#app")).to_have_attribute("data-loaded", "true")


async def set_thresholds(demo: Demo, station_id: str, warn: int, late: int) -> None:
    """The owner changes a station's yellow and red ages (REST; every screen hears it on the stream)."""
    async with httpx.AsyncClient(base_url=demo.base) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"tenant": RESTAURANT, "username": "duena", "password": DEMO_PASSWORD}
        )
        login.raise_for_status()
        response = await http.put(
            f"/api/v1/kitchen/stations/{station_id}/settings",
            json={"warn_after_s": warn, "late_after_s": late},
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
        )
        response.raise_for_status()


async def page_parts(page: Any) -> dict[str, str]:
    """Every part the expo shows: ticket id -> state."""
    pairs = await page.eval_on_selector_all(
        ".part", "nodes => nodes.map(n => [n.dataset.ticket, n.dataset.state])"
    )
    return dict(pairs)


def hub_parts(expo: dict[str, Any]) -> dict[str, str]:
    return {t["ticket_id"]: t["state"] for s in expo["stations"] for t in s["tickets"]}


def card(page: Any, routed: dict[str, Any]) -> Any:
    return page.locator(f".order[data-order='{routed['order_id']}']")


def part(page: Any, ticket: dict[str, Any]) -> Any:
    return page.locator(f".part[data-ticket='{ticket['ticket_id']}']")


def count(page: Any, station_id: str, state: str) -> Any:
    return page.locator(f".station-sum[data-station='{station_id}'] .count[data-state='{state}'] dd")


async def test_the_expo_follows_both_stations_and_serves_ready_orders(demo: Demo, browser: Any) -> None:
    place = await restaurant(demo)
    hot, cold = place["stations"]["CAL"], place["stations"]["FRI"]
    waiter, cook = await socket_of(demo, "mesero"), await socket_of(demo, "cocina")

    # The TV at the pass: no store in the address, the page finds it from the kitchen's stations.
    context, page = await restaurant_page(browser, demo, TV)
    await context.clock.install()
    await open_expo(page, demo)
    assert f"store={place['store_id']}" in page.url
    await expect(page.locator(".station-sum .station-name")).to_have_text(["Cocina caliente", "Fríos y bar"])
    await expect(page.locator("#empty")).to_be_visible()

    # An order for both stations: one card, the hot line's part and the cold line's part, both new.
    dishes = [("Seco de pollo", 2000, ["sin cebolla"]), ("Jugo de mora", 1000, []), ("Encebollado", 1000, [])]
    seven = await call_ok(waiter, "kitchen.order", order(place, "7", dishes))
    tickets = {t["station_id"]: t for t in seven["tickets"]}
    assert set(tickets) == {hot, cold}
    seven_card = card(page, seven)
    await expect(seven_card).to_be_visible()
    await expect(seven_card.locator(".table")).to_have_text("Mesa 7")
    await expect(seven_card.locator(".meta")).to_have_text("Luis · fondo")
    await expect(seven_card.locator(".part .station-name")).to_have_text(["Cocina caliente", "Fríos y bar"])
    await expect(part(page, tickets[hot]).locator(".part-item .name")).to_have_text(
        ["Seco de pollo", "Encebollado"]
    )
    await expect(part(page, tickets[hot]).locator(".extra")).to_have_text("sin cebolla")
    await expect(part(page, tickets[cold]).locator(".badge")).to_have_text("Nuevo")
    await expect(seven_card).to_have_attribute("data-ready", "none")
    await expect(seven_card.locator(".progress")).to_have_text("0 de 2 listos")
    await expect(count(page, hot, "new")).to_have_text("1")
    await expect(count(page, cold, "new")).to_have_text("1")
    await expect(page.locator("#order-count")).to_have_text("1 pedido")

    # Two more orders: drinks only for table 3, and table 12 for both lines.
    three = await call_ok(waiter, "kitchen.order", order(place, "3", [("Limonada", 3000, ["sin hielo"])]))
    dishes = [
        ("Churrasco", 1000, ["término medio"]),
        ("Locro de papa", 2000, []),
        ("Cerveza nacional", 2000, []),
    ]
    twelve = await call_ok(
        waiter, "kitchen.order", order(place, "12", [*dishes, ("Helado de paila", 1000, [])])
    )
    await expect(page.locator(".order")).to_have_count(3)
    await expect(page.locator(".order .table")).to_have_text(["Mesa 7", "Mesa 3", "Mesa 12"])  # oldest first
    await expect(count(page, cold, "new")).to_have_text("3")

    # The hot line bumps table 7 twice (as its KDS does): the expo follows, part and summary.
    hot7 = {"station_id": hot, "ticket_id": tickets[hot]["ticket_id"]}
    await call_ok(cook, "kitchen.bump", hot7)
    await expect(part(page, tickets[hot])).to_have_attribute("data-state", "in_progress")
    await expect(part(page, tickets[hot]).locator(".badge")).to_have_text("En preparación")
    await expect(count(page, hot, "in_progress")).to_have_text("1")
    await call_ok(cook, "kitchen.bump", hot7)
    await expect(part(page, tickets[hot])).to_have_attribute("data-state", "ready")
    await expect(seven_card).to_have_attribute("data-ready", "some")
    await expect(seven_card.locator(".progress")).to_have_text("1 de 2 listos")
    await expect(seven_card.locator(".serve-all")).to_have_count(0)
    # The cold line marks the juice done: the ticket is ready, so is the whole order.
    item = {"station_id": cold, "ticket_id": tickets[cold]["ticket_id"], "item_id": 1}
    await call_ok(cook, "kitchen.item_done", item)
    await expect(seven_card).to_have_attribute("data-ready", "all")
    await expect(seven_card.locator(".serve-all")).to_contain_text("Listo para servir")
    await expect(page.locator("#app")).to_have_attribute("data-ready", "1")
    await call_ok(cook, "kitchen.bump", {"station_id": hot, "ticket_id": twelve["tickets"][0]["ticket_id"]})
    await expect(count(page, hot, "in_progress")).to_have_text("1")
    await shot(page, "expo-01-tv-orders")

    # Each station's own thresholds: the cold line turns yellow at 2 minutes and red at 5, the hot line
    # keeps its 8 and 15. The change reaches the expo on the cold line's stream.
    await set_thresholds(demo, cold, 120, 300)
    await expect(page.locator(f".station-sum[data-station='{cold}']")).to_have_attribute(
        "data-rev", str((await call_ok(cook, "kitchen.get", {"station_id": cold}))["rev"])
    )
    await context.clock.set_system_time(await page_seconds(page) + 3 * 60)
    await expect(part(page, tickets[cold])).to_have_attribute("data-age", "warn")
    await expect(part(page, tickets[hot])).to_have_attribute("data-age", "ok")
    await expect(seven_card).to_have_attribute("data-age", "warn")
    await expect(part(page, tickets[cold]).locator(".timer")).to_have_text(re.compile(r"^3:\d\d$"))
    await context.clock.set_system_time(await page_seconds(page) + 3 * 60)
    await expect(part(page, tickets[cold])).to_have_attribute("data-age", "late")
    await expect(part(page, tickets[hot])).to_have_attribute("data-age", "ok")
    await expect(seven_card).to_have_attribute("data-age", "late")
    await expect(page.locator(f".station-sum[data-station='{cold}']")).to_have_attribute("data-age", "late")
    await expect(page.locator(f".station-sum[data-station='{hot}']")).to_have_attribute("data-age", "ok")
    await shot(page, "expo-02-tv-ready-and-late")

    # The same screen on a 10" tablet.
    tablet_context, tablet = await restaurant_page(browser, demo, TABLET)
    await open_expo(tablet, demo, f"?store={place['store_id']}")
    await expect(tablet.locator(".order")).to_have_count(3)
    await expect(card(tablet, seven)).to_have_attribute("data-ready", "all")
    await shot(tablet, "expo-03-tablet-orders")

    # Serving the whole of table 7 from the expo: both tickets leave the stations, the card the screens.
    await seven_card.locator(".serve-all").click()
    await expect(seven_card).to_have_count(0)
    await expect(card(tablet, seven)).to_have_count(0)
    await expect(page.locator(".toast.ok")).to_contain_text("Mesa 7")
    expo = await call_ok(cook, "kitchen.expo", {"store_id": place["store_id"]})
    assert tickets[hot]["ticket_id"] not in hub_parts(expo) and tickets[cold]["ticket_id"] not in hub_parts(
        expo
    )
    assert await page_parts(page) == hub_parts(expo)
    await expect(count(page, hot, "ready")).to_have_text("0")

    # One ready part on its own: table 3's lemonade, bumped ready at its station, served with a tap.
    lemonade = three["tickets"][0]
    for _ in range(2):
        await call_ok(cook, "kitchen.bump", {"station_id": cold, "ticket_id": lemonade["ticket_id"]})
    await expect(part(page, lemonade)).to_have_attribute("data-state", "ready")
    await part(page, lemonade).click()
    await expect(card(page, three)).to_have_count(0)
    await expect(card(page, twelve)).to_be_visible()  # a part that is not ready is not served by a tap
    await part(page, twelve["tickets"][0]).click()
    await expect(part(page, twelve["tickets"][0])).to_have_attribute("data-state", "in_progress")
    expo = await call_ok(cook, "kitchen.expo", {"store_id": place["store_id"]})
    hot12, cold12 = (t["ticket_id"] for t in twelve["tickets"])
    assert await page_parts(page) == hub_parts(expo) == {hot12: "in_progress", cold12: "new"}
    await shot(tablet, "expo-04-tablet-after-serving")

    # The station screen links to the expo and back.
    await page.click("#to-station")
    await page.wait_for_url(re.compile(r"/kds/$"))
    await page.goto(f"{demo.base}/kds/?station={hot}")
    await page.click("#to-expo")
    await page.wait_for_url(re.compile(r"/kds/expo\.html\?store="))
    await expect(page.locator(".order")).to_have_count(1)

    assert page.errors == [] and tablet.errors == []
    for each in (waiter, cook):
        await each.socket.close()
    await tablet_context.close()
    await context.close()


def hub_closes(connection: Connection) -> None:
    """The hub's own way of dropping a socket (a client too slow to drain its queue: close 1013)."""
    connection.too_slow.set()
    connection.outgoing.put_nowait(None)


async def test_the_expo_equals_the_hub_after_a_dropped_connection(demo: Demo, browser: Any) -> None:
    place = await restaurant(demo)
    hot, cold = place["stations"]["CAL"], place["stations"]["FRI"]
    waiter, cook = await socket_of(demo, "mesero"), await socket_of(demo, "cocina")
    ours = set(demo.services.sockets)  # the test's own sockets: never dropped
    first = await call_ok(
        waiter, "kitchen.order", order(place, "1", [("Humita", 1000, []), ("Cola", 1000, [])])
    )

    context, page = await restaurant_page(browser, demo, TABLET)
    gate = Gate()
    await gate.install(page)
    await open_expo(page, demo)
    await expect(card(page, first).locator(".part")).to_have_count(2)
    # Each station's stream is followed from the position kitchen.expo answered, not from scratch.
    expo = next(f for f in gate.delivered if f.get("type") == "reply" and "stations" in f.get("payload", {}))
    positions = {s["stream"]: s["seq"] for s in expo["payload"]["stations"]}
    subscribes = {
        f["payload"]["stream"]: f["payload"].get("since") for f in gate.sent if f["type"] == "subscribe"
    }
    assert subscribes == positions
    assert set(positions) == {f"kitchen:{hot}", f"kitchen:{cold}"}

    gate.open = False
    for connection in [c for c in demo.services.sockets if c not in ours]:
        hub_closes(connection)
    await expect(page.locator("#conn")).to_have_attribute("data-state", re.compile("reconnecting|offline"))

    # While the screen is away, 21 changes: new orders, bumps, serves, an item done, a recall, new thresholds.
    hot1, cold1 = ({t["station_id"]: t["ticket_id"] for t in first["tickets"]}[s] for s in (hot, cold))
    for _ in range(3):
        await call_ok(cook, "kitchen.bump", {"station_id": hot, "ticket_id": hot1})  # ready, then served
        await call_ok(cook, "kitchen.bump", {"station_id": cold, "ticket_id": cold1})
    routed = []
    for table in ("2", "4", "5", "6"):
        dishes = [("Bolón mixto", 1000, []), ("Limonada", 2000, []), ("Fritada", 1000, ["sin grasa"])]
        routed.append(await call_ok(waiter, "kitchen.order", order(place, table, dishes)))
    for each in routed[:2]:
        for ticket in each["tickets"]:
            await call_ok(
                cook, "kitchen.bump", {"station_id": ticket["station_id"], "ticket_id": ticket["ticket_id"]}
            )
    done = {"station_id": hot, "ticket_id": routed[2]["tickets"][0]["ticket_id"], "item_id": 1}
    await call_ok(cook, "kitchen.item_done", done)
    await call_ok(cook, "kitchen.recall", {"station_id": cold})  # the cola of table 1 comes back, ready
    await set_thresholds(demo, hot, 300, 600)
    await expect(card(page, routed[0])).to_have_count(0)  # nothing reaches the screen meanwhile
    await shot(page, "expo-05-tablet-reconnecting")

    gate.open = True
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=30_000)
    expo = await call_ok(cook, "kitchen.expo", {"store_id": place["store_id"]})
    for station in expo["stations"]:
        summary = page.locator(f".station-sum[data-station='{station['station']['station_id']}']")
        await expect(summary).to_have_attribute("data-rev", str(station["rev"]))
    assert await page_parts(page) == hub_parts(expo)
    assert len(hub_parts(expo)) == 9  # table 1's cola and both parts of tables 2, 4, 5 and 6
    await expect(page.locator(".order")).to_have_count(5)
    await expect(card(page, first)).to_have_attribute("data-ready", "all")  # the recalled cola alone
    for name in ("new", "in_progress", "ready"):
        for station in expo["stations"]:
            expected = sum(1 for t in station["tickets"] if t["state"] == name)
            await expect(count(page, station["station"]["station_id"], name)).to_have_text(str(expected))
    # Resumed from where it was: the missed events were replayed, no station was loaded again.
    resumes = [f for f in gate.sent if f["type"] == "subscribe" and f["payload"].get("since") is not None]
    assert len(resumes) >= 4
    assert [f["type"] for f in gate.sent].count("kitchen.expo") == 1
    assert [f["type"] for f in gate.sent].count("kitchen.get") == 0
    await shot(page, "expo-06-tablet-resumed")

    assert page.errors == []
    for each in (waiter, cook):
        await each.socket.close()
    await context.close()


async def test_a_cashier_is_refused_the_expo(demo: Demo, browser: Any) -> None:
    place = await restaurant(demo)
    waiter = await socket_of(demo, "mesero")
    refused = await waiter.call("kitchen.expo", {"store_id": place["store_id"]})
    assert refused["type"] == "error" and refused["code"] == "forbidden", refused

    context, page = await restaurant_page(browser, demo, TABLET, "mesero")
    frames = FrameLog()
    frames.attach(page)
    # The store in the address: the page asks the hub, which refuses; the page says so.
    await page.goto(f"{demo.base}/kds/expo.html?store={place['store_id']}")
    answer = await frames.answer_to("kitchen.expo")
    assert answer["type"] == "error" and answer["code"] == "forbidden", answer
    await expect(page.locator("#denied")).to_be_visible()
    await expect(page.locator("#denied")).to_have_attribute("data-reason", "forbidden")
    await expect(page.locator("#denied-text")).to_contain_text("no puede ver la expo")
    await expect(page.locator("#app")).to_be_hidden()
    await shot(page, "expo-07-cashier-refused")
    # Without it: the kitchen's stations are not for cashiers either.
    await page.goto(f"{demo.base}/kds/expo.html")
    await expect(page.locator("#denied")).to_have_attribute("data-reason", "forbidden")
    assert page.errors == []
    await waiter.socket.close()
    await context.close()


# -- the files ----------------------------------------------------------------------------------------


def test_the_expo_page_is_spanish_csp_clean_and_says_nothing_of_its_own() -> None:
    check_kds_page("expo.html")


def test_every_text_the_expo_asks_for_is_in_the_catalog() -> None:
    asked = kds_texts_asked("expo.js", "expo_view.js", "screen.js", "shared.js", "station_tickets.js")
    asked.add("expo.title")  # the page's title, named to loadTexts
    states = ("new", "in_progress", "ready")
    asked |= {f"expo.state.{state}" for state in states} | {f"expo.count.{state}" for state in states}
    asked |= {f"expo.denied.{reason}" for reason in ("forbidden", "not_found", "none")}
    asked |= {f"errors.{code}" for code in ("not_found", "forbidden", "timeout", "offline")}
    assert len(asked) > 25  # the pattern found the calls
    assert missing_kds_texts(asked) == []


async def test_the_expo_is_served_with_the_strict_csp(demo: Demo) -> None:
    await check_served_with_csp(
        demo,
        [
            ("/kds/expo.html", "text/html"),
            ("/kds/expo.js", "javascript"),
            ("/kds/expo_view.js", "javascript"),
            ("/kds/shared.js", "javascript"),
            ("/kds/screen.js", "javascript"),
            ("/kds/station_tickets.js", "javascript"),
            ("/kds/expo.css", "text/css"),
        ],
    )
