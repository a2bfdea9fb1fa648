"""The till in a real browser against a real hub: a whole sale, and surviving a dropped connection.

Headless Chromium drives the pages as a cashier would (taps, and a keyboard-wedge scanner typing digits
then Enter); the test watches the page and the frames its socket exchanged with the hub, and follows the
owner's live streams over a second socket. Screenshots of each step go to tests/artifacts/till/.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
from playwright.async_api import expect

from hub.gateway.connection import Connection
from schema.models import Product
from tests.clients.conftest import VIEWPORT, Demo
from tests.clients.support import WAIT_MS, FrameLog, Gate, barcode, call_ok, clp, new_page, shot, sign_in
from tests.hub.gateway.conftest import Client

pytestmark = pytest.mark.timeout(240)

expect.set_options(timeout=WAIT_MS)


async def scan(page: Any, code: str) -> None:
    """What a keyboard-wedge scanner does: types the digits fast, then Enter."""
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")


async def tap_digits(page: Any, keypad: str, amount: int) -> None:
    for digit in str(amount):
        await page.click(f"{keypad} [data-key='{digit}']")


async def wait_event(client: Client, stream: str, event: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next event of that name on that stream (frames seen earlier are kept in ``client.frames``)."""
    for frame in client.frames:
        if frame.get("type") == "event" and frame["stream"] == stream and frame["event"] == event:
            client.frames.remove(frame)
            return frame
    async with asyncio.timeout(timeout):
        while True:
            frame = await client.recv()
            if frame.get("type") == "event" and frame["stream"] == stream and frame["event"] == event:
                client.frames.remove(frame)
                return frame


def line(page: Any, name: str) -> Any:
    return page.locator(
        "#cart-lines > li", has=page.locator(".name", has_text=re.compile("^" + re.escape(name) + "$"))
    )


