"""``/api/v1/fiscal``: the Chilean setup over REST. Managers read, owners write, cashiers see nothing; every
bad file is refused with its own message and stable code and changes nothing; tenants never see each
other's (SQLite and Postgres)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from fiscal.certificates import make_test_certificate
from fiscal.cl.authority_keys import DemoAuthority, simulator_authority
from fiscal.cl.rut import format_rut
from fiscal.errors import UnreadableSecretError
from fiscal.keys import at_rest_key, unseal
from hub.http.fiscal import MAX_FILE_BYTES
from hub.settings import load_settings
from schema.errors import ValidationError
from schema.models import CafFile, FiscalCertificate, FolioRange, Role, Tenant
from tests.fiscal.conftest import REFERENCE
from tests.hub.conftest import SECRET, Hub, HubFactory
from tests.support.tenants import TenantFixture, make_tenant

FISCAL = "/api/v1/fiscal"
SENDER = "13185095-6"  # make_tenant's setup names this sender
PASSWORD = "clave del certificado"
KEY = at_rest_key(SECRET)
SIMULATOR = simulator_authority()
SII_100 = str((REFERENCE / "sii" / "certificates" / "100.cer").resolve())  # SII certification


def today() -> date:
    """The tenants' local date (CAF dates are Chilean)."""
    return datetime.now(ZoneInfo("America/Santiago")).date()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    # Synchronous on purpose: pg_url sets up its server with asyncio.run(), outside any running loop.
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def both_hub(backend_url: str | None, hub_factory: HubFactory) -> Hub:
    hub: Hub = await hub_factory(database_url=backend_url)
    return hub


async def tax_id(hub: Hub, tenant: TenantFixture) -> str:
    async with hub.db.tenant(tenant.tenant_id) as session:
        row = await session.get(Tenant, tenant.tenant_id)
        assert row is not None
        return row.tax_id


def setup_body(company_rut: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rut": format_rut(company_rut),
        "sender_rut": SENDER,
        "razon_social": "Minimarket de Prueba SpA",
        "giro": "Venta al por menor de alimentos",
        "acteco": [471100],
        "address": "Av. Irarrázaval 2840",
        "comuna": "Ñuñoa",
        "city": "Santiago",
        "resolution_number": 0,
        "resolution_date": "2014-08-22",
    }
    body.update(changes)
    return body


async def post_certificate(
    hub: Hub, headers: dict[str, str], pfx: bytes, password: str | None = PASSWORD
) -> httpx.Response:
    data = {"password": password} if password is not None else {}
    files = {"file": ("firma.pfx", pfx, "application/x-pkcs12")}
    return await hub.client.post(f"{FISCAL}/certificate", files=files, data=data, headers=headers)


async def post_caf(
    hub: Hub, headers: dict[str, str], raw: bytes, doc_type: int | None = None
) -> httpx.Response:
    data = {"doc_type": str(doc_type)} if doc_type is not None else {}
    files = {"file": ("FoliosSII.xml", raw, "text/xml")}
    return await hub.client.post(f"{FISCAL}/cafs", files=files, data=data, headers=headers)


def problem(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    # Decoding errors name the field in ``errors``; the hub's own refusals say it all in ``detail``.
    assert message in body["detail"] + json.dumps(body.get("errors", []), ensure_ascii=False), body


async def state(hub: Hub, tenant: TenantFixture) -> tuple[Any, ...]:
    """What the fiscal endpoints show for a tenant: compared before and after a refused request."""
    owner = hub.owner(tenant)
    views = []
    for path in ("setup", "certificate", "cafs", "folios"):
        response = await hub.client.get(f"{FISCAL}/{path}", headers=owner)
        views.append((response.status_code, response.json()))
    return tuple(views)


# --- roles ------------------------------------------------------------------------------------------------


async def test_managers_read_owners_write_cashiers_and_kitchen_see_nothing(hub: Hub) -> None:
    rut = await tax_id(hub, hub.a)
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", "setup", {"json": setup_body(rut)}),
        ("POST", "certificate", {"files": {"file": ("f.pfx", b"x")}, "data": {"password": "p"}}),
        ("POST", "cafs", {"files": {"file": ("f.xml", b"x")}}),
    ]
    reads = ["setup", "certificate", "cafs", "folios"]
    for role in (Role.CASHIER, Role.KITCHEN):
        headers = await hub.auth(hub.a, role)
        for path in reads:
            assert (await hub.client.get(f"{FISCAL}/{path}", headers=headers)).status_code == 403
        for method, path, kwargs in writes:
            response = await hub.client.request(method, f"{FISCAL}/{path}", headers=headers, **kwargs)
            assert response.status_code == 403, (role, path)
    manager = await hub.auth(hub.a, Role.MANAGER)
    for path in reads:
        assert (await hub.client.get(f"{FISCAL}/{path}", headers=manager)).status_code == 200, path
    for method, path, kwargs in writes:
        response = await hub.client.request(method, f"{FISCAL}/{path}", headers=manager, **kwargs)
        problem(response, 403, "forbidden", "requires role owner")


