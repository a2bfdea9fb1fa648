"""The back office's "Salón y mesas" page in a real browser against a real hub (the demo restaurant).

Headless Chromium signs in as the restaurant's owner, follows the nav link and: adds an area and a table,
drags the table to another place and types another position, deletes the table and the area (each change
checked through the API); is told, in Spanish, why a table with an open tab cannot be deleted (the tab was
opened meanwhile over a waiter's socket, and the plan marks the table live); changes the suggested tip and
a product's modifiers. A minimarket's owner gets a note instead, without the link. The page's files are
CSP-clean and take every text from i18n/es.json. Screenshots go to tests/artifacts/backoffice/floor-*.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from hub.auth.tokens import SESSION_COOKIE
from hub.http.pages import CLIENTS_DIR
from hub.security import CSP
from hub.seed.demo import DEMO_PASSWORD
from tests.clients.conftest import Demo
from tests.clients.support import WAIT_MS, backoffice_page, call_ok, sign_in_to_backoffice
from tests.clients.test_kds_e2e import RESTAURANT, restaurant, socket_of
from tests.clients.test_till_static import PageText, has_key

pytestmark = pytest.mark.timeout(240)
expect.set_options(timeout=WAIT_MS)

BACKOFFICE = CLIENTS_DIR / "backoffice"
PAGE = BACKOFFICE / "floor.html"
SCRIPTS = [BACKOFFICE / "floor.js", BACKOFFICE / "floor_modifiers.js"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "backoffice"
# Keys built at run time: "floor.errors." + action + "_" + code, "floor.errors." + code, "floor.shape." + s.
DYNAMIC_KEYS = [
    *(f"floor.errors.lead_{a}" for a in ("load", "add_area", "rename_area", "delete_area", "add_table")),
    *(f"floor.errors.lead_{a}" for a in ("save_table", "move_table", "delete_table", "tip", "search")),
    *(f"floor.errors.lead_{a}" for a in ("modifiers", "add_modifier", "save_modifier", "delete_modifier")),
    "floor.errors.delete_table_table_busy",
    "floor.errors.delete_area_conflict",
    "floor.errors.add_table_conflict",
    "floor.errors.need_name",
    "floor.errors.bad_percent",
    "floor.errors.bad_delta",
    "floor.errors.invalid",
]


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"floor-{name}.png"), full_page=True)


@pytest.fixture
async def api(demo: Demo) -> AsyncIterator[httpx.AsyncClient]:
    """The restaurant's owner on the API: the test's view of the truth."""
    async with httpx.AsyncClient(base_url=demo.base + "/api/v1") as client:
        signed = await client.post(
            "/auth/login", json={"tenant": RESTAURANT, "username": "duena", "password": DEMO_PASSWORD}
        )
        signed.raise_for_status()
        client.cookies.set(SESSION_COOKIE, signed.cookies[SESSION_COOKIE])
        client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        yield client


async def plan(api: httpx.AsyncClient, store: str) -> dict[str, Any]:
    response = await api.get(f"/stores/{store}/floor")
    assert response.status_code == 200, response.text
    return dict(response.json())


def tables_of(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for a in state["areas"] for t in a["tables"] if t["active"]}


async def drag(page: Any, locator: Any, dx: float, dy: float) -> None:
    box = await locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x + dx, y + dy, steps=8)
    await page.mouse.up()


async def test_an_owner_lays_out_an_area_and_a_table_and_is_told_why_a_busy_table_stays(
    demo: Demo, browser: Any, api: httpx.AsyncClient
) -> None:
    place = await restaurant(demo)
    store = place["store_id"]
    context, page = await backoffice_page(browser)
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in_to_backoffice(page, demo, "duena", tenant=RESTAURANT)
    await expect(page.locator("#nav-floor")).to_be_visible()
    await page.click("#nav-floor")
    await page.wait_for_url(re.compile(r"/backoffice/floor\.html"))
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#areas .area-tab")).to_have_text(["Salón (8)", "Terraza (4)"])
    await expect(page.locator("#plan-area .bo-table")).to_have_count(8)
    await shot(page, "01-salon")

    # A new area, and a table on it: both through the API, the plan shows the table where the API says.
    await page.fill("#area-name", "Patio")
    await page.click("#area-add")
    await expect(page.locator("#action-done")).to_have_text("Área «Patio» agregada.")
    await expect(page.locator("#areas .area-tab.active")).to_have_text("Patio (0)")
    await expect(page.locator("#plan-area .bo-table")).to_have_count(0)
    await page.fill("#new-name", "P1")
    await page.fill("#new-seats", "2")
    await page.select_option("#new-shape", "round")
    await page.click("#table-add")
    await expect(page.locator("#action-done")).to_have_text("Mesa P1 agregada.")
    table = page.locator("#plan-area .bo-table[data-name='P1']")
    await expect(table).to_have_class(re.compile(r"\bround\b"))
    made = tables_of(await plan(api, store))["P1"]
    assert (made["seats"], made["shape"], made["x"], made["y"]) == (2, "round", 15, 25)
    patio = next(a for a in (await plan(api, store))["areas"] if a["name"] == "Patio")
    assert made["area_id"] == patio["id"]

    # Dragged right and down: the drop saves the new place (percent of the plan), as the fields say.
    width = (await page.locator("#plan-area").bounding_box())["width"]
    await drag(page, table, width * 0.4, 60)
    await expect(page.locator("#action-done")).to_contain_text("Mesa P1 movida a")
    moved = tables_of(await plan(api, store))["P1"]
    assert 50 <= moved["x"] <= 60 and moved["y"] > 25, moved
    await expect(page.locator("#edit-x")).to_have_value(str(moved["x"]))
    await expect(page.locator("#edit-y")).to_have_value(str(moved["y"]))
    await shot(page, "02-patio-moved")

    # Typed: another name, seats and position.
    await page.fill("#edit-name", "P9")
    await page.fill("#edit-seats", "6")
    await page.fill("#edit-x", "80")
    await page.fill("#edit-y", "70")
    await page.click("#table-save")
    await expect(page.locator("#action-done")).to_have_text("Mesa P9 guardada.")
    saved = tables_of(await plan(api, store))["P9"]
    assert (saved["seats"], saved["x"], saved["y"]) == (6, 80, 70)

    # Deleted, then the area (empty again).
    await page.click("#plan-area .bo-table[data-name='P9']")
    await page.click("#table-delete")
    await expect(page.locator("#action-done")).to_have_text("Mesa P9 eliminada.")
    assert "P9" not in tables_of(await plan(api, store))
    await page.click("#area-delete")
    await expect(page.locator("#action-done")).to_have_text("Área «Patio» eliminada.")
    assert [a["name"] for a in (await plan(api, store))["areas"]] == ["Salón", "Terraza"]
    await expect(page.locator("#areas .area-tab.active")).to_have_text("Salón (8)")

    # A waiter opens a tab on M1 meanwhile: the plan marks it, and deleting it is refused with the reason.
    waiter = await socket_of(demo, "mesero")
    m1 = tables_of(await plan(api, store))["M1"]
    await call_ok(waiter, "tab.open", {"table_id": m1["id"], "guests": 2})
    busy = page.locator("#plan-area .bo-table[data-name='M1']")
    await expect(busy).to_have_class(re.compile(r"\bbusy\b"))
    await busy.click()
    await expect(page.locator("#table-edit-title")).to_have_text("Mesa M1")
    await page.click("#table-delete")
    refusal = page.locator("#action-error")
    await expect(refusal).to_be_visible()
    await expect(refusal).to_have_attribute("data-code", "table_busy")
    await expect(refusal.locator(".lead")).to_have_text("No se pudo eliminar la mesa M1.")
    await expect(refusal.locator(".detail")).to_have_text(
        "La mesa M1 tiene una cuenta abierta: cóbrela o muévala a otra mesa antes de eliminarla."
    )
    assert tables_of(await plan(api, store))["M1"]["active"] is True
    await shot(page, "03-busy-table-refused")
    assert page.errors == []
    await waiter.socket.close()
    await context.close()


async def test_the_tip_and_a_products_modifiers(demo: Demo, browser: Any, api: httpx.AsyncClient) -> None:
    place = await restaurant(demo)
    churrasco = place["products"]["Churrasco"]
    context, page = await backoffice_page(browser)
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in_to_backoffice(page, demo, "duena", tenant=RESTAURANT)
    await page.goto(demo.base + "/backoffice/floor.html")
    await expect(page.locator("#tip-percent")).to_have_value("10")
    await page.fill("#tip-percent", "12")
    await page.click("#tip-save")
    await expect(page.locator("#action-done")).to_have_text("Propina sugerida: 12%.")
    assert (await plan(api, place["store_id"]))["tip_percent"] == 12

    # Churrasco is among the products with modifiers; a new one, changed, deleted (USD: dollars typed).
    await page.click(f"#with-modifiers [data-product='{churrasco}']")
    rows = page.locator("#modifiers tr")
    await expect(rows).to_have_count(5)
    await page.fill("#mod-group", "Agregado")
    await page.fill("#mod-name", "papas fritas")
    await page.fill("#mod-delta", "1.50")
    await page.click("#modifier-add")
    await expect(page.locator("#action-done")).to_have_text("Modificador «papas fritas» agregado.")
    await expect(rows).to_have_count(6)
    listed = (await api.get(f"/products/{churrasco}/modifiers")).json()
    fries = next(m for m in listed if m["name"] == "papas fritas")
    assert (fries["group"], fries["price_delta"]) == ("Agregado", 150)
    row = page.locator(f"#modifiers tr[data-modifier='{fries['id']}']")
    await row.locator(".mod-delta").fill("-0.25")
    await row.locator("[data-action='save']").click()
    await expect(page.locator("#action-done")).to_have_text("Modificador «papas fritas» guardado.")
    listed = (await api.get(f"/products/{churrasco}/modifiers")).json()
    assert next(m for m in listed if m["id"] == fries["id"])["price_delta"] == -25
    await shot(page, "04-modifiers")
    await row.locator("[data-action='delete']").click()
    await expect(page.locator("#action-done")).to_have_text("Modificador «papas fritas» eliminado.")
    await expect(rows).to_have_count(5)

    # A bad amount is refused on the page, nothing sent.
    await page.fill("#mod-name", "x")
    await page.fill("#mod-delta", "1,2,3")
    await page.click("#modifier-add")
    refusal = page.locator("#action-error .detail")
    await expect(refusal).to_have_text("La diferencia de precio no es un monto válido.")
    assert page.errors == []
    await context.close()


async def test_a_minimarket_owner_gets_a_note_and_no_link(demo: Demo, browser: Any) -> None:
    context, page = await backoffice_page(browser)
    await sign_in_to_backoffice(page, demo, "dueno")
    await expect(page.locator("#stores tr")).not_to_have_count(0)
    await expect(page.locator("#nav-floor")).to_be_hidden()
    await page.goto(demo.base + "/backoffice/floor.html")
    await expect(page.locator("#no-restaurant")).to_be_visible()
    await expect(page.locator("#floor-page")).to_be_hidden()
    assert page.errors == []
    await context.close()


# -- the files ------------------------------------------------------------------------------------------


def catalog() -> dict[str, Any]:
    return dict(json.loads((BACKOFFICE / "i18n" / "es.json").read_text()))


def test_the_page_is_spanish_csp_clean_and_linked_from_the_other_pages() -> None:
    html = PAGE.read_text()
    assert '<html lang="es">' in html
    parsed = PageText()
    parsed.feed(html)
    assert parsed.inline == []
    assert "http://" not in html and "https://" not in html
    assert parsed.texts == ["Storehub", "Cargando…"], parsed.texts
    messages = catalog()
    assert [key for key in parsed.keys if not has_key(messages, key)] == []
    for other in ("index.html", "fiscal.html", "devices.html"):
        nav = re.search(r'<nav class="nav".*?</nav>', (BACKOFFICE / other).read_text(), re.S)
        assert nav is not None and 'href="/backoffice/floor.html"' in nav.group(0), other
    assert messages["nav"]["floor"] == "Salón y mesas"


def test_every_text_the_scripts_ask_for_is_in_the_catalog() -> None:
    messages = catalog()
    asked: set[str] = set(DYNAMIC_KEYS)
    for script in SCRIPTS:
        source = script.read_text()
        assert "innerHTML" not in source and "insertAdjacentHTML" not in source, script
        for args in re.findall(r"(?:^|[^\w.])t\(([^,)]*)", source):
            asked.update(re.findall(r'"([a-z_]+(?:\.[a-z_0-9]+)+)"(?!\s*\+)', args))
        code = re.sub(r"//.*|/\*.*?\*/", "", source, flags=re.S)
        assert not re.search(r"[áéíóúñ¿¡«»]", code, re.I), script  # Spanish belongs in es.json
    missing = sorted(key for key in asked if not has_key(messages, key))
    assert missing == []
    assert len(asked) > 50  # the pattern found the calls


async def test_the_page_is_served_with_the_strict_csp(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.base) as client:
        for path, kind in [
            ("/backoffice/floor.html", "text/html"),
            ("/backoffice/floor.js", "javascript"),
            ("/backoffice/floor_modifiers.js", "javascript"),
        ]:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert kind in response.headers["content-type"], path
            assert response.headers["content-security-policy"] == CSP
