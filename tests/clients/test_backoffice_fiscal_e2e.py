"""The back office's "Documentos tributarios" page in a real browser against a real hub.

Headless Chromium signs in as the demo's owner, manager and cashier (and the Ecuadorian owner) and uses
/backoffice/fiscal.html: the list of documents following the hub live (a sale made over a till socket
shows up and changes state without a reload), the PDF and XML downloads, the folios and certificate panel,
the owner's CAF upload (a refusal shows the hub's words, a good CAF refreshes the folios) and what other
roles and countries see. One test runs an SII simulator that rejects a folio, so SII's reason shows.
The page's files are also checked like the till's: CSP-clean, every text from i18n/es.json.
Screenshots go to tests/artifacts/backoffice/fiscal-*.png.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import select

from fiscal.cl.authority_keys import simulator_authority
from fiscal.cl.schemas import SiiSchemas
from hub.auth.tokens import SESSION_COOKIE
from hub.http.pages import CLIENTS_DIR
from hub.security import CSP
from hub.seed.demo import MINIMARKET_FISCAL
from schema.models import FolioRange
from tests.clients.conftest import Demo
from tests.clients.support import backoffice_page, sell, sign_in_to_backoffice
from tests.clients.test_till_static import PageText, has_key
from tests.hub.gateway.conftest import Client
from tests.support.sii_simulator import sii_simulator

pytestmark = pytest.mark.timeout(240)

WAIT_MS = 10_000
SIGN_WAIT_MS = 30_000  # a sale's document is signed right after the checkout; generous for slow machines
expect.set_options(timeout=WAIT_MS)

BACKOFFICE = CLIENTS_DIR / "backoffice"
PAGE = BACKOFFICE / "fiscal.html"
SCRIPT = BACKOFFICE / "fiscal.js"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "backoffice"
PHONE = {"width": 390, "height": 844}
PAGE_SIZE = 20  # documents per page in fiscal.js
SIGNED = ("signed", "sent", "accepted", "accepted_with_objections", "rejected")
SIGNED_CHIPS = re.compile("^(Firmado|Enviado|Aceptado|Aceptado con reparos|Rechazado)$")
# Elements sticking out of the viewport on the right (a phone must never scroll sideways).
WIDER_THAN_SCREEN = """
[...document.querySelectorAll("body *")]
  .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5)
  .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className
       + " " + Math.round(e.getBoundingClientRect().right))