async def test_ecuadorian_tenants_are_told_it_is_for_chile(hub: Hub) -> None:
    ec = await make_tenant(hub.db, country="EC")
    owner = hub.owner(ec)
    for path in ("setup", "certificate", "cafs", "folios"):
        response = await hub.client.get(f"{FISCAL}/{path}", headers=owner)
        problem(response, 409, "not_chilean_tenant", "Chilean fiscal setup is for CL tenants")
    put = await hub.client.put(f"{FISCAL}/setup", json=setup_body("76086428-5"), headers=owner)
    problem(put, 409, "not_chilean_tenant", "this tenant is in EC")
    pfx = make_test_certificate(SENDER, "x", PASSWORD)
    problem(await post_certificate(hub, owner, pfx), 409, "not_chilean_tenant", "for CL tenants")
    caf = SIMULATOR.issue_caf("76086428-5", "X", 39, 1, 10, today())
    problem(await post_caf(hub, owner, caf), 409, "not_chilean_tenant", "for CL tenants")


# --- setup ------------------------------------------------------------------------------------------------


async def test_the_owner_saves_the_setup_and_managers_read_it(both_hub: Hub) -> None:
    hub = both_hub
    rut = await tax_id(hub, hub.a)
    saved = await hub.client.put(
        f"{FISCAL}/setup", json=setup_body(rut, branch_code=81234567), headers=hub.owner(hub.a)
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["rut"] == rut and body["sender_rut"] == SENDER and body["branch_code"] == 81234567
    assert body["comuna"] == "Ñuñoa" and body["resolution_date"] == "2014-08-22" and body["updated_at"]
    read = await hub.client.get(f"{FISCAL}/setup", headers=await hub.auth(hub.a, Role.MANAGER))
    assert read.json() == body
    other = await hub.client.get(f"{FISCAL}/setup", headers=hub.owner(hub.b))
    assert other.json()["rut"] == await tax_id(hub, hub.b)  # b's own setup, untouched


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        ({"rut": "76.086.428-5"}, "invalid_fiscal_setup", "is not this company's: its tax id is"),
        ({"sender_rut": "13185095-5"}, "invalid_fiscal_setup", "wrong check digit"),
        ({"acteco": [4711]}, "invalid_fiscal_setup", "acteco 4711 is not a six-digit"),
        ({"acteco": []}, "invalid", "acteco"),
        ({"address": "a" * 61}, "invalid", "address"),
        ({"giro": " "}, "invalid_fiscal_setup", "giro is required"),
        ({"resolution_date": "ayer"}, "invalid", "resolution_date"),
        ({"color": "rojo"}, "invalid", "color"),
    ],
)
async def test_a_bad_setup_is_refused_and_changes_nothing(
    hub: Hub, changes: dict[str, Any], code: str, message: str
) -> None:
    before = await state(hub, hub.a)
    rut = await tax_id(hub, hub.a)
    response = await hub.client.put(
        f"{FISCAL}/setup", json=setup_body(rut, **changes), headers=hub.owner(hub.a)
    )
    problem(response, 400, code, message)
    assert await state(hub, hub.a) == before


# --- certificate ------------------------------------------------------------------------------------------