async def test_a_cashier_sells_scanned_and_weighed_items_paid_mixed(
    demo: Demo, browser: Any, owner: Client
) -> None:
    register = str(demo.register_id)
    subscribed = await owner.call("subscribe", {"stream": "tenant"})
    assert subscribed["type"] == "subscribed", subscribed

    context, page = await new_page(browser)
    frames = FrameLog()
    frames.attach(page)

    # Sign in as the cashier: the login page sends cashiers to the till, which asks which register.
    await sign_in(page, demo, "caja1")
    await page.wait_for_url(re.compile(r"/till/"))
    await expect(page.locator(".register-choice")).to_have_count(2)
    await shot(page, "01-pick-register")
    await page.click(".register-choice:has-text('Caja 1')")
    await page.wait_for_url(re.compile(r"register=" + register))
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#register-name")).to_have_text("Caja 1")

    await expect(page.locator("#search")).to_be_focused()
    await expect(page.locator("#tabs .tab").first).to_be_visible()

    # The customer display follows the same register: a second screen (its own window, same session).
    display_context = await browser.new_context(
        viewport=VIEWPORT, storage_state=await context.storage_state()
    )
    display_context.set_default_timeout(WAIT_MS)
    display = await display_context.new_page()
    display_errors: list[str] = []
    display.on("pageerror", lambda exc: display_errors.append(str(exc)))
    await display.goto(f"{demo.base}/till/display.html?register={register}")
    await expect(display.locator("#conn")).to_have_attribute("data-state", "connected")

    # Three packaged products, scanned. A new store has no open cash session: the hub refuses the first
    # scan, the till asks for the float, opens the session and adds the scanned product after all.
    packaged = [await demo.product(n) for n in (50, 51, 52)]
    for count, product in enumerate(packaged, start=1):
        mark = len(frames.received)
        await scan(page, barcode(int(product.sku)))
        answer = await frames.answer_to("cart.add", start=mark)
        if answer["type"] == "error":
            assert count == 1 and answer["code"] == "no_cash_session", answer
            await expect(page.locator("#cash-open")).to_be_visible()
            await shot(page, "02-open-cash-session")
            await tap_digits(page, "#cash-open-keypad", 50000)
            await expect(page.locator("#cash-open-field strong")).to_have_text(clp(50000))
            await page.click("#cash-open-confirm")
            await expect(page.locator("#cash-open")).to_be_hidden()
        await expect(page.locator("#cart-lines > li")).to_have_count(count)
        await expect(line(page, product.name).locator(".line-total")).to_have_text(clp(product.price))
        await expect(page.locator("#search")).to_be_focused()
    await expect(page.locator("#cart-total")).to_have_text(clp(sum(p.price for p in packaged)))
    await shot(page, "03-scanned")

    # Typed text without Enter is a search; a result is a button. +/- and Quitar change the hub's cart.
    yogurt = await demo.product(60)
    await page.keyboard.type(yogurt.name[:9], delay=40)
    await expect(page.locator("#results-head")).to_be_visible()
    result = page.locator(f"#grid [data-product='{yogurt.id}']")
    await expect(result).to_be_visible()
    await shot(page, "04-search")
    await page.click(f"#grid [data-product='{yogurt.id}']")
    await expect(page.locator("#cart-lines > li")).to_have_count(4)
    await expect(page.locator("#results-head")).to_be_hidden()
    await expect(page.locator("#search")).to_have_value("")
    await expect(page.locator("#search")).to_be_focused()
    await line(page, yogurt.name).locator("[data-action='plus']").click()
    await expect(line(page, yogurt.name).locator(".qty")).to_have_text("2")
    await expect(line(page, yogurt.name).locator(".line-total")).to_have_text(clp(2 * yogurt.price))
    await line(page, yogurt.name).locator("[data-action='minus']").click()
    await expect(line(page, yogurt.name).locator(".qty")).to_have_text("1")
    await line(page, yogurt.name).locator("[data-action='remove']").click()
    await expect(page.locator("#cart-lines > li")).to_have_count(3)
    await expect(page.locator("#search")).to_be_focused()

    # A weighed product: pick it, the scale streams its weight, Agregar takes the stable reading.
    bread = await demo.product(1)
    assert bread.unit == "kg"
    await page.click(f"#grid [data-sku='{bread.sku}']")
    await expect(page.locator("#weigh")).to_be_visible()
    await expect(page.locator("#weigh-name")).to_have_text(bread.name)
    await call_ok(owner, "scale.reading", {"register_id": register, "grams": 610, "stable": False})
    await expect(page.locator("#weigh-status")).to_have_attribute("data-state", "unstable")
    await expect(page.locator("#weigh-grams")).to_have_text("0,610")
    mark = len(frames.received)
    await page.click("#weigh-add")
    await expect(page.locator("#weigh-error")).not_to_be_empty()
    await shot(page, "05-weigh-unstable")
    unstable = await frames.answer_to("cart.add", start=mark)
    assert unstable["type"] == "error" and unstable["code"] == "scale_unstable", unstable
    await call_ok(owner, "scale.reading", {"register_id": register, "grams": 523, "stable": True})
    await expect(page.locator("#weigh-status")).to_have_attribute("data-state", "stable")
    await expect(page.locator("#weigh-grams")).to_have_text("0,523")
    await shot(page, "06-weigh-stable")
    await page.click("#weigh-add")
    await expect(page.locator("#weigh")).to_be_hidden()
    await expect(page.locator("#cart-lines > li")).to_have_count(4)
    await expect(line(page, bread.name).locator(".qty")).to_have_text("0,523 kg")
    await expect(page.locator("#search")).to_be_focused()

    cart = await call_ok(owner, "cart.get", {"register_id": register})
    assert [entry["name"] for entry in cart["lines"]] == [*(p.name for p in packaged), bread.name]
    weighed = cart["lines"][-1]
    assert weighed["quantity"] == 523 and weighed["unit"] == "kg"
    await expect(page.locator("#cart-total")).to_have_text(clp(cart["total"]))
    await expect(display.locator("#lines > li")).to_have_count(4)
    await expect(display.locator("#total")).to_have_text(clp(cart["total"]))
    await shot(page, "07-cart")
    await shot(display, "07-customer-display")

    # Pay: part by card, the rest in cash; the hub rounds the cash part and computes the change.
    await page.click("#pay")
    await expect(page.locator("#pay-screen")).to_be_visible()
    await expect(page.locator("#pay-total")).to_have_text(clp(cart["total"]))
    await page.click("#pay-screen [data-method='mixed']")
    card = 2000
    cash = (cart["total"] - card) // 10_000 * 10_000 + 10_000
    await tap_digits(page, "#pay-keypad", card)
    await page.click("#pay-field-cash")
    await tap_digits(page, "#pay-keypad", cash)
    await expect(page.locator("#pay-field-card strong")).to_have_text(clp(card))
    await expect(page.locator("#pay-field-cash strong")).to_have_text(clp(cash))
    await shot(page, "08-pay-mixed")
    mark = len(frames.received)
    await page.click("#pay-confirm")
    answer = await frames.answer_to("checkout", start=mark)
    assert answer["type"] == "reply", answer
    receipt = answer["payload"]

    await expect(page.locator("#receipt-screen")).to_be_visible()
    shown_change = clp(receipt["change"]) if receipt["change"] else "Sin vuelto"
    await expect(page.locator("#receipt-change")).to_have_text(shown_change)
    await expect(page.locator("#receipt-change")).to_have_attribute("data-change", str(receipt["change"]))
    await expect(page.locator("#receipt-sale")).to_have_text(f"Venta N° {receipt['number']}")
    await expect(page.locator("#receipt .to-pay")).to_contain_text(clp(receipt["to_pay"]))
    await expect(page.locator("#receipt-summary")).to_contain_text(clp(receipt["to_pay"]))
    if receipt["rounding"]:
        await expect(page.locator("#receipt-summary")).to_contain_text(clp(receipt["rounding"]))
    await shot(page, "09-change-due")

    # What the hub answered hangs together (the till shows it; it does not compute it).
    assert receipt["total"] == cart["total"]
    assert receipt["to_pay"] == receipt["total"] + receipt["rounding"]
    assert receipt["change"] == card + cash - receipt["to_pay"], receipt
    assert sorted(t["kind"] for t in receipt["tenders"]) == ["card", "cash"]

    # The owner's dashboard socket hears of the sale, with the same number.
    sold = await wait_event(owner, "tenant", "SaleCompleted")
    assert sold["payload"]["number"] == receipt["number"]
    assert sold["payload"]["sale_id"] == receipt["sale_id"]

    # The customer display thanks; the till's cart is empty for the next customer.
    await expect(display.locator("#thanks")).to_be_visible()
    await shot(display, "10-customer-display-thanks")
    await expect(page.locator("#cart-lines > li")).to_have_count(0)
    await page.click("#receipt-reprint")
    await expect(page.locator("#receipt")).to_contain_text(f"Venta N° {receipt['number']}")
    await page.click("#receipt-new")
    await expect(page.locator("#receipt-screen")).to_be_hidden()
    await expect(page.locator("#search")).to_be_focused()
    await expect(page.locator("#cart-total")).to_have_text(clp(0))
    await shot(page, "11-next-customer")

    # Cash in, then close the session with a blind count: the Z-report shows the hub's figures.
    await page.click("#menu-button")
    await page.click("#cash-menu [data-action='move-in']")
    await tap_digits(page, "#cash-move-keypad", 5000)
    await page.click("#cash-move-reasons button >> nth=0")
    mark = len(frames.received)
    await page.click("#cash-move-confirm")
    moved = await frames.answer_to("cash.move", start=mark)
    assert moved["type"] == "reply", moved
    await expect(page.locator("#cash-move")).to_be_hidden()

    await page.click("#menu-button")
    await page.click("#cash-menu [data-action='close']")
    await expect(page.locator("#cash-close")).to_be_visible()
    counted_cash = 50000 + 5000 + cash - receipt["change"] - 100  # a hundred pesos short
    await tap_digits(page, "#cash-close-keypad", counted_cash)
    await page.click("#cash-close-card")
    await tap_digits(page, "#cash-close-keypad", card)
    await shot(page, "12-blind-count")
    mark = len(frames.received)
    await page.click("#cash-close-confirm")
    closed = await frames.answer_to("cash.close", start=mark)
    assert closed["type"] == "reply", closed
    report = closed["payload"]
    await expect(page.locator("#zreport-screen")).to_be_visible()
    for z in report["lines"]:
        row = page.locator(f"#z-lines tr[data-tender='{z['tender']}']")
        await expect(row.locator("td").nth(1)).to_have_text(clp(z["expected"]))
        await expect(row.locator("td").nth(2)).to_have_text(clp(z["counted"]))
        await expect(row.locator(".difference")).to_have_text(clp(z["difference"]))
    by_tender = {z["tender"]: z for z in report["lines"]}
    assert by_tender["cash"]["counted"] == counted_cash
    assert by_tender["cash"]["difference"] == by_tender["cash"]["counted"] - by_tender["cash"]["expected"]
    assert report["tips"] == 0
    await expect(page.locator("#z-tips")).to_be_hidden()  # a minimarket's tills take no tips
    await shot(page, "13-z-report")

    await page.click("#z-done")
    await expect(page.locator("#cash-open")).to_be_visible()  # no session any more: asked to open again
    assert page.errors == [] and display_errors == []
    await display_context.close()
    await context.close()


