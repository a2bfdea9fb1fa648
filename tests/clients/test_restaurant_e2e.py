"""The restaurant till in real Chromium against a real hub (the demo's La Guayaquileña, USD, 10% tip).

* A waiter opens table M3 for three, orders a soup with a modifier and a note and a main course held for
  course 2, sends, fires course 2 and takes the bill in two equal parts (cash with change, and card) with
  the suggested tip: the tab is closed in the database and the sale carries the tip apart from its total.
* The issue's three pages at once, in one browser: the till, the kitchen display of the hot line and the
  owner's dashboard. The waiter's order reaches the hot line with its dish only (the drink goes to the cold
  line and bar: routing by category), the cook bumps it (the KDS shows the new state, the till's tab stays
  as it was, without errors), and paying on the till moves the dashboard's total and count.
* The floor comes back by itself: after a dropped connection, and after the hub refused floor.get (the
  till says it cannot load the floor and tries again, later each time, until the floor is there).

Screenshots (1280x800) go to tests/artifacts/restaurant/.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from hub.gateway.commands import COMMANDS
from hub.gateway.connection import Connection
from schema.errors import UnavailableError
from schema.models import KitchenTicket, PrintJob, Product, ProductModifier, Register, Sale, SaleTender, Tab
from tests.clients.conftest import VIEWPORT, Demo
from tests.clients.restaurant_support import restaurant_page
from tests.clients.support import WAIT_MS, FrameLog, Gate, call_ok, give_pin
from tests.clients.test_kds_e2e import restaurant, socket_of

pytestmark = pytest.mark.timeout(240)
expect.set_options(timeout=WAIT_MS)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "restaurant"


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def usd(cents: int) -> str:
    """How the Ecuadorian tenant's screens write dollars: ``$12.34``."""
    return f"${cents // 100:,}.{cents % 100:02d}"


async def open_till(browser: Any, demo: Demo) -> tuple[Any, Any]:
    """The waiter's till on the restaurant's register: the floor plan, live."""
    context, page = await restaurant_page(browser, demo, VIEWPORT, "mesero")
    await page.wait_for_url(re.compile(r"/till/"))
    await page.click(".register-choice")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#floor-view")).to_be_visible()
    await expect(page.locator("#floor-view .table")).to_have_count(8)  # the Salón of the demo
    return context, page


async def open_table(page: Any, name: str, guests: int) -> str:
    await page.click(f".table[data-name='{name}']")
    await expect(page.locator("#tab-open")).to_be_visible()
    await page.click(f"#tab-open-quick [data-guests='{guests}']")
    await page.click("#tab-open-confirm")
    panel = page.locator("#tab-panel")
    await expect(panel).to_have_attribute("data-tab", re.compile(r"^[0-9a-f-]{36}$"))
    await expect(page.locator("#tab-title")).to_contain_text(f"Mesa {name}")
    return str(await panel.get_attribute("data-tab"))


async def tap_product(page: Any, category: str, name: str) -> None:
    await page.click(f"#tabs .tab:has-text('{category}')")
    await page.click(f"#grid .product:has(.name:text-is('{name}'))")


def item(page: Any, n: int) -> Any:
    return page.locator(f"#tab-items .tab-item[data-n='{n}']")


async def prices(demo: Demo, tenant_id: uuid.UUID, *names: str) -> dict[str, int]:
    """Dish prices (and modifier deltas, by name) from the database."""
    async with demo.services.db.tenant(tenant_id) as session:
        products = {p.name: p.price for p in (await session.execute(select(Product))).scalars()}
        deltas = {m.name: m.price_delta for m in (await session.execute(select(ProductModifier))).scalars()}
    return {name: products.get(name, deltas.get(name, 0)) for name in names}


def half_up_percent(amount: int, percent: int) -> int:
    return (amount * percent + 50) // 100