async def test_the_certificate_is_uploaded_sealed_and_never_shown(both_hub: Hub) -> None:
    hub = both_hub
    pfx = make_test_certificate(SENDER, "Rosa Pérez", PASSWORD)
    uploaded = await post_certificate(hub, hub.owner(hub.a), pfx)
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert set(body) == {"rut", "holder", "not_after", "uploaded_at"}
    assert body["rut"] == SENDER and body["holder"] == "Rosa Pérez"
    shown = await hub.client.get(f"{FISCAL}/certificate", headers=await hub.auth(hub.a, Role.MANAGER))
    assert shown.json() == body
    async with hub.db.tenant(hub.a.tenant_id) as session:
        rows = (
            (await session.execute(select(FiscalCertificate).where(FiscalCertificate.active))).scalars().all()
        )
    assert len(rows) == 1  # make_tenant's certificate was deactivated
    row = rows[0]
    assert pfx not in row.sealed_pfx and PASSWORD.encode() not in row.sealed_password
    assert unseal(row.sealed_pfx, KEY, hub.a.tenant_id) == pfx
    assert unseal(row.sealed_password, KEY, hub.a.tenant_id) == PASSWORD.encode()
    with pytest.raises(UnreadableSecretError):
        unseal(row.sealed_pfx, KEY, hub.b.tenant_id)
    # Tenant b still sees only its own (make_tenant's) certificate.
    theirs = await hub.client.get(f"{FISCAL}/certificate", headers=hub.owner(hub.b))
    assert theirs.json()["holder"] == "Firma de prueba"


def _expired_pfx() -> bytes:
    return make_test_certificate(
        SENDER, "Vencida", PASSWORD, days=10, now=datetime.now(UTC) - timedelta(days=30)
    )


@pytest.mark.parametrize(
    ("pfx", "password", "status", "code", "message"),
    [
        (
            lambda: make_test_certificate(SENDER, "x", PASSWORD),
            "otra",
            400,
            "invalid_certificate",
            "wrong certificate password",
        ),
        (
            lambda: make_test_certificate("11111111-1", "Otro", PASSWORD),
            PASSWORD,
            400,
            "invalid_certificate",
            "the certificate belongs to RUT 11.111.111-1; this company's sender is 13.185.095-6",
        ),
        (_expired_pfx, PASSWORD, 400, "invalid_certificate", "the certificate of Vencida expired on"),
        (lambda: b"GIF89a not a certificate", PASSWORD, 400, "invalid_certificate", "not a .pfx / .p12"),
        (lambda: b"", PASSWORD, 400, "invalid", "the certificate file is empty"),
        (lambda: b"\x30" * (MAX_FILE_BYTES + 1), PASSWORD, 413, "too_large", "larger than 64 KiB"),
        (lambda: make_test_certificate(SENDER, "x", PASSWORD), None, 400, "invalid", "password"),
    ],
)
async def test_a_bad_certificate_is_refused_and_changes_nothing(
    hub: Hub, pfx: Any, password: str | None, status: int, code: str, message: str
) -> None:
    before = await state(hub, hub.a)
    response = await post_certificate(hub, hub.owner(hub.a), pfx(), password)
    problem(response, status, code, message)
    assert await state(hub, hub.a) == before


async def test_a_huge_request_is_cut_short(hub: Hub) -> None:
    response = await post_certificate(hub, hub.owner(hub.a), b"\x30" * (1024 * 1024))
    assert response.status_code == 413 and response.json()["code"] == "too_large"


# --- CAFs and folios --------------------------------------------------------------------------------------


