"""Returns at the till in a real browser against a real hub: find a sale, give one unit back, a manager's PIN.

Headless Chromium drives the till as a cashier would, by touch (keypads, +/-, reason chips) and with a
keyboard-wedge scanner typing the sale number; the test checks the page, the frames its socket exchanged
with the hub, and the hub's own records (the stock level in the database, the stock ledger over REST).
Screenshots go to tests/artifacts/till/.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import func, select

from hub.auth.tokens import SESSION_COOKIE
from schema.models import Sale, StockLevel
from tests.clients.conftest import Demo
from tests.clients.support import WAIT_MS, FrameLog, barcode, call_ok, clp, give_pin, new_page, shot, sign_in
from tests.hub.gateway.conftest import Client

pytestmark = pytest.mark.timeout(240)

expect.set_options(timeout=WAIT_MS)
MANAGER, PIN = "encargado", "2468"


async def type_then_enter(page: Any, digits: str) -> None:
    """What a keyboard-wedge scanner (or a keyboard) does: the digits, fast, then Enter."""
    await page.keyboard.type(digits, delay=5)
    await page.keyboard.press("Enter")


async def tap(page: Any, keypad: str, digits: str) -> None:
    for digit in digits:
        await page.click(f"{keypad} [data-key='{digit}']")


async def stock_of(demo: Demo, product_id: uuid.UUID) -> int:
    async with demo.services.db.tenant(demo.tenant_id) as session:
        return int(
            (
                await session.execute(select(StockLevel.quantity).where(StockLevel.product_id == product_id))
            ).scalar_one()
        )


async def credit_notes(demo: Demo) -> int:
    async with demo.services.db.tenant(demo.tenant_id) as session:
        query = select(func.count()).select_from(Sale).where(Sale.kind == "return")
        return int((await session.execute(query)).scalar_one())


def sent_payload(frames: FrameLog, command_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = next(f for f in frames.sent if f.get("id") == command_id)["payload"]
    return payload


async def test_a_cashier_returns_one_unit_approved_by_a_managers_pin(
    demo: Demo, browser: Any, owner: Client
) -> None:
    register = str(demo.register_id)
    await call_ok(owner, "cash.open", {"register_id": register, "float_amount": 20000})
    await give_pin(demo.services.db, demo.tenant_id, MANAGER, PIN)
    milk, bread = await demo.product(50), await demo.product(51)
    start = {p.id: await stock_of(demo, p.id) for p in (milk, bread)}

    context, page = await new_page(browser)
    frames = FrameLog()
    frames.attach(page)
    await sign_in(page, demo, "caja1")
    await page.wait_for_url(re.compile(r"/till/"))
    await page.goto(f"{demo.base}/till/?register={register}")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")

    # A sale of two items, paid by card.
    for count, product in enumerate((milk, bread), start=1):
        await type_then_enter(page, barcode(int(product.sku)))
        await expect(page.locator("#cart-lines > li")).to_have_count(count)
    await page.click("#pay")
    await page.click("#pay-screen [data-method='card']")
    mark = len(frames.received)
    await page.click("#pay-confirm")
    paid = await frames.answer_to("checkout", start=mark)
    assert paid["type"] == "reply", paid
    sale = paid["payload"]
    await expect(page.locator("#receipt-sale")).to_have_text(f"Venta N° {sale['number']}")
    await page.click("#receipt-new")
    sold = {p.id: await stock_of(demo, p.id) for p in (milk, bread)}
    assert sold == {p.id: start[p.id] - 1000 for p in (milk, bread)}

    # Menu -> Devoluciones: a number keypad. A number that is no sale says so in Spanish.
    await page.click("#menu-button")
    await page.click("#cash-menu [data-action='returns']")
    await expect(page.locator("#returns-find")).to_be_visible()
    await expect(page.locator("#cash-menu")).to_be_hidden()
    await tap(page, "#returns-number-keypad", "99999")
    await expect(page.locator("#returns-number-field strong")).to_have_text("99999")
    mark = len(frames.received)
    await page.click("#returns-find-go")
    missing = await frames.answer_to("sale.lookup", start=mark)
    assert missing["type"] == "error" and missing["code"] == "not_found", missing
    await expect(page.locator("#returns-find-error")).to_have_text("No hay una venta N° 99999 en este local.")
    await shot(page, "40-returns-not-found")

    # The scanner (or keyboard) types the receipt's number and Enter: the sale, line by line.
    await page.click("#returns-number-keypad [data-key='clear']")
    mark = len(frames.received)
    await type_then_enter(page, str(sale["number"]))
    found = await frames.answer_to("sale.lookup", start=mark)
    assert found["type"] == "reply", found
    assert [(line["name"], line["returnable"]) for line in found["payload"]["lines"]] == [
        (milk.name, 1000),
        (bread.name, 1000),
    ]
    await expect(page.locator("#returns-choose")).to_be_visible()
    await expect(page.locator("#returns-sale-title")).to_have_text(f"Venta N° {sale['number']}")
    lines = page.locator("#returns-lines > li")
    await expect(lines).to_have_count(2)
    await expect(page.locator("#returns-approval")).to_be_visible()  # a cashier needs a manager
    await expect(page.locator("#returns-pin")).to_have_attribute("type", "password")

    # One unit of the bread: + goes up to what is left (1), the estimate follows.
    bread_line = page.locator("#returns-lines > li[data-line='2']")
    await expect(bread_line.locator(".name")).to_have_text(bread.name)
    await bread_line.locator("[data-action='plus']").click()
    await expect(bread_line.locator(".qty")).to_have_text("1")
    await expect(bread_line.locator("[data-action='plus']")).to_be_disabled()
    await expect(page.locator("#returns-lines > li[data-line='1'] .qty")).to_have_text("0")
    await expect(page.locator("#returns-estimate")).to_have_text(clp(demo_cash(bread.price)))
    await page.fill("#returns-reason", "Otro")  # free text, replaced by a tap on a common reason
    await page.click("#returns-reasons [data-reason='Producto defectuoso']")
    await expect(page.locator("#returns-reasons [data-reason='Producto defectuoso']")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.locator("#returns-reason")).to_have_value("")
    await page.fill("#returns-approver", MANAGER)

    # A wrong PIN: the hub refuses, the sheet says why in Spanish, and nothing changed.
    await tap(page, "#returns-pin-keypad", "1111")
    await expect(page.locator("#returns-pin")).to_have_value("1111")
    await shot(page, "41-returns-chosen")
    mark = len(frames.received)
    await page.click("#returns-confirm")
    refused = await frames.answer_to("sale.return", start=mark)
    assert refused["type"] == "error" and refused["code"] == "forbidden", refused
    await expect(page.locator("#returns-error")).to_have_text(
        "Autorización rechazada: revise el usuario y el PIN del encargado."
    )
    await expect(page.locator("#returns-pin")).to_have_value("")
    await expect(page.locator("#returns-choose")).to_be_visible()
    await shot(page, "42-returns-wrong-pin")
    assert await credit_notes(demo) == 0
    assert {p.id: await stock_of(demo, p.id) for p in (milk, bread)} == sold

    # The right PIN: a new command id (the refusal settled the first one), then the credit note.
    await tap(page, "#returns-pin-keypad", PIN)
    mark = len(frames.received)
    await page.click("#returns-confirm")
    answer = await frames.answer_to("sale.return", start=mark)
    assert answer["type"] == "reply", answer
    assert answer["id"] != refused["id"]
    assert sent_payload(frames, answer["id"]) == {
        "register_id": register,
        "sale_id": sale["sale_id"],
        "reason": "Producto defectuoso",
        "refund": "cash",
        "lines": [{"line_no": 2, "quantity": 1000}],
        "approver": MANAGER,
        "pin": PIN,
    }
    note = answer["payload"]
    assert (note["kind"], note["doc_type"], note["original_sale_id"]) == ("return", 61, sale["sale_id"])
    assert note["total"] == -bread.price and [(x["line_id"], x["quantity"]) for x in note["lines"]] == [
        (2, -1000)
    ]
    await expect(page.locator("#returns-done")).to_be_visible()
    await expect(page.locator("#returns-credit")).to_have_text(f"Nota de crédito N° {note['number']}")
    await expect(page.locator("#returns-refund")).to_have_text(clp(-note["to_pay"]))
    await expect(page.locator("#returns-refund-label")).to_have_text("Devolver en efectivo")
    await expect(page.locator("#returns-folio")).to_have_text(
        "Nota de crédito pendiente de folio"
        if note["folio"] is None
        else f"Nota de crédito electrónica N° {note['folio']}"
    )
    await expect(page.locator("#returns-note")).to_contain_text(f"Devolución de la venta N° {sale['number']}")
    await expect(page.locator("#returns-note")).to_contain_text(bread.name)
    await shot(page, "43-returns-credit-note")

    # The hub's records: exactly one unit of bread came back, the milk stays sold.
    assert await credit_notes(demo) == 1
    assert await stock_of(demo, bread.id) == sold[bread.id] + 1000 == start[bread.id]
    assert await stock_of(demo, milk.id) == sold[milk.id]
    cookie = await demo.login_cookie(MANAGER)
    async with httpx.AsyncClient(base_url=demo.base, cookies={SESSION_COOKIE: cookie}) as client:
        response = await client.get(f"/api/v1/products/{bread.id}/movements")
    response.raise_for_status()
    newest = response.json()[0]
    assert (newest["kind"], newest["quantity"], newest["ref_id"]) == ("return", 1000, note["sale_id"])
    assert newest["quantity_after"] == start[bread.id]

    # Reprint keeps the sheet; close goes back to selling with the scanner in charge.
    await page.click("#returns-reprint")
    await expect(page.locator("#returns-note")).to_contain_text(f"Nota de crédito N° {note['number']}")
    await page.click("#returns-close")
    await expect(page.locator("#returns-screen")).to_be_hidden()
    await expect(page.locator("#search")).to_be_focused()

    # Looking the sale up again shows what is left: the bread line has nothing more to give back.
    await page.click("#menu-button")
    await page.click("#cash-menu [data-action='returns']")
    await type_then_enter(page, str(sale["number"]))
    milk_line, bread_line = (page.locator(f"#returns-lines > li[data-line='{n}']") for n in (1, 2))
    await expect(bread_line).to_have_attribute("data-returnable", "0")
    await expect(bread_line.locator("[data-action='plus']")).to_be_disabled()
    await expect(milk_line).to_have_attribute("data-returnable", "1000")
    await expect(page.locator("#returns-sale-info")).to_contain_text(f"Ya devuelto {clp(bread.price)}")
    await expect(page.locator("#returns-all")).to_have_text("Todo lo que queda")
    await page.click("#returns-all")  # everything left: the milk; sent as a void (no lines)
    await expect(page.locator("#returns-all")).to_have_attribute("aria-pressed", "true")
    await expect(milk_line.locator(".qty")).to_have_text("1")
    await expect(page.locator("#returns-estimate")).to_have_text(clp(demo_cash(milk.price)))
    await shot(page, "44-returns-after")
    assert page.errors == []
    await context.close()


def demo_cash(amount: int) -> int:
    """A cash refund in pesos is rounded like cash taken (Ley 20.956): to the nearest 10, 5 down."""
    rest = amount % 10
    return amount - rest if rest <= 5 else amount + 10 - rest