async def test_a_waiter_orders_fires_a_course_and_splits_the_bill_in_two(demo: Demo, browser: Any) -> None:
    place = await restaurant(demo)
    tenant_id = place["tenant_id"]
    cook = await socket_of(demo, "cocina")
    context, page = await open_till(browser, demo)
    await shot(page, "01-floor")

    tab_id = await open_table(page, "M3", 3)
    await expect(page.locator("#tab-info")).to_contain_text("3 pers.")

    # A soup with a modifier (palta) and a note: the item sheet opens because the dish has modifiers.
    await tap_product(page, "Sopas", "Encebollado")
    sheet = page.locator("#item-sheet")
    await expect(sheet).to_be_visible()
    await expect(sheet.locator(".modifier")).to_have_count(3)
    await sheet.locator(".modifier:has-text('palta')").click()
    await page.fill("#item-note", "sin sal")
    await expect(sheet.locator("#item-courses [data-course='1']")).to_have_attribute("aria-pressed", "true")
    await page.click("#item-add")
    await expect(sheet).to_be_hidden()
    soup = item(page, 1)
    await expect(soup.locator(".name")).to_have_text("Encebollado")
    await expect(soup.locator(".item-detail")).to_have_text("palta · Nota: sin sal")
    await expect(soup).to_have_attribute("data-state", "new")

    # A main course for course 2 ("Fondo"), held: the bar over the grid says where a tap goes.
    await page.click("#course-bar-courses [data-course='2']")
    await page.click("#course-bar-hold")
    await tap_product(page, "Platos fuertes", "Seco de pollo")
    main = item(page, 2)
    await expect(main).to_have_attribute("data-state", "held")
    await expect(main).to_have_attribute("data-course", "2")
    await expect(page.locator("#tab-items .course-head")).to_have_text(["Entrada", re.compile("^Fondo")])
    p = await prices(demo, tenant_id, "Encebollado", "palta", "Seco de pollo")
    total = p["Encebollado"] + p["palta"] + p["Seco de pollo"]
    tip = half_up_percent(total, 10)
    await expect(page.locator("#tab-total")).to_have_text(usd(total))
    await expect(page.locator("#tab-tip")).to_have_text(f"Propina sugerida 10%: {usd(tip)}")
    await shot(page, "02-tab")

    # Send: the soup goes to the kitchen, the held main course waits; "Marchar Fondo" fires it.
    await expect(page.locator("#tab-send")).to_have_text("Enviar a cocina (1)")
    await page.click("#tab-send")
    await expect(soup).to_have_attribute("data-state", "sent")
    await expect(main).to_have_attribute("data-state", "held")
    fire = page.locator("#tab-fire [data-course='2']")
    await expect(fire).to_have_text("Marchar Fondo")
    await fire.click()
    await expect(main).to_have_attribute("data-state", "sent")
    await expect(fire).to_have_count(0)
    await expect(soup.locator("[data-action='void']")).to_be_visible()  # sent: void, no more +/-
    hot = await call_ok(cook, "kitchen.get", {"station_id": place["stations"]["CAL"]})
    ordered = [[i["name"] for i in t["items"]] for t in hot["tickets"] if t["table"] == "M3"]
    assert ordered == [["Encebollado"], ["Seco de pollo"]], hot  # one ticket per course, in order

    # A drink sent by mistake: once the kitchen has it only a void takes it back, with the owner's PIN.
    await give_pin(demo.services.db, tenant_id, "duena", "2468")
    await page.click("#course-bar-courses [data-course='1']")
    await page.click("#course-bar-hold")  # off again
    await tap_product(page, "Bebidas", "Limonada")
    drink = item(page, 3)
    await expect(drink).to_have_attribute("data-state", "new")
    await page.click("#tab-send")
    await expect(drink).to_have_attribute("data-state", "sent")
    await drink.locator("[data-action='void']").click()
    await expect(page.locator("#void-sheet")).to_be_visible()
    await page.click("#void-reasons [data-reason='Error al pedir']")
    await page.fill("#void-approver", "duena")
    for key in "2468":
        await page.click(f"#void-pin-keypad [data-key='{key}']")
    await shot(page, "02b-void")
    await page.click("#void-confirm")
    await expect(page.locator("#void-sheet")).to_be_hidden()
    await expect(drink).to_have_attribute("data-state", "voided")
    await expect(drink.locator(".item-detail")).to_have_text("Anulado: Error al pedir")
    await expect(page.locator("#tab-total")).to_have_text(usd(total))  # not charged

    # The bill in two equal parts, the suggested tip prefilled: cash (with change) and card.
    await page.click("#tab-pay")
    pay = page.locator("#tabpay-screen")
    await expect(pay).to_be_visible()
    await expect(page.locator("#tabpay-amount")).to_have_text(usd(total))
    await expect(page.locator("#tabpay-tip-label")).to_have_text(f"Propina sugerida 10%: {usd(tip)}")
    await expect(page.locator("#tabpay-tip strong")).to_have_text(usd(tip))
    await expect(page.locator("#tabpay-due")).to_have_text(usd(total + tip))
    await page.click("[data-mode='equal']")
    await expect(page.locator("#tabpay-parts")).to_have_text("2")
    parts = page.locator("#tabpay-parts-list .tabpay-part")
    await expect(parts).to_have_count(2)
    first = (total + 1) // 2 + (tip + 1) // 2  # the remainder goes to the first part
    second = total + tip - first
    await expect(parts.nth(0)).to_have_attribute("data-due", str(first))
    await expect(parts.nth(1)).to_have_attribute("data-due", str(second))
    await parts.nth(0).locator("[data-kind='cash']").click()
    await parts.nth(1).locator("[data-kind='card']").click()
    await parts.nth(0).locator(".cash-field").click()
    for key in "20":
        await page.click(f"#tabpay-keypad [data-key='{key}']")
    await page.click("#tabpay-keypad [data-key='point']")
    await page.click("#tabpay-keypad [data-key='0']")
    await page.click("#tabpay-keypad [data-key='0']")
    await expect(parts.nth(0).locator(".cash-field strong")).to_have_text("$20.00")
    await expect(parts.nth(0).locator(".part-status")).to_have_text(f"Vuelto: {usd(2000 - first)}")
    await shot(page, "03-pay-two-parts")

    # No cash session on the register yet: the till asks for it, then pays with the same command.
    await page.click("#tabpay-confirm")
    await expect(page.locator("#cash-open")).to_be_visible()
    await page.click("#cash-open-confirm")
    await expect(page.locator("#tabpay-done")).to_be_visible()
    await expect(page.locator("#tabpay-change")).to_have_text(usd(2000 - first))
    await expect(page.locator("#tabpay-summary .tip")).to_contain_text(usd(tip))
    await expect(page.locator("#tabpay-close")).to_have_text("Volver a las mesas")
    await shot(page, "04-paid")
    await page.click("#tabpay-close")
    await expect(page.locator("#floor-view")).to_be_visible()
    await expect(page.locator(".table[data-name='M3']")).to_have_attribute("data-state", "free")

    async with demo.services.db.tenant(tenant_id) as session:
        tab = await session.get(Tab, (tenant_id, uuid.UUID(tab_id)))
        sales = list((await session.execute(select(Sale).where(Sale.tab_id == uuid.UUID(tab_id)))).scalars())
        assert len(sales) == 1
        tenders = list(
            (await session.execute(select(SaleTender).where(SaleTender.sale_id == sales[0].id))).scalars()
        )
    assert tab is not None and tab.status == "closed" and tab.closed_at is not None
    sale = sales[0]
    assert (sale.total, sale.tip, sale.to_pay) == (total, tip, total)  # the tip apart from the total
    assert sorted((t.kind, t.amount) for t in tenders) == sorted([("cash", first), ("card", second)])
    assert page.errors == []
    await cook.socket.close()
    await context.close()