async def test_cafs_are_loaded_listed_and_counted(both_hub: Hub) -> None:
    hub = both_hub
    rut = await tax_id(hub, hub.a)
    owner, manager = hub.owner(hub.a), await hub.auth(hub.a, Role.MANAGER)
    raw = SIMULATOR.issue_caf(rut, "MINIMARKET DE PRUEBA", 39, 101, 600, today())
    loaded = await post_caf(hub, owner, raw, doc_type=39)
    assert loaded.status_code == 201, loaded.text
    body = loaded.json()
    assert (body["doc_type"], body["first_folio"], body["last_folio"], body["next_folio"]) == (
        39,
        101,
        600,
        101,
    )
    assert (
        body["folios_left"] == 500
        and body["expires"] is None
        and body["doc_type_name"] == "39 (boleta electrónica)"
    )
    factura = await post_caf(hub, owner, SIMULATOR.issue_caf(rut, "MINIMARKET DE PRUEBA", 33, 1, 30, today()))
    assert factura.status_code == 201, factura.text
    assert factura.json()["expires"] is not None and not factura.json()["expired"]

    cafs = (await hub.client.get(f"{FISCAL}/cafs", headers=manager)).json()
    # make_tenant's boleta range 1-100 (next 2) comes first.
    assert [(c["doc_type"], c["first_folio"], c["folios_left"]) for c in cafs] == [
        (33, 1, 30),
        (39, 1, 99),
        (39, 101, 500),
    ]
    folios = {s["doc_type"]: s for s in (await hub.client.get(f"{FISCAL}/folios", headers=manager)).json()}
    assert (folios[39]["remaining"], folios[39]["next_folio"], folios[39]["low"]) == (599, 2, False)
    assert [r["state"] for r in folios[39]["ranges"]] == ["current", "queued"]
    assert (folios[33]["remaining"], folios[33]["low"], folios[33]["threshold"]) == (30, True, 50)
    assert "only 30 folios left for 33" in folios[33]["warnings"][0]
    assert (folios[61]["remaining"], folios[61]["next_folio"]) == (0, None)

    async with hub.db.tenant(hub.a.tenant_id) as session:
        row = (await session.execute(select(CafFile).where(CafFile.first_folio == 101))).scalar_one()
    assert raw not in row.sealed_xml and unseal(row.sealed_xml, KEY, hub.a.tenant_id) == raw
    with pytest.raises(UnreadableSecretError):
        unseal(row.sealed_xml, KEY, hub.b.tenant_id)

    # Tenant b sees none of it, and cannot load a's CAF as its own.
    theirs = (await hub.client.get(f"{FISCAL}/cafs", headers=hub.owner(hub.b))).json()
    assert [(c["doc_type"], c["first_folio"]) for c in theirs] == [(39, 1)]
    stolen = await post_caf(hub, hub.owner(hub.b), raw)
    problem(stolen, 400, "invalid_caf", f"not this company's {format_rut(await tax_id(hub, hub.b))}")