def till_connections(demo: Demo) -> list[Connection]:
    return [c for c in demo.services.sockets if c.principal.role.value == "cashier"]


def hub_closes(connection: Connection) -> None:
    """The hub's own way of dropping a socket (a client too slow to drain its queue: close 1013)."""
    connection.too_slow.set()
    connection.outgoing.put_nowait(None)


async def test_the_till_rides_out_a_dropped_connection(demo: Demo, browser: Any, owner: Client) -> None:
    register = str(demo.register_id)
    await call_ok(owner, "cash.open", {"register_id": register, "float_amount": 20000})
    products = [await demo.product(n) for n in (60, 61, 62, 63, 64)]

    context, page = await new_page(browser)
    gate = Gate()
    await gate.install(page)
    await sign_in(page, demo, "caja1")
    await page.wait_for_url(re.compile(r"/till/"))
    await page.goto(f"{demo.base}/till/?register={register}")
    badge = page.locator("#conn")
    await expect(badge).to_have_attribute("data-state", "connected")
    await scan(page, barcode(60))
    await expect(page.locator("#cart-lines > li")).to_have_count(1)

    # The hub closes the socket and the network stays down: the badge says so, the till keeps working.
    gate.open = False
    connections = till_connections(demo)
    assert len(connections) == 1
    hub_closes(connections[0])
    await expect(badge).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    await expect(badge).to_have_text(re.compile("Reconectando|Sin conexión"))
    await call_ok(owner, "cart.add", {"register_id": register, "code": barcode(61)})  # from another screen
    await scan(page, barcode(62))  # queued until the socket is back, and the badge says so
    await expect(badge).to_have_attribute("data-waiting", "1")
    await expect(badge).to_contain_text("(1 en espera)")
    await expect(page.locator("#cart-lines > li")).to_have_count(1)
    await shot(page, "20-reconnecting")

    # Back: the till resubscribes from its last seq (the missed CartChanged is replayed) and sends the
    # queued scan; the cart is exactly what the hub holds.
    gate.open = True
    await expect(badge).to_have_attribute("data-state", "connected", timeout=30_000)
    await expect(badge).to_have_text("En línea")
    await expect(page.locator("#cart-lines > li")).to_have_count(3)
    for product in products[:3]:
        await expect(line(page, product.name).locator(".qty")).to_have_text("1")
    await shot(page, "21-resumed")

    # A reply lost with its connection: the till resends the same id and the hub answers it once.
    gate.lose_reply_of = "cart.add"
    await scan(page, barcode(63))
    resent_answer = await gate.delivered_answer()
    assert len(gate.lost) == 1
    lost_id = gate.lost[0]["id"]
    assert [f["type"] for f in gate.sent if f.get("id") == lost_id] == ["cart.add", "cart.add"]
    assert resent_answer == gate.lost[0]  # the hub answered the repeated id with its first answer
    await expect(badge).to_have_attribute("data-state", "connected")
    await expect(page.locator("#cart-lines > li")).to_have_count(4)
    await expect(line(page, products[3].name).locator(".qty")).to_have_text("1")
    cart = await call_ok(owner, "cart.get", {"register_id": register})
    assert [(entry["name"], entry["quantity"]) for entry in cart["lines"]] == [
        (p.name, 1000) for p in products[:4]
    ]
    await expect(page.locator("#cart-total")).to_have_text(clp(cart["total"]))
    await shot(page, "22-reply-lost-and-resent")

    # The hub cannot replay what the till missed (its numbering started again, as after a restart): it
    # answers resync, and the till reloads the cart instead of trusting its old position.
    gate.open = False
    hub_closes(till_connections(demo)[0])
    await expect(badge).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    await call_ok(owner, "cart.add", {"register_id": register, "code": barcode(64)})
    demo.services.bus.epoch = "restarted"
    seen = len(gate.delivered)
    gate.open = True
    await expect(badge).to_have_attribute("data-state", "connected", timeout=30_000)
    await expect(page.locator("#cart-lines > li")).to_have_count(5)
    await expect(line(page, products[4].name).locator(".qty")).to_have_text("1")
    assert any(f["type"] == "resync" for f in gate.delivered[seen:])
    cart = await call_ok(owner, "cart.get", {"register_id": register})
    await expect(page.locator("#cart-total")).to_have_text(clp(cart["total"]))
    await shot(page, "23-resynced")
    assert page.errors == []
    await context.close()


