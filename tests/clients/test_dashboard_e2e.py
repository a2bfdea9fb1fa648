"""The owner's dashboard in real Chromium against a real hub: today's total moves with a sale made over a
cashier's socket, on a laptop and on a phone; its files are CSP-clean and every text is in es.json.
Screenshots go to tests/artifacts/dashboard/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from hub.http.pages import CLIENTS_DIR
from hub.security import CSP
from tests.clients.conftest import Demo
from tests.clients.support import WAIT_MS, Gate, barcode, call_ok, clp, new_page, sign_in
from tests.clients.test_till_static import PageText, has_key
from tests.hub.gateway.conftest import Client

pytestmark = pytest.mark.timeout(180)
expect.set_options(timeout=WAIT_MS)

DASHBOARD = CLIENTS_DIR / "dashboard"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
PHONE = {"width": 390, "height": 844}


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


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
    source = (DASHBOARD / "dashboard.js").read_text()
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