async def test_the_next_caf_takes_over_and_low_follows_the_setting(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(folios_low=120)
    rut = await tax_id(hub, hub.a)
    owner = hub.owner(hub.a)
    loaded = await post_caf(hub, owner, SIMULATOR.issue_caf(rut, "X", 39, 101, 300, today()))
    assert loaded.status_code == 201, loaded.text
    async with hub.db.tenant(hub.a.tenant_id) as session:  # every folio of make_tenant's 1-100 was used
        first = (await session.execute(select(FolioRange).where(FolioRange.first_folio == 1))).scalar_one()
        first.next_folio = 101
    status = {s["doc_type"]: s for s in (await hub.client.get(f"{FISCAL}/folios", headers=owner)).json()}[39]
    assert (status["remaining"], status["next_folio"], status["low"]) == (200, 101, False)
    assert [r["state"] for r in status["ranges"]] == ["used", "current"]
    async with hub.db.tenant(hub.a.tenant_id) as session:
        second = (await session.execute(select(FolioRange).where(FolioRange.first_folio == 101))).scalar_one()
        second.next_folio = 200
    status = {s["doc_type"]: s for s in (await hub.client.get(f"{FISCAL}/folios", headers=owner)).json()}[39]
    assert (status["remaining"], status["next_folio"], status["low"], status["threshold"]) == (
        101,
        200,
        True,
        120,
    )


def _tampered(rut: str) -> bytes:
    return SIMULATOR.issue_caf(rut, "X", 39, 101, 200, today()).replace(b"<H>200</H>", b"<H>900</H>")


BAD_CAFS: list[tuple[str, Any, int | None, int, str, str]] = [
    ("another RUT", lambda rut: SIMULATOR.issue_caf("76086428-5", "X", 39, 101, 200, today()), None, 400,
     "invalid_caf", "the CAF is for RUT 76.086.428-5, not this company's"),
    ("another type", lambda rut: SIMULATOR.issue_caf(rut, "X", 39, 101, 200, today()), 33, 400, "invalid_caf",
     "the CAF is for document type 39 (boleta electrónica), not 33 (factura electrónica)"),
    ("guía", lambda rut: SIMULATOR.issue_caf(rut, "X", 52, 1, 200, today()), None, 400, "invalid_caf",
     "52 (guía de despacho electrónica), which Storehub does not issue yet"),
    ("expired", lambda rut: SIMULATOR.issue_caf(rut, "X", 61, 1, 200, today() - timedelta(days=200)), None,
     400, "invalid_caf", "(SII allows 6 months for this document type)"),
    ("tampered", _tampered, None, 400, "invalid_caf",
     "does not verify with SII key 100: the file was altered"),
    ("stranger", lambda rut: DemoAuthority(idk=100).issue_caf(rut, "X", 39, 101, 200, today()), None, 400,
     "invalid_caf", "does not verify with SII key 100"),
    ("overlap", lambda rut: SIMULATOR.issue_caf(rut, "X", 39, 50, 200, today()), None, 409, "caf_overlap",
     "the CAF's folios 50-200 of 39 (boleta electrónica) overlap the range 1-100 already loaded"),
    ("garbage", lambda rut: b"%PDF-1.4 not a CAF", None, 400, "invalid_caf", "not an XML file as SII"),
    ("empty", lambda rut: b"", None, 400, "invalid", "the CAF file is empty"),
    ("oversize", lambda rut: b"<AUTORIZACION>" + b" " * MAX_FILE_BYTES, None, 413, "too_large",
     "larger than 64 KiB"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "make", "doc_type", "status", "code", "message"), BAD_CAFS, ids=[c[0] for c in BAD_CAFS]
)
async def test_a_bad_caf_is_refused_and_changes_nothing(
    hub: Hub, name: str, make: Any, doc_type: int | None, status: int, code: str, message: str
) -> None:
    before = await state(hub, hub.a)
    response = await post_caf(hub, hub.owner(hub.a), make(await tax_id(hub, hub.a)), doc_type)
    problem(response, status, code, message)
    assert await state(hub, hub.a) == before, name


async def test_certification_mode_trusts_only_sii(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(sii_environment="certification", sii_certs=SII_100)
    raw = SIMULATOR.issue_caf(await tax_id(hub, hub.a), "X", 39, 101, 200, today())
    response = await post_caf(hub, hub.owner(hub.a), raw)
    problem(response, 400, "invalid_caf", "does not verify with SII key 100")


# --- settings ---------------------------------------------------------------------------------------------


def test_sii_settings_default_to_the_simulator() -> None:
    settings = load_settings(env={})
    assert (settings.sii_environment, settings.sii_simulator_url) == ("simulator", "http://127.0.0.1:8090")
    assert (settings.sii_cert_paths, settings.folios_low) == ((), 50)
    schemas = settings.sii_schemas_path  # ../shared/reference/sii/schemas next to the repository
    assert schemas is not None and (schemas / "DTE_v10.xsd").is_file()
    configured = load_settings(
        env={"STOREHUB_SII_ENVIRONMENT": "certification", "STOREHUB_SII_CERTS": f" {SII_100} ,"}
    )
    assert configured.sii_cert_paths == (SII_100,)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STOREHUB_SII_ENVIRONMENT": "maullin"}, "must be one of simulator, certification, production"),
        ({"STOREHUB_SII_ENVIRONMENT": "production"}, "STOREHUB_SII_CERTS is required when"),
        (
            {"STOREHUB_SII_ENVIRONMENT": "certification", "STOREHUB_SII_CERTS": "/nowhere/100.cer"},
            "no such file: /nowhere/100.cer",
        ),
        ({"STOREHUB_SII_SCHEMAS_DIR": "/nowhere"}, "STOREHUB_SII_SCHEMAS_DIR: no such directory"),
        ({"STOREHUB_FOLIOS_LOW": "-1"}, "STOREHUB_FOLIOS_LOW must be 0 or more"),
        ({"STOREHUB_FISCAL_ENVELOPE_SECONDS": "-1"}, "STOREHUB_FISCAL_ENVELOPE_SECONDS must be between"),
        ({"STOREHUB_FISCAL_ENVELOPE_SECONDS": "3600"}, "STOREHUB_FISCAL_ENVELOPE_SECONDS must be between"),
        ({"STOREHUB_FISCAL_ENVELOPE_SECONDS": "soon"}, "bad setting"),
    ],
)
def test_bad_sii_settings_are_refused_at_startup(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        load_settings(env=env)
