"""The owner's dashboard in real Chromium against a real hub: today's total moves with a sale made over a
cashier's socket, on a laptop and on a phone; the restaurant's "Cocina" card follows an order from a
waiter's socket through the cook's bumps; its files are CSP-clean and every text is in es.json.
Screenshots go to tests/artifacts/dashboard/."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import expect

from actors.dashboard_totals import day_bounds, local_day
from actors.kitchen import bumped
from actors.kitchen_tickets import insert_ticket, load_station, save_ticket
from hub.http.pages import CLIENTS_DIR
from hub.security import CSP
from schema.messages.kitchen import KitchenItemView, KitchenTicketView
from tests.clients.conftest import Demo
from tests.clients.support import (
    WAIT_MS,
    Gate,
    backoffice_page,
    barcode,
    call_ok,
    clp,
    new_page,
    sign_in,
    sign_in_to_backoffice,
)
from tests.clients.test_kds_e2e import RESTAURANT, order, restaurant, socket_of
from tests.clients.test_till_static import PageText, has_key
from tests.hub.gateway.conftest import Client

pytestmark = pytest.mark.timeout(180)
expect.set_options(timeout=WAIT_MS)

DASHBOARD = CLIENTS_DIR / "dashboard"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
PHONE = {"width": 390, "height": 844}
NONE = "\u2013"  # what the kitchen card shows for no figure (an en dash)


async def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


async def sell(cashier: Client, register: str, code: str, units: int) -> dict[str, Any]:
    for _ in range(units):
        await call_ok(cashier, "cart.add", {"register_id": register, "code": code})
    cart = await call_ok(cashier, "cart.get", {"register_id": register})
    tenders = [{"kind": "card", "amount": cart["total"]}]
    receipt: dict[str, Any] = await call_ok(
        cashier, "checkout", {"register_id": register, "tenders": tenders}
    )
    return receipt


async def test_the_owner_watches_a_sale_arrive_on_laptop_and_phone(
    demo: Demo, browser: Any, owner: Client
) -> None:
    before = (await call_ok(owner, "dashboard.get", {}))["totals"]
    context, page = await new_page(browser)
    await sign_in(page, demo, "dueno")
    await page.wait_for_url(re.compile(r"/backoffice/"))
    await page.goto(demo.base + "/dashboard/")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#total")).to_have_text(clp(before["total"]))
    await expect(page.locator("#registers li")).to_have_count(2)  # the demo's Caja 1 and Caja 2
    await expect(page.locator("#devices li").first).to_be_visible()
    await expect(page.locator("#hours-chart rect.bar.today")).to_have_count(24)

    # A cashier sells at Caja 1 over their own socket: the page shows it without a reload.
    cashier = await demo.socket("caja1")
    register = str(demo.register_id)
    await call_ok(cashier, "cash.open", {"register_id": register, "float_amount": 30_000})
    await expect(page.locator("#cash li")).to_have_count(1)
    milk = await demo.product(50)
    receipt = await sell(cashier, register, barcode(int(milk.sku)), 3)
    await expect(page.locator("#total")).to_have_text(clp(before["total"] + receipt["total"]))
    await expect(page.locator("#count")).to_have_text(str(before["count"] + 1))
    await expect(page.locator(f"#products tr[data-product-id='{milk.id}'] td").first).to_have_text(milk.name)
    caja1 = page.locator(f"#registers li[data-register-id='{register}'] .amount")
    await expect(caja1).to_have_text(clp(receipt["total"]))
    await expect(page.locator("#fiscal-counts .chip")).not_to_have_count(0)
    await shot(page, "01-owner-1280x800")

    # The report for today, on screen; the CSV link names the same range.
    await page.click("#report-show")
    await expect(page.locator("#report-totals td").nth(2)).to_have_text(
        clp(before["total"] + receipt["total"])
    )
    csv_link = await page.locator("#report-csv").get_attribute("href")
    assert csv_link is not None and "format=csv" in csv_link
    await shot(page, "02-owner-report")

    # The same board on a phone: one column, the total first; a second sale arrives there too.
    phone_context = await browser.new_context(
        viewport=PHONE, storage_state=await context.storage_state(), locale="es-CL", is_mobile=True
    )
    phone = await phone_context.new_page()
    phone_errors: list[str] = []
    phone.on("pageerror", lambda exc: phone_errors.append(str(exc)))
    await phone.goto(demo.base + "/dashboard/")
    await expect(phone.locator("#conn")).to_have_attribute("data-state", "connected")
    second = await sell(cashier, register, barcode(int(milk.sku)), 1)
    total = before["total"] + receipt["total"] + second["total"]
    await expect(phone.locator("#total")).to_have_text(clp(total))
    await expect(page.locator("#total")).to_have_text(clp(total))
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the phone layout scrolls sideways ({width}px)"
    await shot(phone, "03-owner-phone-390x844")
    assert page.errors == [] and phone_errors == []
    await phone_context.close()
    await context.close()
    await cashier.socket.close()


async def test_the_board_rides_out_a_dropped_connection_and_resumes(demo: Demo, browser: Any) -> None:
    """The hub drops the page's socket; a sale happens meanwhile; on reconnect the page resubscribes from
    its last seq and the missed DashboardChanged is replayed: the total is right without a new snapshot."""
    context, page = await new_page(browser)
    gate = Gate()
    await gate.install(page)
    await sign_in(page, demo, "dueno")
    await page.wait_for_url(re.compile(r"/backoffice/"))
    await page.goto(demo.base + "/dashboard/")
    badge = page.locator("#conn")
    await expect(badge).to_have_attribute("data-state", "connected")
    await expect(badge).to_have_text("En vivo")
    await expect(page.locator("#total")).to_have_text(re.compile(r"^-?\$"))  # the snapshot is drawn
    start = await page.locator("#total").text_content()
    cashier = await demo.socket("caja1")
    register = str(demo.register_id)
    await call_ok(cashier, "cash.open", {"register_id": register, "float_amount": 0})
    await expect(page.locator("#cash li")).to_have_count(1)  # the page follows live before the drop

    gate.open = False
    for connection in [c for c in demo.services.sockets if c.principal.role.value == "owner"]:
        connection.too_slow.set()  # the hub's own way of dropping a socket (close 1013)
        connection.outgoing.put_nowait(None)
    await expect(badge).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    milk = await demo.product(51)
    receipt = await sell(cashier, register, barcode(int(milk.sku)), 2)
    await expect(page.locator("#total")).to_have_text(start or "")  # nothing arrives while it is down
    await shot(page, "05-reconnecting")

    gate.open = True
    await expect(badge).to_have_attribute("data-state", "connected", timeout=30_000)
    await expect(page.locator("#total")).to_have_text(clp(receipt["total"]))
    resumes = [f for f in gate.sent if f.get("type") == "subscribe" and "since" in f.get("payload", {})]
    assert resumes, "the page did not resume the tenant stream from its position"
    assert [f["type"] for f in gate.sent].count("dashboard.get") == 1  # replayed, not reloaded
    await shot(page, "06-resumed")
    assert page.errors == []
    await context.close()
    await cashier.socket.close()


async def test_a_cashier_is_told_the_board_is_not_for_them(demo: Demo, browser: Any) -> None:
    context, page = await new_page(browser)
    await sign_in(page, demo, "caja1")
    await page.wait_for_url(re.compile(r"/till/"))
    await page.goto(demo.base + "/dashboard/")
    await expect(page.locator("#refused")).to_be_visible()
    await expect(page.locator("#live")).to_be_hidden()
    await shot(page, "04-cashier-refused")
    await context.close()


# -- the kitchen ------------------------------------------------------------------------------------------


async def served_earlier_today(demo: Demo, place: dict[str, Any], station: str) -> None:
    """Two tickets the station served earlier today, written as the KitchenActor writes them: 12 and 18
    minutes to prepare, 3 more each until served (so the figures do not depend on how fast the test is)."""
    tz = ZoneInfo("America/Guayaquil")
    now = datetime.now(UTC)
    start = max(now - timedelta(minutes=45), day_bounds(local_day(now, tz), tz)[0] + timedelta(seconds=1))
    dish = uuid.UUID(place["products"]["Seco de pollo"])
    station_view = (await load_station(demo.services.db, place["tenant_id"], uuid.UUID(station)))[0]
    for n, prep in enumerate((12, 18)):
        opened = start + timedelta(minutes=n)
        ticket = KitchenTicketView(
            ticket_id=uuid.uuid4(), station_id=uuid.UUID(station), order_id=uuid.uuid4(), table=str(20 + n),
            items=[KitchenItemView(item_id=1, product_id=dish, name="Seco de pollo", quantity=1000)],
            created_at=opened,
        )  # fmt: skip
        ticket = await insert_ticket(demo.services.db, place["tenant_id"], station_view, ticket)
        for moment in (opened + timedelta(minutes=1), opened + timedelta(minutes=prep),
                       opened + timedelta(minutes=prep + 3)):  # fmt: skip
            ticket = await save_ticket(
                demo.services.db, place["tenant_id"], station_view, ticket, bumped(ticket, moment)
            )


async def test_the_owner_watches_kitchen_ticket_times_on_laptop_and_phone(demo: Demo, browser: Any) -> None:
    place = await restaurant(demo)
    hot, cold = place["stations"]["CAL"], place["stations"]["FRI"]
    await served_earlier_today(demo, place, hot)
    context, page = await backoffice_page(browser)
    await context.clock.install()  # the oldest ticket's age ticks on the page's clock: ours to move
    await sign_in_to_backoffice(page, demo, "duena", tenant=RESTAURANT)
    await page.goto(demo.base + "/dashboard/")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    card = page.locator("#kitchen-card")
    await expect(card).to_be_visible()
    await expect(card.locator("#kitchen li")).to_have_count(2)  # the hot line, the cold line and bar
    row = card.locator(f"#kitchen li[data-station-id='{hot}']")
    await expect(row.locator(".name")).to_have_text("Cocina caliente")
    figures = {"open": "0", "oldest": NONE, "prep-avg": "15:00", "served": "2"}
    for name, text in figures.items():
        await expect(row.locator(f".value.{name}")).to_have_text(text)
    await expect(row.locator(".prep-max")).to_have_text("máx. 18:00")
    await expect(row.locator(".details")).to_have_text("18:00 en promedio hasta servirse")

    # A waiter's order: the hot line's part is open, and its age counts on the owner's phone or laptop.
    waiter, cook = await socket_of(demo, "mesero"), await socket_of(demo, "cocina")
    sent = order(place, "5", [("Seco de pollo", 1000, []), ("Jugo de mora", 1000, [])])
    tickets = {t["station_id"]: t for t in (await call_ok(waiter, "kitchen.order", sent))["tickets"]}
    assert set(tickets) == {hot, cold}
    await expect(row.locator(".value.open")).to_have_text("1")
    await expect(card.locator("#kitchen-summary")).to_have_text("2 comandas abiertas")
    await expect(row.locator(".value.oldest")).to_have_text(re.compile(r"^0:0\d$"))
    now = float(await page.evaluate("Date.now()")) / 1000
    await context.clock.set_system_time(now + 9 * 60)
    await expect(row.locator(".value.oldest")).to_have_text(re.compile(r"^9:\d\d$"))
    await shot(page, "07-kitchen-open-1280x800")

    # The cook bumps it to ready (a third preparation time, of seconds), then it is served.
    bump = {"station_id": hot, "ticket_id": tickets[hot]["ticket_id"]}
    for _ in range(2):
        await call_ok(cook, "kitchen.bump", bump)
    await expect(row.locator(".details")).to_contain_text("1 lista esperando servirse")
    await expect(row.locator(".value.prep-avg")).to_have_text(re.compile(r"^10:0\d$"))  # (720+1080+s)/3
    await expect(row.locator(".prep-max")).to_have_text("máx. 18:00")
    await call_ok(cook, "kitchen.bump", bump)
    await expect(row.locator(".value.served")).to_have_text("3")
    await expect(row.locator(".value.open")).to_have_text("0")
    await expect(row.locator(".value.oldest")).to_have_text(NONE)
    await expect(card.locator("#kitchen-summary")).to_have_text("1 comanda abierta")  # the juice
    await shot(page, "08-kitchen-served-1280x800")

    # On a phone (390x844): one column, nothing wider than the screen, the card readable.
    phone_context = await browser.new_context(
        viewport=PHONE, storage_state=await context.storage_state(), locale="es-EC", is_mobile=True
    )
    phone = await phone_context.new_page()
    phone_errors: list[str] = []
    phone.on("pageerror", lambda exc: phone_errors.append(str(exc)))
    await phone.goto(demo.base + "/dashboard/")
    await expect(phone.locator("#conn")).to_have_attribute("data-state", "connected")
    phone_row = phone.locator(f"#kitchen li[data-station-id='{hot}']")
    await expect(phone_row.locator(".value.served")).to_have_text("3")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the phone layout scrolls sideways ({width}px)"
    await phone.locator("#kitchen-card").scroll_into_view_if_needed()
    await shot(phone, "09-kitchen-phone-390x844", full_page=False)
    await shot(phone, "10-restaurant-phone-full", full_page=True)
    assert page.errors == [] and phone_errors == []
    for client in (waiter, cook):
        await client.socket.close()
    await phone_context.close()
    await context.close()


# -- the files ------------------------------------------------------------------------------------------


def catalog() -> dict[str, Any]:
    return dict(json.loads((DASHBOARD / "i18n" / "es.json").read_text()))


def test_the_page_is_csp_clean_and_its_keys_exist() -> None:
    html = (DASHBOARD / "index.html").read_text()
    parsed = PageText()
    parsed.feed(html)
    assert parsed.inline == [] and "http://" not in html.replace("http://www.w3.org", "")
    assert [key for key in parsed.keys if not has_key(catalog(), key)] == []
    assert len(parsed.keys) > 40


def test_every_text_the_script_asks_for_is_in_the_catalog() -> None:
    source = "\n".join(path.read_text() for path in sorted(DASHBOARD.glob("*.js")))
    assert len(source.splitlines()) > 400  # dashboard.js and its modules (kitchen.js)
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source and ".style." not in source
    asked = set(re.findall(r'\bt\("([a-z_]+(?:\.[a-z_0-9]+)*)"', source))
    plurals = re.findall(r'\btn\("([a-z_]+(?:\.[a-z_0-9]+)*)"', source)  # Spanish: one and other
    asked |= {f"{key}_{form}" for key in plurals for form in ("one", "other")}
    # Keys built at run time from the hub's values.
    asked |= {f"status.{s}" for s in ("pending", "signed", "sent", "accepted", "rejected")}
    asked |= {f"devices.kind.{k}" for k in ("printer", "scale")} | {f"doc_type.{c}" for c in (39, 33, 61)}
    asked |= {f"devices.{flag}" for flag in ("paper_out", "cover_open", "error")}
    missing = sorted(key for key in asked if not has_key(catalog(), key))
    assert missing == [] and len(asked) > 40 and len(plurals) >= 6
    code = re.sub(r"//.*|/\*.*?\*/", "", source, flags=re.S)
    assert not re.search(r"[áéíóúñ¿¡]", code, re.I)  # Spanish belongs in es.json


async def test_the_dashboard_is_served_with_the_strict_csp(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.base) as client:
        for path, kind in [
            ("/dashboard/", "text/html"),
            ("/dashboard/dashboard.js", "javascript"),
            ("/dashboard/style.css", "text/css"),
            ("/dashboard/i18n/es.json", "json"),
        ]:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert kind in response.headers["content-type"], path
            assert response.headers["content-security-policy"] == CSP