async def test_till_kds_and_dashboard_at_once(demo: Demo, browser: Any) -> None:
    """The issue's demand: one browser, three pages; the order reaches the right station, a bump moves it,
    paying updates the owner's totals."""
    place = await restaurant(demo)
    tenant_id = place["tenant_id"]
    hot, cold = place["stations"]["CAL"], place["stations"]["FRI"]
    owner, cook, waiter = [await socket_of(demo, name) for name in ("duena", "cocina", "mesero")]
    async with demo.services.db.tenant(tenant_id) as session:
        register = (await session.execute(select(Register.id))).scalar_one()
    await call_ok(waiter, "cash.open", {"register_id": str(register), "float_amount": 5000})
    before = (await call_ok(owner, "dashboard.get", {}))["totals"]

    dashboard_context, dashboard = await restaurant_page(browser, demo, VIEWPORT, "duena")
    await dashboard.goto(demo.base + "/dashboard/")
    await expect(dashboard.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(dashboard.locator("#total")).to_have_text(usd(before["total"]))
    await expect(dashboard.locator("#count")).to_have_text(str(before["count"]))

    kds_context, kds = await restaurant_page(browser, demo, VIEWPORT)
    await kds.goto(f"{demo.base}/kds/?station={hot}")
    await expect(kds.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(kds.locator("#station-name")).to_have_text("Cocina caliente")
    await expect(kds.locator("#empty")).to_be_visible()

    till_context, till = await open_till(browser, demo)
    await open_table(till, "M5", 2)
    await tap_product(till, "Platos fuertes", "Seco de pollo")  # the hot line's
    await expect(item(till, 1)).to_be_visible()
    await tap_product(till, "Bebidas", "Limonada")  # the cold line and bar's
    await expect(item(till, 2)).to_be_visible()
    await till.click("#tab-send")
    await expect(till.locator("#tab-items .tab-item[data-state='sent']")).to_have_count(2)

    # The hot line's screen gets its dish, never the drink; the cold line has the drink only.
    ticket = kds.locator(".ticket", has=kds.locator(".table", has_text="Mesa M5"))
    await expect(ticket).to_be_visible()
    await expect(ticket.locator(".item .name")).to_have_text(["Seco de pollo"])
    await expect(kds.locator(".item .name", has_text="Limonada")).to_have_count(0)
    await expect(ticket).to_have_attribute("data-state", "new")
    hot_state = await call_ok(cook, "kitchen.get", {"station_id": hot})
    cold_state = await call_ok(cook, "kitchen.get", {"station_id": cold})
    assert [[i["name"] for i in t["items"]] for t in hot_state["tickets"]] == [["Seco de pollo"]]
    assert [[i["name"] for i in t["items"]] for t in cold_state["tickets"]] == [["Limonada"]]
    await shot(till, "three-01-till-sent")
    await shot(kds, "three-02-kds-new")

    # The cook bumps it twice: in progress, then ready; the hub agrees, the till's tab stays as it was.
    await ticket.locator(".ticket-head").click()
    await expect(ticket).to_have_attribute("data-state", "in_progress")
    await ticket.locator(".ticket-head").click()
    await expect(ticket).to_have_attribute("data-state", "ready")
    hot_state = await call_ok(cook, "kitchen.get", {"station_id": hot})
    assert [t["state"] for t in hot_state["tickets"]] == ["ready"]
    await expect(till.locator("#tab-items .tab-item[data-state='sent']")).to_have_count(2)
    await expect(till.locator(".toast.error")).to_have_count(0)
    await shot(kds, "three-03-kds-bumped")

    # Paying on the till (all of it, by card, the suggested tip): the owner's totals move.
    await till.click("#tab-pay")
    await expect(till.locator("#tabpay-screen")).to_be_visible()
    await till.locator("#tabpay-parts-list .tabpay-part [data-kind='card']").click()
    await till.click("#tabpay-confirm")
    await expect(till.locator("#tabpay-done")).to_be_visible()
    number = int(str(await till.locator("#tabpay-sale").get_attribute("data-number")))
    async with demo.services.db.tenant(tenant_id) as session:
        sale = (await session.execute(select(Sale).where(Sale.number == number))).scalar_one()
        tickets = (await session.execute(select(KitchenTicket))).scalars().all()
    assert sale.tip == half_up_percent(sale.total, 10) and sale.tip > 0
    assert {str(t.station_id) for t in tickets} == {hot, cold}
    await expect(dashboard.locator("#total")).to_have_text(usd(before["total"] + sale.total))
    await expect(dashboard.locator("#count")).to_have_text(str(before["count"] + 1))
    await shot(till, "three-04-till-paid")
    await shot(dashboard, "three-05-dashboard")
    await till.click("#tabpay-close")
    await expect(till.locator(".table[data-name='M5']")).to_have_attribute("data-state", "free")

    assert till.errors == [] and kds.errors == [] and dashboard.errors == []
    for client in (owner, cook, waiter):
        await client.socket.close()
    for context in (till_context, kds_context, dashboard_context):
        await context.close()


async def test_a_waiter_merges_two_tables_moves_the_tab_and_prints_the_precuenta(
    demo: Demo, browser: Any
) -> None:
    place = await restaurant(demo)
    tenant_id = place["tenant_id"]
    context, page = await open_till(browser, demo)
    await open_table(page, "M6", 2)
    await tap_product(page, "Bebidas", "Cola")
    await expect(item(page, 1)).to_be_visible()
    await page.click("#tab-back")
    into = await open_table(page, "M7", 2)
    await tap_product(page, "Entradas", "Humita")
    await expect(item(page, 1)).to_be_visible()

    # "Unir mesas": the floor picks an open table (M6), whose tab joins this one.
    await page.click("#tab-merge")
    await expect(page.locator("#floor-pick")).to_be_visible()
    await expect(page.locator(".table[data-name='M7']")).to_be_disabled()  # this tab itself
    await expect(page.locator(".table[data-name='M1']")).to_be_disabled()  # free: nothing to merge
    await shot(page, "05-pick-merge")
    await page.click(".table[data-name='M6']")
    await expect(page.locator("#tab-panel")).to_have_attribute("data-tab", into)
    await expect(page.locator("#tab-items .tab-item .name")).to_have_text(["Humita", "Cola"])

    # "Mover mesa": to a free table of the Terraza; the floor shows the tab there and M6, M7 free.
    await page.click("#tab-move")
    await page.click("#areas [data-area] >> text=Terraza")
    await page.click(".table[data-name='T2']")
    await expect(page.locator("#tab-title")).to_contain_text("Mesa T2")
    await page.click("#tab-prebill")
    await expect(page.locator(".toast.ok").last).to_have_text("Precuenta enviada a la impresora.")
    await page.click("#tab-back")
    await expect(page.locator(".table[data-name='T2']")).to_have_attribute("data-state", "open")
    await page.click("#areas [data-area] >> text=Salón")
    for name in ("M6", "M7"):
        await expect(page.locator(f".table[data-name='{name}']")).to_have_attribute("data-state", "free")
    async with demo.services.db.tenant(tenant_id) as session:
        tabs = {t.status for t in (await session.execute(select(Tab))).scalars()}
        jobs = [j.kind for j in (await session.execute(select(PrintJob))).scalars()]
    assert tabs == {"open", "merged"} and "prebill" in jobs

    # A table opened by mistake: nothing to pay, so the button frees it (tab.close).
    await open_table(page, "M1", 1)
    await expect(page.locator("#tab-pay")).to_have_text("Liberar mesa")
    await page.click("#tab-pay")
    await expect(page.locator("#floor-view")).to_be_visible()
    await expect(page.locator(".table[data-name='M1']")).to_have_attribute("data-state", "free")
    assert page.errors == []
    await context.close()


async def test_the_floor_catches_up_after_a_dropped_connection(demo: Demo, browser: Any) -> None:
    """While the till's socket is down the owner opens a table and orders over hers; when it is back the
    floor shows that tab with its total, at the hub's rev (replayed by seq, or read again on a gap)."""
    place = await restaurant(demo)
    context, page = await restaurant_page(browser, demo, VIEWPORT, "mesero")
    gate = Gate()
    await gate.install(page)
    await page.click(".register-choice")
    badge = page.locator("#conn")
    await expect(badge).to_have_attribute("data-state", "connected")
    await expect(page.locator("#floor-view .table")).to_have_count(8)
    owner = await socket_of(demo, "duena")
    floor = await call_ok(owner, "floor.get", {"store_id": place["store_id"]})
    tables = {t["name"]: t["id"] for a in floor["areas"] for t in a["tables"]}

    gate.open = False
    for connection in [c for c in demo.services.sockets if c.principal.role.value == "cashier"]:
        connection.too_slow.set()  # the hub drops the till's socket (close 1013), as for a slow client
        connection.outgoing.put_nowait(None)
    await expect(badge).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    tab = await call_ok(owner, "tab.open", {"table_id": tables["M8"], "guests": 6})
    added = await call_ok(
        owner, "tab.add", {"tab_id": tab["tab_id"], "product_id": place["products"]["Fritada"]}
    )
    await expect(page.locator(".table[data-name='M8']")).to_have_attribute("data-state", "free")  # not yet

    gate.open = True
    await expect(badge).to_have_attribute("data-state", "connected", timeout=30_000)
    m8 = page.locator(".table[data-name='M8']")
    await expect(m8).to_have_attribute("data-state", "open")
    await expect(m8.locator(".table-total")).to_have_text(usd(added["total"]))
    now = await call_ok(owner, "floor.get", {"store_id": place["store_id"]})
    await expect(page.locator("body")).to_have_attribute("data-floor-rev", str(now["rev"]))
    await shot(page, "06-caught-up")
    assert page.errors == []
    await owner.socket.close()
    await context.close()


async def test_the_floor_loads_by_itself_after_the_hub_refused_it(
    demo: Demo, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub refuses floor.get (unavailable) three times, and until the till has said so on screen: the
    till reads again by itself, one read at a time, waiting longer each time (0.5 s, 1 s, 2 s), and the floor
    appears without a reload. The owner opens M4 while the read that succeeds is on its way, and its event
    reaches the till before the read's answer: it waits for the answer and is on the floor too."""
    place = await restaurant(demo)
    owner = await socket_of(demo, "duena")
    floor = await call_ok(owner, "floor.get", {"store_id": place["store_id"]})
    tables = {t["name"]: t["id"] for a in floor["areas"] for t in a["tables"]}
    served = COMMANDS["floor.get"].handler
    loop = asyncio.get_running_loop()
    reads: list[float] = []  # when the hub was asked, on its clock
    shown = asyncio.Event()  # the till showed that it cannot load the floor
    frames = FrameLog()
    opened: list[dict[str, Any]] = []

    async def floor_get(conn: Connection, payload: Any, command_id: str | None) -> Any:
        reads.append(loop.time())
        if len(reads) <= 3 or not shown.is_set():
            raise UnavailableError("the floor cannot be read right now")
        answer = await served(conn, payload, command_id)
        if not opened:
            # The answer is taken but not sent yet: M4's event gets to the till first.
            start = len(frames.received)
            opened.append(await call_ok(owner, "tab.open", {"table_id": tables["M4"], "guests": 4}))
            tab_id = opened[0]["tab_id"]
            await frames.wait(
                lambda f: f.get("event") == "TabChanged" and f["payload"]["tab_id"] == tab_id, start=start
            )
        return answer

    monkeypatch.setitem(COMMANDS, "floor.get", dataclasses.replace(COMMANDS["floor.get"], handler=floor_get))
    context, page = await restaurant_page(browser, demo, VIEWPORT, "mesero")
    frames.attach(page)
    await page.click(".register-choice")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    status = page.locator("#floor-status")
    await expect(status).to_be_visible()
    await expect(status).to_contain_text("No se pudo cargar el salón. Reintentando automáticamente…")
    await expect(status).to_contain_text("Servicio no disponible por un momento.")  # the hub's reason
    await expect(page.locator("#floor-view .table")).to_have_count(0)
    await shot(page, "07-floor-unavailable")
    shown.set()

    await expect(page.locator("#floor-view .table")).to_have_count(8)
    await expect(status).to_be_hidden()
    await expect(page.locator(".table[data-name='M4']")).to_have_attribute("data-state", "open")
    page_reads = [f for f in frames.sent if f.get("type") == "floor.get"]
    assert len(page_reads) == len(reads) >= 4  # three refusals, then the read that succeeded; none twice
    assert len({f["id"] for f in page_reads}) == len(page_reads)
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads)]
    assert [gap >= 0.45 * 2**n for n, gap in enumerate(gaps[:3])] == [True] * 3, gaps  # 0.5, 1, 2 s
    now = await call_ok(owner, "floor.get", {"store_id": place["store_id"]})
    assert now["rev"] == floor["rev"] + 1  # M4's tab: the event the till held, then applied
    await expect(page.locator("body")).to_have_attribute("data-floor-rev", str(now["rev"]))
    await shot(page, "08-floor-loaded")
    assert page.errors == []
    await owner.socket.close()
    await context.close()
