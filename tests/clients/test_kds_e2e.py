"""The kitchen display in a real browser against a real hub: the demo restaurant's cook at her station.

An order sent over a waiter's socket appears on the station's screen with its items and a beep; a tap on
an item marks it done, taps on the ticket bump it to ready and off the screen, "Recuperar" brings it back;
ages turn yellow and red by the station's thresholds. The test checks the page and the hub's own state
(kitchen.get). Screenshots (TV 1920x1080 and tablet 1280x800) go to tests/artifacts/kds/. Also: the
KDS's files are CSP-clean and take every text from i18n/es.json.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from playwright.async_api import expect
from sqlalchemy import select
from websockets.typing import Origin

from hub.auth.tokens import SESSION_COOKIE
from hub.seed.demo import DEMO_PASSWORD
from schema.models import KitchenStation, Product
from tests.clients.conftest import Demo
from tests.clients.restaurant_support import (
    RESTAURANT,
    check_kds_page,
    kds_texts_asked,
    missing_kds_texts,
    restaurant_page,
)
from tests.clients.support import WAIT_MS, call_ok, check_served_with_csp
from tests.hub.gateway.conftest import Client

pytestmark = pytest.mark.timeout(240)

expect.set_options(timeout=WAIT_MS)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "kds"
TV = {"width": 1920, "height": 1080}
TABLET = {"width": 1280, "height": 800}


async def restaurant(demo: Demo) -> dict[str, Any]:
    """The demo restaurant's ids: tenant, store, its two stations by code, some dishes by name."""
    tenant_id = await demo.services.db.tenant_id_by_slug(RESTAURANT)
    assert tenant_id is not None
    async with demo.services.db.tenant(tenant_id) as session:
        stations = {s.code: s for s in (await session.execute(select(KitchenStation))).scalars()}
        products = {p.name: str(p.id) for p in (await session.execute(select(Product))).scalars()}
    return {
        "tenant_id": tenant_id,
        "store_id": str(stations["CAL"].store_id),
        "stations": {code: str(s.id) for code, s in stations.items()},
        "products": products,
    }


async def socket_of(demo: Demo, username: str) -> Client:
    """A welcomed WebSocket of a demo restaurant user, signed in with a session cookie like a browser."""
    async with httpx.AsyncClient(base_url=demo.base) as http:
        response = await http.post(
            "/api/v1/auth/login", json={"tenant": RESTAURANT, "username": username, "password": DEMO_PASSWORD}
        )
        response.raise_for_status()
        cookie = response.cookies[SESSION_COOKIE]
    socket = await websockets.connect(
        demo.ws, additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, origin=Origin(demo.base)
    )
    client = Client(socket)
    assert (await client.recv())["type"] == "welcome"
    return client


async def page_seconds(page: Any) -> float:
    """The page's clock (Unix seconds, what Playwright's clock takes)."""
    return float(await page.evaluate("Date.now()")) / 1000


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def order(place: dict[str, Any], table: str, items: list[tuple[str, int, list[str]]]) -> dict[str, Any]:
    return {
        "store_id": place["store_id"],
        "order_id": str(uuid.uuid4()),
        "table": table,
        "server": "Luis",
        "course": "fondo",
        "items": [
            {"product_id": place["products"][name], "quantity": quantity, "modifiers": mods}
            for name, quantity, mods in items
        ],
    }