async def test_prices_follow_the_tenant_currency(demo: Demo, browser: Any) -> None:
    """The Ecuadorian restaurant sells in dollars and cents: ``$12.34`` (its till shows the floor plan: a
    table's tab has the product grid)."""
    context, page = await new_page(browser)
    await page.goto(demo.base + "/login/?tenant=guayaquilena")
    await page.fill("#username", "mesero")
    await page.fill("#password", "demo1234")
    await page.click("#login-submit")
    await page.wait_for_url(re.compile(r"/till/"))
    await page.click(".register-choice >> nth=0")
    await page.click("#plan .table[data-state='free'] >> nth=0")
    await page.click("#tab-open-confirm")
    first = page.locator("#grid .product").first
    await expect(first).to_be_visible()
    tenant_id = await demo.services.db.tenant_id_by_slug("guayaquilena")
    async with demo.services.db.tenant(tenant_id) as session:
        product = await session.get(
            Product, (tenant_id, uuid.UUID(await first.get_attribute("data-product")))
        )
    assert product is not None
    await expect(first.locator(".price")).to_have_text(f"${product.price // 100:,}.{product.price % 100:02d}")
    await expect(page.locator("#tab-total")).to_have_text("$0.00")
    await shot(page, "30-dollars")
    assert page.errors == []
    await context.close()