"""
# Keys fiscal.js builds at run time ("status." + status, ...): they must all exist.
DYNAMIC_KEYS = [
    *(f"status.{s}" for s in ("pending", *SIGNED)),
    *(f"doc_type.{code}" for code in (39, 33, 61)),
    *(f"folios.state.{s}" for s in ("current", "queued", "used", "expired", "no_caf")),
    *(f"roles.{r}" for r in ("owner", "manager", "cashier", "kitchen")),
    "countries.CL",
    "countries.EC",
    "locale",
]


# -- helpers ----------------------------------------------------------------------------------------------


def catalog() -> dict[str, Any]:
    return dict(json.loads((BACKOFFICE / "i18n" / "es.json").read_text()))


async def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"fiscal-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def open_fiscal(page: Any, demo: Demo) -> None:
    await page.goto(demo.base + "/backoffice/fiscal.html")
    await expect(page.locator("#boot")).to_be_hidden()


async def use_folios(demo: Demo, doc_type: int, up_to: int) -> None:
    """As if the folios of this type up to ``up_to`` had been used (a shortcut past many sales)."""
    async with demo.services.db.tenant(demo.tenant_id) as session:
        query = select(FolioRange).where(FolioRange.doc_type == doc_type)
        folios = (await session.execute(query)).scalar_one()
        folios.next_folio = up_to + 1


def row_of(page: Any, sale_id: str) -> Any:
    return page.locator("#documents tr", has=page.locator(f"code.sale[title$='{sale_id}']"))


async def api_document(demo: Demo, username: str, sale_id: str) -> dict[str, Any]:
    """The document of a sale as the API lists it (the test's view of the truth)."""
    cookie = await demo.login_cookie(username)
    async with httpx.AsyncClient(base_url=demo.base, cookies={SESSION_COOKIE: cookie}) as client:
        response = await client.get("/api/v1/fiscal/documents", params={"sale_id": sale_id})
        response.raise_for_status()
        documents = response.json()
    assert len(documents) == 1, documents
    document: dict[str, Any] = documents[0]
    return document


# -- the files --------------------------------------------------------------------------------------------


def test_the_page_is_spanish_csp_clean_and_says_nothing_of_its_own() -> None:
    html = PAGE.read_text()
    assert '<html lang="es">' in html
    parsed = PageText()
    parsed.feed(html)
    assert parsed.inline == []
    assert "http://" not in html and "https://" not in html
    assert parsed.texts == ["Storehub", "Cargando…"], parsed.texts  # the brand, and the text before i18n
    messages = catalog()
    assert [key for key in parsed.keys if not has_key(messages, key)] == []


def test_every_text_the_script_asks_for_is_in_the_catalog() -> None:
    messages = catalog()
    asked: set[str] = set(DYNAMIC_KEYS)
    source = SCRIPT.read_text()
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
    for args in re.findall(r"(?:^|[^\w.])t\(([^,)]*)", source):
        asked.update(re.findall(r'"([a-z_]+(?:\.[a-z_0-9]+)+)"(?!\s*\+)', args))
    code = re.sub(r"//.*|/\*.*?\*/", "", source, flags=re.S)
    assert not re.search(r"[áéíóúñ¿¡]", code, re.I)  # Spanish belongs in es.json
    missing = sorted(key for key in asked if not has_key(messages, key))
    assert missing == []
    assert len(asked) > 50  # the pattern found the calls


async def test_the_page_is_served_with_the_strict_csp(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.base) as client:
        for path, kind in [
            ("/backoffice/fiscal.html", "text/html"),
            ("/backoffice/fiscal.js", "javascript"),
            ("/backoffice/i18n/es.json", "json"),
            ("/backoffice/style.css", "text/css"),
        ]:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert kind in response.headers["content-type"], path
            assert response.headers["content-security-policy"] == CSP


# -- in the browser ---------------------------------------------------------------------------------------


async def test_the_owner_follows_a_sale_downloads_its_pdf_and_manages_folios(
    demo: Demo, browser: Any, till: Client
) -> None:
    context, page = await backoffice_page(browser, accept_downloads=True)
    await sign_in_to_backoffice(page, demo, "dueno")
    # The landing page links the tax documents for a Chilean owner.
    await expect(page.locator("#nav-fiscal")).to_be_visible()
    await page.click("#nav-fiscal")
    await page.wait_for_url(re.compile(r"/backoffice/fiscal\.html$"))
    await expect(page.locator("#fiscal")).to_be_visible()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#documents-empty")).to_have_text("No hay documentos.")
    await expect(page.locator("#folios tr[data-doc-type='39'] .remaining")).to_have_text("1000")
    await expect(page.locator("#certificate-holder")).to_have_text("Rosa Pérez (certificado de prueba)")
    await expect(page.locator("#certificate-rut")).to_have_text(re.compile(r"13\.?185\.?095-6"))
    await expect(page.locator("#uploads")).to_be_visible()
    await expect(page.locator("#owner-only")).to_be_hidden()

    # A sale at Caja 1 (over its socket): its boleta shows up on the open page without a reload, and is
    # signed moments later (no SII listens in this test, so it stays signed or sent, retrying).
    receipt = await sell(demo, till)
    assert receipt["folio"] == 1 and receipt["doc_type"] == 39
    row = row_of(page, receipt["sale_id"])
    await expect(row).to_have_count(1)
    await expect(row.locator(".chip")).to_have_text(SIGNED_CHIPS, timeout=SIGN_WAIT_MS)
    document = await api_document(demo, "dueno", receipt["sale_id"])
    assert document["status"] in SIGNED
    await expect(row).to_have_attribute("data-status", re.compile("|".join(SIGNED)))
    await expect(row.locator(".folio")).to_have_text("1")
    await expect(row.locator(".doc-type")).to_have_text("Boleta")
    await expect(row.locator("code.sale")).to_have_text(receipt["sale_id"][-8:])
    await expect(row.locator("time")).not_to_be_empty()
    await expect(row.locator("a[data-file]")).to_have_text(["PDF 80 mm", "PDF carta", "XML"])
    # The sale took a folio: the panel followed (the page heard of a document it did not show).
    await expect(page.locator("#folios tr[data-doc-type='39'] .remaining")).to_have_text("999")
    await expect(page.locator("#folios tr[data-doc-type='39'] .next-folio")).to_have_text("2")
    await expect(page.locator("#folios tr[data-doc-type='39']")).not_to_have_class(re.compile(r"\blow\b"))
    await expect(page.locator("#folio-alerts .alert")).to_have_count(0)
    await shot(page, "01-owner-signed")

    # The 80 mm PDF downloads with the session cookie (a plain link), and so does the XML.
    async with page.expect_download() as download_info:
        await row.get_by_role("link", name="PDF 80 mm").click()
    download = await download_info.value
    assert download.suggested_filename == "DTE-39-1-thermal80.pdf"
    pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1024
    async with page.expect_download() as download_info:
        await row.get_by_role("link", name="XML").click()
    xml = await asyncio.to_thread(Path(await (await download_info.value).path()).read_bytes)
    assert b"<Folio>1</Folio>" in xml and b"Signature" in xml

    # The filter asks the hub for one state; paging stays on the first page with one document.
    await page.select_option("#status-filter", "rejected")
    await expect(page.locator("#documents tr")).to_have_count(0)
    await expect(page.locator("#documents-empty")).to_have_text("No hay documentos en estado «Rechazado».")
    await page.select_option("#status-filter", document["status"])
    await expect(page.locator("#documents tr")).to_have_count(1)
    await page.select_option("#status-filter", "")
    await expect(page.locator("#documents tr")).to_have_count(1)
    await expect(page.locator("#previous")).to_be_disabled()
    await expect(page.locator("#next")).to_be_disabled()
    await expect(page.locator("#page")).to_have_text("Página 1")

    # A garbage CAF: the hub refuses it and the page says so, with the hub's own words under a heading.
    await page.set_input_files(
        "#caf-file", {"name": "caf.xml", "mimeType": "text/xml", "buffer": b"esto no es un CAF"}
    )
    async with page.expect_response(lambda r: r.url.endswith("/api/v1/fiscal/cafs")) as answer_info:
        await page.click("#caf-submit")
    answer = await answer_info.value
    assert answer.status == 400
    detail = (await answer.json())["detail"]
    assert detail
    await expect(page.locator("#caf-error")).to_be_visible()
    await expect(page.locator("#caf-error strong")).to_have_text("No se pudo cargar el CAF:")
    await expect(page.locator("#caf-error .detail")).to_have_text(detail)
    await shot(page, "02-owner-caf-refused")

    # A good CAF (the simulator's authority, folios after the seeded ones): the panel shows two ranges.
    today = datetime.now(ZoneInfo("America/Santiago")).date()
    caf = simulator_authority().issue_caf(
        MINIMARKET_FISCAL.rut, MINIMARKET_FISCAL.razon_social, 39, 1001, 1100, today
    )
    await page.set_input_files("#caf-file", {"name": "caf-39.xml", "mimeType": "text/xml", "buffer": caf})
    await page.select_option("#caf-type", "39")
    await page.click("#caf-submit")
    await expect(page.locator("#caf-done")).to_have_text("CAF cargado: Boleta, folios 1001 a 1100.")
    await expect(page.locator("#caf-error")).to_be_hidden()
    await expect(page.locator("#folios tr[data-doc-type='39'] .remaining")).to_have_text("1099")
    await expect(page.locator("#folios tr[data-doc-type='39'] .ranges li")).to_have_count(2)
    await expect(page.locator("#folios tr[data-doc-type='39'] .ranges li").nth(1)).to_contain_text("en cola")

    # A certificate without its password is stopped before it is sent.
    await page.set_input_files(
        "#certificate-file", {"name": "firma.pfx", "mimeType": "application/x-pkcs12", "buffer": b"\x30\x82"}
    )
    await page.click("#certificate-submit")
    await expect(page.locator("#certificate-error .detail")).to_have_text(
        "Escriba la contraseña del certificado."
    )
    await shot(page, "03-owner-panel")

    # On a phone: the same page, each document a small card.
    phone_context, phone = await backoffice_page(browser, PHONE, accept_downloads=True)
    await phone_context.add_cookies(await context.cookies())
    await open_fiscal(phone, demo)
    phone_row = row_of(phone, receipt["sale_id"])
    await expect(phone_row.locator(".chip")).to_have_text(SIGNED_CHIPS)
    await expect(phone_row.get_by_role("link", name="PDF 80 mm")).to_be_visible()
    await shot(phone, "04-owner-phone")
    wide = await phone.evaluate(WIDER_THAN_SCREEN)
    assert wide == [], wide  # nothing wider than the screen

    assert page.errors == [] and phone.errors == []
    await phone_context.close()
    await context.close()


async def test_sii_rejection_and_acceptance_show_live_with_the_reason(
    demo: Demo, browser: Any, till: Client
) -> None:
    schemas_dir = demo.services.settings.sii_schemas_path
    reason = "Folio rechazado por el simulador (reject_folios)"
    async with sii_simulator(
        schemas=SiiSchemas(schemas_dir) if schemas_dir is not None else None,
        authority_keys=simulator_authority().keys,
    ) as sim:
        demo.services.fiscal.endpoints = sim.endpoints  # this hub's SII is this simulator
        await sim.set_faults(reject_folios={"39": [1]})

        context, page = await backoffice_page(browser, accept_downloads=True)
        await sign_in_to_backoffice(page, demo, "dueno")
        await open_fiscal(page, demo)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")

        rejected = await sell(demo, till, 50)
        accepted = await sell(demo, till, 51)
        assert (rejected["folio"], accepted["folio"]) == (1, 2)
        bad, good = row_of(page, rejected["sale_id"]), row_of(page, accepted["sale_id"])
        await expect(bad.locator(".chip")).to_have_text("Rechazado", timeout=SIGN_WAIT_MS)
        await expect(bad).to_have_attribute("data-status", "rejected")
        said = (await api_document(demo, "dueno", rejected["sale_id"]))["reason"]
        assert reason in said, said  # SII's words, as the hub keeps them
        await expect(bad.locator(".reason-text")).to_have_text(said)
        await expect(bad.locator(".chip")).to_have_css("color", "rgb(180, 35, 24)")  # red
        await expect(good.locator(".chip")).to_have_text("Aceptado", timeout=SIGN_WAIT_MS)
        await expect(good.locator(".chip")).to_have_css("color", "rgb(6, 118, 71)")  # green
        # A rejected document keeps its files (it was signed): the owner can see what was sent.
        await expect(bad.locator("a[data-file]")).to_have_count(3)
        await shot(page, "05-owner-rejected-and-accepted")

        await page.select_option("#status-filter", "rejected")
        await expect(page.locator("#documents tr")).to_have_count(1)
        await expect(page.locator("#documents tr .folio")).to_have_text("1")
        await page.select_option("#status-filter", "accepted")
        await expect(page.locator("#documents tr")).to_have_count(1)
        await expect(page.locator("#documents tr .folio")).to_have_text("2")
        assert page.errors == []
        await context.close()


async def test_a_manager_sees_the_panel_without_the_upload_forms_and_pages_the_list(
    demo: Demo, browser: Any, till: Client
) -> None:
    sales = [await sell(demo, till, 50 + n) for n in range(PAGE_SIZE + 1)]  # one more than a page
    await use_folios(demo, 61, up_to=194)  # 6 credit-note folios left: under the demo's threshold of 50
    context, page = await backoffice_page(browser, accept_downloads=True)
    await sign_in_to_backoffice(page, demo, "encargado")
    await expect(page.locator("#nav-fiscal")).to_be_visible()
    await open_fiscal(page, demo)
    await expect(page.locator("#fiscal")).to_be_visible()
    await expect(page.locator("#user-role")).to_have_text("Administrador")
    await expect(page.locator("#folios tr")).to_have_count(3)
    await expect(page.locator("#folios tr[data-doc-type='33'] .remaining")).to_have_text("500")
    await expect(page.locator("#folios tr[data-doc-type='61'] .remaining")).to_have_text("6")
    await expect(page.locator("#folios tr[data-doc-type='61']")).to_have_class(re.compile(r"\blow\b"))
    # Few folios left: a warning above everything, in Spanish, with the hub's own warning under it.
    alert = page.locator("#folio-alerts .alert")
    await expect(alert).to_have_count(1)
    await expect(alert).to_have_attribute("data-doc-type", "61")
    await expect(alert.locator("p").first).to_have_text(
        "Quedan pocos folios de Nota de crédito: 6 (el aviso salta bajo 50). "
        "Pida a SII un nuevo CAF y cárguelo aquí."
    )
    await expect(alert.locator(".warnings li")).to_have_text([re.compile(r"only 6 folios left")])
    await expect(page.locator("#certificate-info")).to_be_visible()
    owner_only = "Solo el dueño puede cargar el certificado y los CAF."
    await expect(page.locator("#owner-only")).to_have_text(owner_only)
    await expect(page.locator("#uploads")).to_be_hidden()
    await expect(page.locator("form.upload")).to_have_count(2)  # in the page, never shown
    await expect(page.locator("#caf-form")).to_be_hidden()
    await expect(page.locator("#certificate-form")).to_be_hidden()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#folios tr[data-doc-type='39'] .remaining")).to_have_text(
        str(1000 - len(sales))
    )

    # Newest first, a page at a time.
    await expect(page.locator("#documents tr")).to_have_count(PAGE_SIZE)
    await expect(page.locator("#documents tr .folio").first).to_have_text(str(sales[-1]["folio"]))
    await expect(page.locator("#previous")).to_be_disabled()
    await expect(page.locator("#next")).to_be_enabled()
    await shot(page, "06-manager")
    await page.click("#next")
    await expect(page.locator("#page")).to_have_text("Página 2")
    await expect(page.locator("#documents tr")).to_have_count(1)
    await expect(page.locator("#documents tr .folio")).to_have_text("1")
    await expect(page.locator("#next")).to_be_disabled()
    await page.click("#previous")
    await expect(page.locator("#page")).to_have_text("Página 1")
    await expect(page.locator("#documents tr")).to_have_count(PAGE_SIZE)
    assert page.errors == []
    await context.close()