async def test_the_cook_sees_bumps_and_recalls_an_order(demo: Demo, browser: Any) -> None:
    place = await restaurant(demo)
    hot, cold = place["stations"]["CAL"], place["stations"]["FRI"]
    waiter, cook = await socket_of(demo, "mesero"), await socket_of(demo, "cocina")

    # The TV over the hot line opens its station by address; the clock is ours to move (ages).
    context, page = await restaurant_page(browser, demo, TV)
    await context.clock.install()
    await page.goto(f"{demo.base}/kds/?station={hot}")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#station-name")).to_have_text("Cocina caliente")
    await expect(page.locator("#app")).to_have_attribute("data-rev", re.compile(r"^\d+$"))
    await expect(page.locator("#empty")).to_be_visible()

    # The waiter sends an order: the hot line's part appears with its items, and the screen beeps.
    sent = order(place, "7", [("Seco de pollo", 2000, ["sin cebolla"]), ("Jugo de mora", 1000, []),
                              ("Encebollado", 1000, [])])  # fmt: skip
    routed = await call_ok(waiter, "kitchen.order", sent)
    tickets = {t["station_id"]: t for t in routed["tickets"]}
    assert set(tickets) == {hot, cold}  # the juice goes to the cold line and bar
    ticket = page.locator(f".ticket[data-ticket='{tickets[hot]['ticket_id']}']")
    await expect(ticket).to_be_visible()
    await expect(ticket.locator(".table")).to_have_text("Mesa 7")
    await expect(ticket.locator(".item .name")).to_have_text(["Seco de pollo", "Encebollado"])
    await expect(ticket.locator(".item .qty").first).to_have_text("2\u00d7")
    await expect(ticket.locator(".mods")).to_have_text("sin cebolla")
    await expect(ticket).to_have_attribute("data-state", "new")
    await expect(ticket).to_have_attribute("data-age", "ok")
    await expect(page.locator("#app")).to_have_attribute("data-beeps", "1")
    await expect(page.locator("#open-count")).to_have_text("1 comanda")
    await shot(page, "01-tv-new-ticket")

    # An item tapped is done (the ticket started); the ticket tapped twice is ready.
    await ticket.locator(".item[data-item='2']").click()
    await expect(ticket.locator(".item[data-item='2']")).to_have_attribute("data-state", "ready")
    await expect(ticket).to_have_attribute("data-state", "in_progress")
    await ticket.locator(".ticket-head").click()
    await expect(ticket).to_have_attribute("data-state", "ready")
    await expect(ticket.locator(".item[data-state='ready']")).to_have_count(2)

    # Ages by the station's thresholds (8 and 15 minutes): yellow, then red.
    await context.clock.set_system_time(await page_seconds(page) + 9 * 60)
    await expect(ticket).to_have_attribute("data-age", "warn")
    await expect(ticket.locator(".timer")).to_have_text(re.compile(r"^9:\d\d$"))
    await shot(page, "02-tv-ready-yellow")
    await context.clock.set_system_time(await page_seconds(page) + 7 * 60)
    await expect(ticket).to_have_attribute("data-age", "late")
    state = await call_ok(cook, "kitchen.get", {"station_id": hot})
    assert [(t["ticket_id"], t["state"]) for t in state["tickets"]] == [(tickets[hot]["ticket_id"], "ready")]

    # Served: a tap and it leaves the screen; Recuperar brings it back, ready.
    await ticket.locator(".ticket-head").click()
    await expect(ticket).to_have_count(0)
    await expect(page.locator("#empty")).to_be_visible()
    assert (await call_ok(cook, "kitchen.get", {"station_id": hot}))["tickets"] == []
    await page.click("#recall")
    await expect(ticket).to_be_visible()
    await expect(ticket).to_have_attribute("data-state", "ready")
    await expect(page.locator(".toast.ok")).to_contain_text("Mesa 7")
    state = await call_ok(cook, "kitchen.get", {"station_id": hot})
    assert [t["state"] for t in state["tickets"]] == ["ready"]
    await expect(page.locator("#app")).to_have_attribute("data-rev", str(state["rev"]))
    await shot(page, "03-tv-recalled")

    # The tablet on the cold line picks its station; a second order beeps there, not on the hot line.
    tablet_context, tablet = await restaurant_page(browser, demo, TABLET)
    await tablet.goto(f"{demo.base}/kds/")
    await expect(tablet.locator(".station-choice")).to_have_count(2)
    await shot(tablet, "04-tablet-pick-station")
    await tablet.click(f".station-choice[data-station='{cold}']")
    await expect(tablet.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(tablet.locator(".ticket")).to_have_count(1)  # the juice of table 7
    drinks = order(place, "3", [("Limonada", 3000, ["sin hielo"]), ("Helado de paila", 1000, [])])
    second = await call_ok(waiter, "kitchen.order", drinks)
    assert [t["station_id"] for t in second["tickets"]] == [cold]
    await expect(tablet.locator(".ticket")).to_have_count(2)
    await expect(tablet.locator("#app")).to_have_attribute("data-beeps", "1")
    await expect(page.locator("#app")).to_have_attribute("data-beeps", "1")
    await shot(tablet, "05-tablet-two-tickets")

    assert page.errors == [] and tablet.errors == []
    for each in (waiter, cook):
        await each.socket.close()
    await tablet_context.close()
    await context.close()


# -- the files ----------------------------------------------------------------------------------------


def test_the_page_is_spanish_csp_clean_and_says_nothing_of_its_own() -> None:
    check_kds_page("index.html")


def test_every_text_the_script_asks_for_is_in_the_catalog() -> None:
    asked = kds_texts_asked("kds.js", "screen.js", "shared.js", "station_tickets.js")
    states = ("new", "in_progress", "ready")
    asked |= {f"ticket.{part}.{state}" for part in ("state", "tap") for state in states}  # built at run time
    asked |= {
        f"errors.{code}" for code in ("not_found", "nothing_to_recall", "forbidden", "timeout", "offline")
    }
    assert len(asked) > 20  # the pattern found the calls
    assert missing_kds_texts(asked) == []


async def test_the_kds_is_served_with_the_strict_csp(demo: Demo) -> None:
    await check_served_with_csp(
        demo,
        [
            ("/kds/", "text/html"),
            ("/kds/kds.js", "javascript"),
            ("/kds/style.css", "text/css"),
            ("/kds/i18n/es.json", "json"),
        ],
    )
