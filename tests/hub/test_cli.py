"""The ``storehub`` command as an operator uses it: migrate, seed, create tenants and users, serve."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

ROOT = Path(__file__).resolve().parents[2]


def storehub(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")}
    return clean | {
        "STOREHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hub.db",
        # seed-demo seals the demo's certificate and CAFs with it (and refuses to run without one).
        "STOREHUB_SECRET_KEY": "cli-test-secret-key-" + "x" * 32,
    }


def test_migrate_seed_and_create_tenant_and_user(env: dict[str, str]) -> None:
    migrated = storehub("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = storehub("seed-demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "donarosa" in seeded.stdout and "guayaquilena" in seeded.stdout and "demo1234" in seeded.stdout
    assert "Minimarket catalog: done, 328" in seeded.stderr  # progress is shown on stderr
    again = storehub("seed-demo", env=env)  # idempotent
    assert again.returncode == 0, again.stderr
    made = storehub(
        "create-tenant",
        "--slug",
        "almacen-luz",
        "--name",
        "Almacén Luz",
        "--country",
        "CL",
        "--tax-id",
        "76.086.428-5",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    user = storehub(
        "create-user",
        "--tenant",
        "almacen-luz",
        "--username",
        "luz",
        "--role",
        "owner",
        "--password-stdin",
        env=env,
        stdin="una clave larga\n",
    )
    assert user.returncode == 0, user.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("create-tenant", "--slug", "x1y", "--name", "X", "--country", "CL", "--tax-id", "76.086.428-4"),
            "check digit",
        ),
        (
            (
                "create-tenant",
                "--slug",
                "Bad Slug",
                "--name",
                "X",
                "--country",
                "CL",
                "--tax-id",
                "76086428-5",
            ),
            "slug",
        ),
        (
            ("create-tenant", "--slug", "ecu", "--name", "X", "--country", "EC", "--tax-id", "123"),
            "13 digits",
        ),
        (
            ("create-user", "--tenant", "nobody", "--username", "a1", "--role", "owner", "--password-stdin"),
            "no tenant",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    assert storehub("migrate", env=env).returncode == 0
    result = storehub(*args, env=env, stdin="una clave larga\n")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unknown_settings_are_refused(env: dict[str, str]) -> None:
    result = storehub("migrate", env=env | {"STOREHUB_DATABSE_URL": "typo"})
    assert result.returncode == 2 and "STOREHUB_DATABSE_URL" in result.stderr


ARTIFACTS = ROOT / "tests" / "artifacts" / "devices"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    assert storehub("migrate", env=env).returncode == 0
    assert storehub("seed-demo", env=env).returncode == 0
    port = free_port()
    env = env | {"STOREHUB_SII_SIMULATOR_URL": f"http://127.0.0.1:{free_port()}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--simulators"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                asyncio.run(asyncio.sleep(0.05))
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_the_served_demo_logs_in_and_opens_a_socket(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as http:
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/docs")).status_code in (200, 301, 302, 307, 308)
        login = await http.post(
            "/api/v1/auth/login",
            json={"tenant": "donarosa", "username": "caja1", "password": "demo1234"},
            headers={"Origin": served},
        )
        assert login.status_code in (200, 201), login.text
        cookie = http.cookies.get("storehub_session")
        assert cookie
        products = await http.get("/api/v1/products", params={"q": "marraq"})
        assert products.status_code == 200 and "Marraqueta" in products.text
    ws_url = served.replace("http", "ws") + "/ws"
    async with websockets.connect(
        ws_url, origin=served, additional_headers={"Cookie": f"storehub_session={cookie}"}
    ) as socket_:
        welcome = json.loads(await asyncio.wait_for(socket_.recv(), 5))
        assert welcome["type"] == "welcome" and welcome["role"] == "cashier"
        await socket_.send(
            json.dumps({"id": "1", "type": "catalog.lookup", "payload": {"code": "7800000000504"}})
        )
        reply = json.loads(await asyncio.wait_for(socket_.recv(), 5))
        assert reply["type"] == "reply" and reply["payload"]["sku"] == "00050"


async def test_the_served_demo_turns_a_sale_into_an_accepted_boleta_with_its_pdf(served: str) -> None:
    """What ``make run`` shows: the till sells, the built-in SII simulator accepts the boleta, and the
    printable PDF's barcode is the document's TED."""
    import io

    import pypdfium2 as pdfium  # type: ignore[import-untyped]
    import zxingcpp
    from lxml import etree

    from fiscal.cl.ted import ted_bytes

    async def login(http: httpx.AsyncClient, user: str) -> str:
        answer = await http.post(
            "/api/v1/auth/login",
            json={"tenant": "donarosa", "username": user, "password": "demo1234"},
            headers={"Origin": served},
        )
        assert answer.status_code in (200, 201), answer.text
        return str(http.cookies.get("storehub_session"))

    async with httpx.AsyncClient(base_url=served) as cashier:
        cookie = await login(cashier, "caja1")
        register = (await cashier.get("/api/v1/registers")).json()[0]["id"]
    async with websockets.connect(
        served.replace("http", "ws") + "/ws",
        origin=served,
        additional_headers={"Cookie": f"storehub_session={cookie}"},
    ) as till:
        await till.recv()  # welcome

        async def call(type_: str, payload: dict[str, object]) -> dict[str, object]:
            await till.send(json.dumps({"id": type_, "type": type_, "payload": payload}))
            while True:
                frame = json.loads(await asyncio.wait_for(till.recv(), 10))
                if frame.get("id") == type_:
                    assert frame["type"] == "reply", frame
                    return dict(frame["payload"])

        await call("cash.open", {"register_id": register, "float_amount": 10_000})
        cart = await call("cart.add", {"register_id": register, "code": "7800000000504"})
        sale = await call(
            "checkout", {"register_id": register, "tenders": [{"kind": "card", "amount": cart["total"]}]}
        )

    async with httpx.AsyncClient(base_url=served, timeout=30) as owner:
        await login(owner, "dueno")
        async with asyncio.timeout(60):
            while True:
                [document] = (
                    await owner.get("/api/v1/fiscal/documents", params={"sale_id": sale["sale_id"]})
                ).json()
                if document["status"] in ("accepted", "rejected"):
                    break
                await asyncio.sleep(0.2)
        assert (document["status"], document["doc_type"], document["folio"]) == (
            "accepted",
            39,
            sale["folio"],
        )
        xml = (await owner.get(f"/api/v1/fiscal/documents/{document['id']}/xml")).content
        pdf = await owner.get(
            f"/api/v1/fiscal/documents/{document['id']}/pdf", params={"layout": "thermal80"}
        )
        assert pdf.headers["content-type"] == "application/pdf"
    ted = etree.fromstring(xml).find(".//{http://www.sii.cl/SiiDte}TED")
    page = pdfium.PdfDocument(io.BytesIO(pdf.content))[0]
    image = page.render(scale=300 / 72).to_pil()
    codes = [c for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.PDF417]
    assert [c.bytes for c in codes] == [ted_bytes(ted)]

    # The demo's device agent printed the receipt on the virtual printer: its stamp is the same TED.
    from PIL import Image

    title = f"BOLETA ELECTRÓNICA N° {sale['folio']}"
    async with httpx.AsyncClient(base_url=served) as http, asyncio.timeout(30):
        while True:
            jobs = (await http.get("/sim/devices")).json()["printer"]["jobs"]
            printed = [job for job in jobs if title in job["text"]]
            if printed:
                break
            await asyncio.sleep(0.2)
        [job] = printed
        png = (await http.get(f"/sim/devices/printer/{job['id']}/png")).content
    assert "Leche entera 1 L" in job["text"] and "$1.090" in job["text"]
    assert "El IVA de esta boleta es $174" in job["text"] and "Timbre Electrónico SII" in job["text"]
    assert job["drawer_kicks"] == 0  # paid by card: the drawer stays shut
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "served-demo-boleta.png").write_bytes(png)
    receipt_codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [c.bytes for c in receipt_codes if c.format == zxingcpp.BarcodeFormat.PDF417] == [ted_bytes(ted)]


def test_fiscal_sample_writes_envelopes_that_verify(env: dict[str, str], tmp_path: Path) -> None:
    assert storehub("migrate", env=env).returncode == 0
    assert storehub("seed-demo", env=env).returncode == 0
    schemas = ROOT / ".." / "shared" / "reference" / "sii" / "schemas"
    for doc_type in ("39", "33", "61"):
        made = storehub("fiscal", "sample", "--type", doc_type, "--out", str(tmp_path / "out"), env=env)
        assert made.returncode == 0, made.stderr
        [path] = (tmp_path / "out").glob(f"sample-{doc_type}-*.xml")
        checked = storehub("fiscal", "verify", str(path), "--schemas", str(schemas), env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.startswith(f"OK {doc_type} folio ")
    # The demo's key is needed to open the certificate: with another one, a clear refusal, no file.
    wrong = env | {"STOREHUB_SECRET_KEY": "another-secret-key-" + "y" * 32}
    refused = storehub("fiscal", "sample", "--type", "39", "--out", str(tmp_path / "none"), env=wrong)
    assert refused.returncode != 0 and not (tmp_path / "none").exists()
    assert "storehub:" in refused.stderr
