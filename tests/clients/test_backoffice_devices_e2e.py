"""The back office's "Dispositivos" page in a real browser against a real hub.

Headless Chromium signs in as the demo's manager (and owner, and a cashier) and uses
/backoffice/devices.html: the demo's scale and printer bound to Caja 1; a new agent whose one-time pairing
code the test trades at ``POST /api/v1/devices/pair`` for an ``shd_`` token, after which the page says it
is paired; the printer moved to Caja 2 and to 58 mm paper (checked through the API); the agent revoked
after the confirm dialog, its open socket closed with 4401 and its token refused from then on. Also the
hub's refusals shown as they come (an empty name, a device revoked behind the page's back), the print jobs
of a printer with a reprint, a second store, a phone-sized screen and a cashier turned away.
The page's files are checked like the fiscal page's: CSP-clean, every text from i18n/es.json.
Screenshots go to tests/artifacts/backoffice/devices-*.png.
"""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from playwright.async_api import expect
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from hub.auth.tokens import SESSION_COOKIE
from hub.http.pages import CLIENTS_DIR
from hub.security import CSP
from hub.seed.demo import DEMO_PASSWORD
from schema.models import Device, PrintJob, Register, Store
from tests.clients.conftest import TENANT, Demo
from tests.clients.support import backoffice_page, sell, sign_in_to_backoffice
from tests.clients.test_till_static import PageText, has_key
from tests.hub.gateway.conftest import Client

pytestmark = pytest.mark.timeout(240)

WAIT_MS = 10_000
expect.set_options(timeout=WAIT_MS)

BACKOFFICE = CLIENTS_DIR / "backoffice"
PAGE = BACKOFFICE / "devices.html"
SCRIPT = BACKOFFICE / "devices.js"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "backoffice"
PHONE = {"width": 390, "height": 844}
DEVICES = "/api/v1/devices"
# Elements sticking out of the viewport on the right (a phone must never scroll sideways).
WIDER_THAN_SCREEN = """
[...document.querySelectorAll("body *")]
  .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5)
  .filter((e) => !e.closest("pre"))
  .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className
       + " " + Math.round(e.getBoundingClientRect().right))
"""
# Keys devices.js builds at run time ("devices.kind." + kind, ...): they must all exist.
DYNAMIC_KEYS = [
    *(f"devices.kind.{k}" for k in ("agent", "scale", "printer", "drawer")),
    *(f"devices.status.{s}" for s in ("pairing", "unpaired", "paired", "revoked")),
    *(f"devices.jobs.kind.{k}" for k in ("receipt", "kitchen", "zreport", "test")),
    *(f"devices.jobs.state.{s}" for s in ("queued", "sent", "held", "printed", "failed")),
    "devices.paper.80",
    "devices.paper.58",
    *(f"roles.{r}" for r in ("owner", "manager", "cashier", "kitchen")),
    *(f"conn.{s}" for s in ("connecting", "connected", "reconnecting", "offline")),
    "countries.CL",
    "locale",
]
PAIRING_CODE = re.compile(r"^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$")  # shown in two groups of five


# -- helpers ----------------------------------------------------------------------------------------------


def catalog() -> dict[str, Any]:
    return dict(json.loads((BACKOFFICE / "i18n" / "es.json").read_text()))


async def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"devices-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def open_devices(page: Any, demo: Demo) -> None:
    await page.goto(demo.base + "/backoffice/devices.html")
    await expect(page.locator("#boot")).to_be_hidden()


@pytest.fixture
async def api(demo: Demo) -> AsyncIterator[httpx.AsyncClient]:
    """The demo manager on the API (session cookie and CSRF header): the test's view of the truth."""
    async with httpx.AsyncClient(base_url=demo.base) as client:
        signed = await client.post(
            "/api/v1/auth/login", json={"tenant": TENANT, "username": "encargado", "password": DEMO_PASSWORD}
        )
        signed.raise_for_status()
        client.cookies.set(SESSION_COOKIE, signed.cookies[SESSION_COOKIE])
        client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        yield client