async def test_a_cashier_cannot_open_the_page(demo: Demo, browser: Any) -> None:
    context, page = await backoffice_page(browser, accept_downloads=True)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await sign_in_to_backoffice(page, demo, "caja1")
    await page.wait_for_url(re.compile(r"/till/"))  # cashiers land on the till
    await open_fiscal(page, demo)
    await expect(page.locator("#refused")).to_be_visible()
    await expect(page.locator("#refused")).to_contain_text("su rol no permite ver los documentos tributarios")
    await expect(page.locator("#refused a")).to_have_attribute("href", "/till/")
    await expect(page.locator("#fiscal")).to_be_hidden()
    assert not [url for url in asked if "/api/v1/fiscal" in url]
    await shot(page, "07-cashier-refused")
    # The hub refuses them too: the page hiding it is a courtesy, not the guard.
    cookie = await demo.login_cookie("caja1")
    async with httpx.AsyncClient(base_url=demo.base, cookies={SESSION_COOKIE: cookie}) as client:
        assert (await client.get("/api/v1/fiscal/documents")).status_code == 403
        assert (await client.get("/api/v1/fiscal/folios")).status_code == 403
    assert page.errors == []
    await context.close()


async def test_an_ecuadorian_tenant_gets_a_note_instead(demo: Demo, browser: Any) -> None:
    context, page = await backoffice_page(browser, accept_downloads=True)
    await sign_in_to_backoffice(page, demo, "duena", tenant="guayaquilena")
    await expect(page.locator("#tenant-country")).to_have_text("Ecuador")
    await expect(page.locator("#nav-fiscal")).to_be_hidden()
    await open_fiscal(page, demo)
    await expect(page.locator("#not-chilean")).to_be_visible()
    await expect(page.locator("#not-chilean")).to_contain_text("solo para empresas de Chile")
    await expect(page.locator("#fiscal")).to_be_hidden()
    await shot(page, "08-ecuador")
    assert page.errors == []
    await context.close()