async def get_ok(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def demo_devices(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """The demo's devices by name."""
    return {d["name"]: d for d in await get_ok(api, DEVICES)}


async def register_id(demo: Demo, name: str) -> str:
    async with demo.services.db.tenant(demo.tenant_id) as session:
        return str((await session.execute(select(Register.id).where(Register.name == name))).scalar_one())


def row(page: Any, device_id: str) -> Any:
    return page.locator(f"#devices tr[data-device-id='{device_id}']")


def row_named(page: Any, name: str) -> Any:
    return page.locator("#devices tr", has=page.locator("strong.name", has_text=re.compile(f"^{name}$")))


async def accept_next_dialog(page: Any, accept: bool = True) -> list[str]:
    """Answer the next confirm() (accept or dismiss); the list gets its message."""
    said: list[str] = []

    async def answer(dialog: Any) -> None:
        said.append(dialog.message)
        if accept:
            await dialog.accept()
        else:
            await dialog.dismiss()

    page.once("dialog", answer)
    return said


async def closed_with(socket: Any, timeout: float = 5.0) -> int:
    """The close code the hub sent on this socket (frames on their way may come first)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                await socket.recv()
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd is not None else 0


def agent_socket(demo: Demo, token: str) -> Any:
    return websockets.connect(demo.ws, additional_headers={"Authorization": f"Bearer {token}"})


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
    # The other back-office pages link here.
    for other in ("index.html", "fiscal.html"):
        nav = re.search(r'<nav class="nav".*?</nav>', (BACKOFFICE / other).read_text(), re.S)
        assert nav is not None and 'href="/backoffice/devices.html"' in nav.group(0), other
    assert messages["nav"]["devices"] == "Dispositivos"


def test_every_text_the_script_asks_for_is_in_the_catalog() -> None:
    messages = catalog()
    asked: set[str] = set(DYNAMIC_KEYS)
    source = SCRIPT.read_text()
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
    for args in re.findall(r"(?:^|[^\w.])t\(([^,)]*)", source):
        asked.update(re.findall(r'"([a-z_]+(?:\.[a-z_0-9]+)+)"(?!\s*\+)', args))
    # Keys picked by a condition first, then passed to t(): `const question = cond ? "a.b" : "a.c"`.
    asked.update(re.findall(r'"(devices\.[a-z_]+(?:\.[a-z_0-9]+)*)"(?!\s*\+)', source))
    code = re.sub(r"//.*|/\*.*?\*/", "", source, flags=re.S)
    assert not re.search(r"[áéíóúñ¿¡]", code, re.I)  # Spanish belongs in es.json
    missing = sorted(key for key in asked if not has_key(messages, key))
    assert missing == []
    assert len(asked) > 60  # the pattern found the calls


async def test_the_page_is_served_with_the_strict_csp(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.base) as client:
        for path, kind in [
            ("/backoffice/devices.html", "text/html"),
            ("/backoffice/devices.js", "javascript"),
            ("/backoffice/i18n/es.json", "json"),
            ("/backoffice/style.css", "text/css"),
        ]:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert kind in response.headers["content-type"], path
            assert response.headers["content-security-policy"] == CSP


# -- in the browser ---------------------------------------------------------------------------------------


async def test_a_manager_pairs_an_agent_moves_the_printer_and_revokes_the_agent(
    demo: Demo, browser: Any, api: httpx.AsyncClient
) -> None:
    before = await demo_devices(api)
    scale, printer = before["Balanza Caja 1"], before["Impresora Caja 1"]
    caja1, caja2 = await register_id(demo, "Caja 1"), await register_id(demo, "Caja 2")
    assert scale["register_id"] == caja1 and printer["register_id"] == caja1

    context, page = await backoffice_page(browser, permissions=["clipboard-read", "clipboard-write"])
    await sign_in_to_backoffice(page, demo, "encargado")
    # The landing page links the devices.
    await page.click("nav a[href='/backoffice/devices.html']")
    await page.wait_for_url(re.compile(r"/backoffice/devices\.html$"))
    await expect(page.locator("#devices-page")).to_be_visible()
    await expect(page.locator("#user-role")).to_have_text("Administrador")
    await expect(page.locator("nav a[aria-current='page']")).to_have_text("Dispositivos")
    await expect(page.locator("#nav-fiscal")).to_be_visible()  # a Chilean tenant
    await expect(page.locator("#store-picker")).to_be_hidden()  # one store: no selector
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")

    # The demo's scale and printer, both on Caja 1; driven by an agent, so not paired themselves.
    await expect(page.locator("#devices tr")).to_have_count(2)
    for device, kind in ((scale, "Balanza"), (printer, "Impresora")):
        line = row(page, device["id"])
        await expect(line.locator(".name")).to_have_text(device["name"])
        await expect(line.locator(".kind")).to_have_text(kind)
        await expect(line.locator("select.register option:checked")).to_have_text("Caja 1")
        await expect(line.locator(".chip")).to_have_text("Sin vincular")
        await expect(line.locator("code.device-id")).to_have_text("…" + device["id"][-8:])
        await expect(line.locator("code.device-id")).to_have_attribute(
            "title", f"Id completo: {device['id']}"
        )
    await expect(row(page, printer["id"]).locator("select.paper option:checked")).to_have_text("80 mm")
    await expect(row(page, scale["id"]).locator("select.paper")).to_have_count(0)
    # Its copy button puts the full id on the clipboard (the agent's agent.toml needs it).
    await row(page, printer["id"]).get_by_role("button", name="Copiar el id de «Impresora Caja 1»").click()
    assert await page.evaluate("navigator.clipboard.readText()") == printer["id"]
    await expect(row(page, printer["id"]).locator("button.copy")).to_have_text("Copiado")

    # How to start the agent: this hub's address, and an agent.toml with this store's scale and printer.
    await expect(page.locator("#agent-command")).to_have_text(
        f"storehub devices --hub {demo.base} --token shd_… --config agent.toml"
    )
    toml = await page.locator("#agent-toml").text_content()
    assert f'[[scale]]\ndevice_id = "{scale["id"]}"' in toml
    assert f'[[printer]]\ndevice_id = "{printer["id"]}"' in toml
    assert 'protocol = "toledo8217"' in toml
    parsed = tomllib.loads(toml)
    assert [s["device_id"] for s in parsed["scale"]] == [scale["id"]]
    assert [p["device_id"] for p in parsed["printer"]] == [printer["id"]]
    await expect(page.locator("#jobs .printer-jobs h3")).to_have_text(["Impresora Caja 1 Caja 1"])
    await shot(page, "01-manager")

    # A new agent: its pairing code is shown once, large, with its expiry; the register does not apply.
    await page.select_option("#create-kind", "agent")
    await expect(page.locator("#create-register")).to_be_disabled()
    await page.fill("#create-name", "Agente Ñuñoa")
    await page.click("#create-submit")
    await expect(page.locator("#pairing")).to_be_visible()
    await expect(page.locator("#pairing-title")).to_have_text("Código de vinculación · Agente «Agente Ñuñoa»")
    await expect(page.locator("#pairing-code")).to_have_text(PAIRING_CODE)
    await expect(page.locator("#pairing-expires")).to_have_text(
        re.compile(r"^Vence a las \d\d:\d\d · quedan 1[45]:\d\d$")
    )
    code = await page.locator("#pairing-code").get_attribute("data-code")
    assert code is not None and len(code) == 10
    curl = await page.locator("#pairing-curl").text_content()
    assert (
        f"{demo.base}/api/v1/devices/pair" in curl
        and f'"code":"{code}"' in curl
        and '"tenant":"donarosa"' in curl
    )
    await expect(page.locator("#pairing-run")).to_have_text(re.compile(r"^storehub devices --hub "))
    agent_line = row_named(page, "Agente Ñuñoa")
    await expect(agent_line.locator(".chip")).to_have_text("Esperando vinculación")
    await expect(agent_line.locator(".status .small")).to_have_text(
        re.compile(r"^el código vence a las \d\d:\d\d$")
    )
    await expect(agent_line).not_to_contain_text("Caja 1")  # an agent serves the store, not a register
    agent_id = await agent_line.get_attribute("data-device-id")
    assert agent_id is not None
    await expect(page.locator("#create-name")).to_have_value("")
    await shot(page, "02-pairing-code")

    # The agent trades the code (typed the way it is shown, with its dash) for its token.
    async with httpx.AsyncClient(base_url=demo.base) as anonymous:
        paired = await anonymous.post(
            DEVICES + "/pair",
            json={"tenant": TENANT, "code": await page.locator("#pairing-code").text_content()},
        )
    assert paired.status_code == 200, paired.text
    token = paired.json()["token"]
    assert token.startswith("shd_") and paired.json()["device_id"] == agent_id
    # The page notices while the code is on screen...
    await expect(page.locator("#pairing-paired")).to_have_text("¡Listo! «Agente Ñuñoa» quedó vinculado.")
    await expect(agent_line.locator(".chip")).to_have_text("Vinculado")
    # ... and after a reload the code is gone for good and the agent is paired.
    await page.reload()
    await expect(page.locator("#devices tr")).to_have_count(3)
    await expect(page.locator("#pairing")).to_be_hidden()
    await expect(page.locator("#pairing-code")).to_have_text("")
    await expect(row(page, agent_id).locator(".chip")).to_have_text("Vinculado")
    await expect(row(page, agent_id).locator(".status .small")).to_have_text(re.compile(r"^desde el \d\d"))
    toml = await page.locator("#agent-toml").text_content()
    assert tomllib.loads(toml)["agent"]["name"] == "Agente Ñuñoa"

    # The printer moves to Caja 2, then to 58 mm paper: the hub has both.
    await row(page, printer["id"]).locator("select.register").select_option(label="Caja 2")
    await expect(page.locator("#action-done")).to_have_text("«Impresora Caja 1» quedó en Caja 2.")
    assert (await get_ok(api, f"{DEVICES}/{printer['id']}"))["register_id"] == caja2
    await row(page, printer["id"]).locator("select.paper").select_option("58")
    await expect(page.locator("#action-done")).to_have_text("Papel de «Impresora Caja 1»: 58 mm.")
    moved = await get_ok(api, f"{DEVICES}/{printer['id']}")
    assert moved["register_id"] == caja2 and moved["config"] == {"paper_mm": 58}
    await expect(page.locator("#jobs .printer-jobs h3")).to_have_text(["Impresora Caja 1 Caja 2"])
    await page.reload()
    await expect(row(page, printer["id"]).locator("select.register option:checked")).to_have_text("Caja 2")
    await expect(row(page, printer["id"]).locator("select.paper option:checked")).to_have_text("58 mm")

    # The agent connects with its token; revoking it asks first (cancel changes nothing)...
    async with agent_socket(demo, token) as socket:
        assert json.loads(await socket.recv())["type"] == "welcome"
        revoke = row(page, agent_id).get_by_role("button", name="Revocar «Agente Ñuñoa»")
        said = await accept_next_dialog(page, accept=False)
        await revoke.click()
        await expect(row(page, agent_id).locator(".chip")).to_have_text("Vinculado")
        assert len(said) == 1 and said[0].startswith(
            "¿Revocar el agente «Agente Ñuñoa»? Se desconecta al instante"
        )
        assert (await get_ok(api, f"{DEVICES}/{agent_id}"))["status"] == "paired"
        # ... and once confirmed, the agent is cut off at once.
        said = await accept_next_dialog(page)
        await revoke.click()
        await expect(row(page, agent_id).locator(".chip")).to_have_text("Revocado")
        assert len(said) == 1
        assert await closed_with(socket) == 4401
    await expect(page.locator("#action-done")).to_have_text("«Agente Ñuñoa» quedó revocado.")
    await expect(row(page, agent_id).locator("button.revoke")).to_have_count(0)
    assert (await get_ok(api, f"{DEVICES}/{agent_id}"))["status"] == "revoked"
    async with agent_socket(demo, token) as socket:
        assert await closed_with(socket) == 4401  # the token is refused from now on
    assert "Agente Ñuñoa" not in (await page.locator("#agent-toml").text_content())
    await shot(page, "03-revoked")
    # Read again, revoked devices come last (the row stayed in place until then).
    await page.click("#refresh")
    await expect(page.locator("#devices tr").last).to_have_attribute("data-device-id", agent_id)
    assert page.errors == []
    await context.close()


async def test_the_hubs_refusals_show_and_nothing_changes(
    demo: Demo, browser: Any, api: httpx.AsyncClient
) -> None:
    before = await demo_devices(api)
    context, page = await backoffice_page(browser, permissions=["clipboard-read", "clipboard-write"])
    await sign_in_to_backoffice(page, demo, "dueno")
    await open_devices(page, demo)
    await expect(page.locator("#devices tr")).to_have_count(2)

    # No name: the hub says why, in its own words; nothing is created and no code is shown.
    expected = await api.post(
        DEVICES, json={"store_id": before["Balanza Caja 1"]["store_id"], "kind": "scale", "name": ""}
    )
    assert expected.status_code == 400
    await page.select_option("#create-kind", "scale")
    await page.fill("#create-name", "   ")
    await page.click("#create-submit")
    error = page.locator("#create-error")
    await expect(error).to_be_visible()
    await expect(error.locator("strong")).to_have_text("No se pudo crear el dispositivo:")
    await expect(error.locator(".detail")).to_have_text(expected.json()["detail"])
    await expect(page.locator("#pairing")).to_be_hidden()
    await expect(page.locator("#devices tr")).to_have_count(2)
    assert (await demo_devices(api)).keys() == before.keys()
    await shot(page, "04-empty-name")

    # A good name clears the error.
    await page.fill("#create-name", "Balanza Caja 2")
    await page.select_option("#create-register", label="Caja 2")
    await page.click("#create-submit")
    await expect(page.locator("#pairing")).to_be_visible()
    await expect(error).to_be_hidden()
    await expect(page.locator("#pairing-other")).to_be_visible()  # a scale pairs through its agent
    await expect(page.locator("#pairing-agent")).to_be_hidden()
    created = (await demo_devices(api))["Balanza Caja 2"]
    assert created["kind"] == "scale" and created["register_id"] == await register_id(demo, "Caja 2")
    await expect(row(page, created["id"]).locator("select.register option:checked")).to_have_text("Caja 2")
    await page.click("#pairing-close")
    await expect(page.locator("#pairing")).to_be_hidden()

    # The printer is revoked elsewhere (another tab, the API): moving it now is refused, the hub says why
    # and the select shows what the hub still has.
    printer = before["Impresora Caja 1"]
    assert (await api.post(f"{DEVICES}/{printer['id']}/revoke")).status_code == 200
    await row(page, printer["id"]).locator("select.register").select_option(label="Caja 2")
    problem = page.locator("#action-error")
    await expect(problem).to_be_visible()
    await expect(problem.locator(".lead")).to_have_text("No se pudo cambiar la caja de «Impresora Caja 1»:")
    await expect(problem.locator(".detail")).to_have_text("the device was revoked; register a new one")
    # The row now shows the printer as the hub has it: revoked, still on Caja 1, nothing to change.
    await expect(row(page, printer["id"]).locator(".chip")).to_have_text("Revocado")
    await expect(row(page, printer["id"]).locator("select")).to_have_count(0)
    await expect(row(page, printer["id"]).locator("td[data-label='Caja']")).to_have_text("Caja 1")
    assert (await get_ok(api, f"{DEVICES}/{printer['id']}"))["register_id"] == await register_id(
        demo, "Caja 1"
    )
    await shot(page, "05-refused")
    await expect(page.locator("#jobs-empty")).to_have_text("Este local no tiene impresoras.")
    assert page.errors == []
    await context.close()


async def test_a_printers_last_jobs_show_in_spanish_and_reprint(
    demo: Demo, browser: Any, api: httpx.AsyncClient, till: Client
) -> None:
    printer = (await demo_devices(api))["Impresora Caja 1"]
    context, page = await backoffice_page(browser, permissions=["clipboard-read", "clipboard-write"])
    await sign_in_to_backoffice(page, demo, "encargado")
    await open_devices(page, demo)
    block = page.locator(f"#jobs .printer-jobs[data-device-id='{printer['id']}']")
    await expect(block.locator(".jobs-empty")).to_have_text("Sin impresiones todavía.")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")

    # A sale at Caja 1: its receipt is queued on the printer (no agent is connected) and shows up live.
    await sell(demo, till)
    await expect(block.locator("tbody tr")).to_have_count(1)
    first = block.locator("tbody tr").first
    await expect(first.locator(".job-kind")).to_have_text("Comprobante")
    await expect(first.locator(".chip")).to_have_text("En cola")
    jobs = await get_ok(api, "/api/v1/print-jobs", device_id=printer["id"])
    assert len(jobs) == 1
    await expect(first).to_have_attribute("data-job-id", jobs[0]["job_id"])

    # Reprint: a new job on the same printer, newest first.
    async with asyncio.timeout(10):  # the receipt is rendered moments after the sale
        while True:
            async with demo.services.db.tenant(demo.tenant_id) as session:
                if (await session.get(PrintJob, (demo.tenant_id, uuid.UUID(jobs[0]["job_id"])))).data:
                    break
            await asyncio.sleep(0.1)
    await first.get_by_role("button", name="Reimprimir").click()
    await expect(page.locator("#jobs-done")).to_have_text("Enviado de nuevo a «Impresora Caja 1».")
    await expect(block.locator("tbody tr")).to_have_count(2)
    assert len(await get_ok(api, "/api/v1/print-jobs", device_id=printer["id"])) == 2

    # Whatever state the agent reports, in Spanish, with the printer's reason.
    async with demo.services.db.tenant(demo.tenant_id) as session:
        rows = list((await session.execute(select(PrintJob).order_by(PrintJob.created_at))).scalars())
        rows[0].state, rows[0].reason = "failed", "la impresora se apagó a mitad de la boleta"
        rows[1].state, rows[1].reason = "held", "sin papel"
    await page.click("#refresh")
    await expect(block.locator("tbody tr .chip")).to_have_text(["En espera", "Falló"])
    await expect(block.locator("tbody tr .reason-text")).to_have_text(
        ["sin papel", "la impresora se apagó a mitad de la boleta"]
    )
    await shot(page, "06-print-jobs")
    async with demo.services.db.tenant(demo.tenant_id) as session:
        for job in (await session.execute(select(PrintJob))).scalars():
            job.state, job.reason = "printed", ""
    await page.click("#refresh")
    await expect(block.locator("tbody tr .chip")).to_have_text(["Impreso", "Impreso"])
    await expect(block.locator("tbody tr .reason-text")).to_have_count(0)

    # A job whose printer was revoked meanwhile cannot be reprinted: the hub's words.
    assert (await api.post(f"{DEVICES}/{printer['id']}/revoke")).status_code == 200
    await block.get_by_role("button", name="Reimprimir").first.click()
    await expect(page.locator("#jobs-error")).to_be_visible()
    await expect(page.locator("#jobs-error .detail")).to_have_text("the printer was revoked")
    assert page.errors == []
    await context.close()


async def test_on_a_phone_the_code_is_large_and_nothing_is_wider_than_the_screen(
    demo: Demo, browser: Any, api: httpx.AsyncClient
) -> None:
    context, page = await backoffice_page(browser, PHONE, permissions=["clipboard-read", "clipboard-write"])
    await sign_in_to_backoffice(page, demo, "encargado")
    await open_devices(page, demo)
    await expect(page.locator("#devices tr")).to_have_count(2)
    # Each row is a card with the column's name beside each value.
    printer = (await demo_devices(api))["Impresora Caja 1"]
    await expect(row(page, printer["id"]).locator("td").first).to_have_attribute("data-label", "Nombre")
    await expect(page.locator("table.devices thead")).to_be_hidden()
    await page.select_option("#create-kind", "printer")
    await expect(page.locator("#create-paper-field")).to_be_visible()
    await page.fill("#create-name", "Impresora Caja 2")
    await page.select_option("#create-register", label="Caja 2")
    await page.select_option("#create-paper", "58")
    await page.click("#create-submit")
    await expect(page.locator("#pairing-code")).to_have_text(PAIRING_CODE)
    created = (await demo_devices(api))["Impresora Caja 2"]
    assert created["config"] == {"paper_mm": 58}
    size = await page.locator("#pairing-code").evaluate("(e) => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 28  # large enough to read across the counter
    # Touch targets: buttons and selects at least 44 px high.
    heights = await page.evaluate(
        """[...document.querySelectorAll('#devices-page button, #devices-page select')]
             .filter((e) => e.getClientRects().length).map((e) => e.getBoundingClientRect().height)"""
    )
    assert heights and min(heights) >= 43.5, heights
    await page.evaluate("window.scrollTo(0, 0)")
    await shot(page, "07-phone")
    wide = await page.evaluate(WIDER_THAN_SCREEN)
    assert wide == [], wide  # nothing wider than the screen (code blocks scroll inside themselves)
    assert page.errors == []
    await context.close()


async def test_an_owner_with_two_stores_picks_the_store(demo: Demo, browser: Any) -> None:
    async with demo.services.db.tenant(demo.tenant_id) as session:
        first = (await session.execute(select(Store))).scalar_one()
        second = Store(
            tenant_id=demo.tenant_id, code="2", name="Local Providencia", warehouse_id=first.warehouse_id
        )
        session.add(second)
        await session.flush()
        session.add(Register(tenant_id=demo.tenant_id, store_id=second.id, code="1", name="Caja Providencia"))
        second_id = str(second.id)
    context, page = await backoffice_page(browser, permissions=["clipboard-read", "clipboard-write"])
    await sign_in_to_backoffice(page, demo, "dueno")
    await open_devices(page, demo)
    await expect(page.locator("#user-role")).to_have_text("Dueño")
    await expect(page.locator("#store-picker")).to_be_visible()
    await expect(page.locator("#store option")).to_have_text(["Local Ñuñoa", "Local Providencia"])
    await expect(page.locator("#devices tr")).to_have_count(2)
    await page.select_option("#store", label="Local Providencia")
    await expect(page.locator("#devices-empty")).to_be_visible()
    await expect(page.locator("#devices tr")).to_have_count(0)
    await expect(page.locator("#create-register option")).to_have_text(["Sin caja", "Caja Providencia"])
    await expect(page.locator("#agent-toml-empty")).to_be_visible()
    await page.select_option("#create-kind", "scale")
    await page.fill("#create-name", "Balanza Providencia")
    await page.select_option("#create-register", label="Caja Providencia")
    await page.click("#create-submit")
    await expect(page.locator("#devices tr")).to_have_count(1)
    async with demo.services.db.tenant(demo.tenant_id) as session:
        made = (
            await session.execute(select(Device).where(Device.name == "Balanza Providencia"))
        ).scalar_one()
        assert str(made.store_id) == second_id
    # A reload stays on the chosen store.
    await page.reload()
    await expect(page.locator("#store")).to_have_value(second_id)
    await expect(page.locator("#devices tr .name")).to_have_text(["Balanza Providencia"])
    await shot(page, "08-second-store")
    assert page.errors == []
    await context.close()


async def test_a_cashier_is_turned_away(demo: Demo, browser: Any) -> None:
    context, page = await backoffice_page(browser, permissions=["clipboard-read", "clipboard-write"])
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await sign_in_to_backoffice(page, demo, "caja1")
    await open_devices(page, demo)
    await expect(page.locator("#refused")).to_be_visible()
    await expect(page.locator("#refused")).to_contain_text("su rol no permite administrar los dispositivos")
    await expect(page.locator("#devices-page")).to_be_hidden()
    assert not [url for url in asked if "/api/v1/devices" in url]
    assert page.errors == []
    await context.close()
