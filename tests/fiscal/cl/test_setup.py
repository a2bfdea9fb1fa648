"""fiscal.cl.setup on SQLite and Postgres: emitter data, certificate, CAFs and folios of a Chilean tenant.

Every refused input names what is wrong with it and leaves the tenant's rows as they were.
"""

from __future__ import annotations

import calendar
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select, update

from fiscal.certificates import make_test_certificate, rut_of
from fiscal.cl.authority_keys import DemoAuthority, simulator_authority
from fiscal.cl.rut import format_rut
from fiscal.cl.setup import (
    AuthorityKeysError,
    CafMissingError,
    CafOverlapError,
    CertificateMissingError,
    FiscalSetupError,
    NotChileanTenantError,
    SetupData,
    active_signer,
    authority_keys,
    caf_for_folio,
    caf_in,
    folio_status,
    get_certificate,
    get_setup,
    list_cafs,
    save_setup,
    signer_in,
    upload_caf,
    upload_certificate,
)
from fiscal.errors import InvalidCafError, InvalidCertificateError, UnreadableSecretError
from fiscal.keys import MISSING_SECRET, MissingSecretKeyError, at_rest_key, seal, unseal
from hub.admin import create_tenant
from hub.db import Database
from schema.models import CafFile, FiscalCertificate, FiscalSetup, FolioRange
from tests.support.tenants import ruc, rut

SENDER = "13185095-6"
STRANGER = "11111111-1"
PASSWORD = "clave del certificado"
KEY = at_rest_key("fiscal-setup-test-secret-" + "y" * 32)
# The real clock: test certificates are made valid from "now" (minus five minutes), so a pinned date would
# turn these tests into a time bomb.
# Every certificate is made as of NOW too: checked against NOW, one made "now" (later, in a long run) would
# not be valid yet.
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(ZoneInfo("America/Santiago")).date()


def six_months_after(day: date) -> date:
    """The first day SII refuses a CAF authorized on ``day``: the same day number six months later (the
    month's last day when it is shorter). Expected dates follow TODAY: fixed ones failed the day after."""
    years, month0 = divmod(day.month - 1 + 6, 12)
    year, month = day.year + years, month0 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


EXPIRES = six_months_after(TODAY)  # of a CAF authorized today


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@dataclass(frozen=True)
class Company:
    tenant_id: uuid.UUID
    rut: str


async def new_company(db: Database, country: str = "CL") -> Company:
    tax_id = (
        rut(70_000_000 + secrets.randbelow(9_999_999)) if country == "CL" else ruc(secrets.randbelow(10**6))
    )
    made = await create_tenant(
        db, slug=f"f-{secrets.token_hex(5)}", name="Almacén", country=country, tax_id=tax_id
    )
    return Company(made.tenant_id, tax_id)


def setup_for(company: Company, **changes: Any) -> SetupData:
    fields: dict[str, Any] = {
        "rut": format_rut(company.rut),
        "sender_rut": "13.185.095-6",
        "razon_social": "  Almacén Doña Luz SpA ",
        "giro": "Venta al por menor de alimentos",
        "acteco": [471100, 472101],
        "address": "Av. Irarrázaval 2840",
        "comuna": "Ñuñoa",
        "city": "Santiago",
        "branch_code": 81234567,
        "email": "luz@example.cl",
        "resolution_number": 0,
        "resolution_date": date(2014, 8, 22),
    }
    fields.update(changes)
    return SetupData(**fields)


@pytest.fixture
async def company(db: Database) -> Company:
    made = await new_company(db)
    await save_setup(db, made.tenant_id, setup_for(made))
    return made


def caf_of(
    authority: DemoAuthority,
    company: Company,
    doc_type: int = 39,
    first: int = 1,
    last: int = 100,
    authorized: date = TODAY,
) -> bytes:
    return authority.issue_caf(company.rut, "ALMACEN DONA LUZ SPA", doc_type, first, last, authorized)


async def load(db: Database, company: Company, data: bytes, authority: DemoAuthority, **kwargs: Any) -> Any:
    return await upload_caf(
        db,
        company.tenant_id,
        data,
        authority_keys=authority.keys,
        key=KEY,
        user_id=None,
        today=TODAY,
        **kwargs,
    )


async def counts(db: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    async with db.tenant(tenant_id) as session:
        result: dict[str, int] = {}
        for model in (FiscalSetup, FiscalCertificate, CafFile, FolioRange):
            query = select(func.count()).select_from(model)
            result[model.__tablename__] = int((await session.execute(query)).scalar_one())
        active = select(func.count()).select_from(FiscalCertificate).where(FiscalCertificate.active.is_(True))
        result["active_certificates"] = int((await session.execute(active)).scalar_one())
        return result


# --- the key ----------------------------------------------------------------------------------------------


def test_the_at_rest_key_is_derived_and_an_empty_secret_is_refused() -> None:
    assert len(KEY) == 32
    assert at_rest_key("fiscal-setup-test-secret-" + "y" * 32) == KEY
    assert at_rest_key("another secret") != KEY
    assert ("fiscal-setup-test-secret-" + "y" * 32).encode()[:32] != KEY
    for empty in ("", "   "):
        with pytest.raises(
            MissingSecretKeyError, match="set STOREHUB_SECRET_KEY: fiscal secrets are encrypted"
        ):
            at_rest_key(empty)
    assert MISSING_SECRET == "set STOREHUB_SECRET_KEY: fiscal secrets are encrypted with it"


def test_sealed_data_opens_only_for_its_tenant_and_key() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    blob = seal(b"secret bytes", KEY, a)
    assert b"secret bytes" not in blob
    assert unseal(blob, KEY, a) == b"secret bytes"
    with pytest.raises(UnreadableSecretError):
        unseal(blob, KEY, b)
    with pytest.raises(UnreadableSecretError):
        unseal(blob, at_rest_key("another secret"), a)


# --- authority keys ---------------------------------------------------------------------------------------


def test_simulator_mode_trusts_only_the_simulator(reference: Path) -> None:
    keys = authority_keys("simulator", [str(reference / "sii" / "certificates" / "100.cer")])
    simulator = simulator_authority().public_key.public_numbers()
    assert list(keys) == [100] and keys[100].public_numbers() == simulator


def test_sii_modes_trust_only_the_configured_certificates(reference: Path) -> None:
    paths = [str(reference / "sii" / "certificates" / name) for name in ("100.cer", "300.cer")]
    keys = authority_keys("certification", paths)
    assert sorted(keys) == [100, 300]
    assert keys[100].public_numbers() != simulator_authority().public_key.public_numbers()
    with pytest.raises(AuthorityKeysError, match="STOREHUB_SII_CERTS is not set"):
        authority_keys("production", [])
    with pytest.raises(AuthorityKeysError, match="cannot read"):
        authority_keys("production", [str(reference / "nope.cer")])


# --- setup ------------------------------------------------------------------------------------------------


async def test_setup_is_saved_normalized_and_replaced(db: Database) -> None:
    made = await new_company(db)
    assert await get_setup(db, made.tenant_id) is None
    saved = await save_setup(db, made.tenant_id, setup_for(made))
    assert saved.rut == made.rut and saved.sender_rut == SENDER
    assert saved.razon_social == "Almacén Doña Luz SpA" and saved.acteco == [471100, 472101]
    assert await get_setup(db, made.tenant_id) == saved
    again = await save_setup(db, made.tenant_id, setup_for(made, giro="Minimarket", branch_code=None))
    assert again.giro == "Minimarket" and again.branch_code is None
    assert (await counts(db, made.tenant_id))["fiscal_setups"] == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rut": "76.086.428-5"}, "is not this company's: its tax id is"),
        ({"rut": "76.086.428-4"}, "wrong check digit"),
        ({"sender_rut": "13185095-5"}, "sender_rut: RUT '13185095-5' has a wrong check digit"),
        ({"sender_rut": "nadie"}, "sender_rut: RUT 'nadie' is not of the form"),
        ({"acteco": []}, "acteco takes 1 to 4 economic activity codes, not 0"),
        ({"acteco": [471100, 472101, 461000, 522010, 522020]}, "not 5"),
        ({"acteco": [4711]}, "acteco 4711 is not a six-digit"),
        ({"acteco": [1_000_000]}, "is not a six-digit"),
        ({"acteco": [471100, 471100]}, "the same code twice"),
        ({"razon_social": "x" * 101}, "razon_social has 101 characters; SII allows at most 100"),
        ({"giro": "g" * 81}, "giro has 81 characters; SII allows at most 80"),
        ({"address": "a" * 61}, "address has 61 characters; SII allows at most 60"),
        ({"comuna": "c" * 21}, "comuna has 21 characters; SII allows at most 20"),
        ({"city": "c" * 21}, "city has 21 characters"),
        ({"email": "e" * 76 + "@x.cl"}, "email has 81"),
        ({"email": "luz-at-example"}, "is not an e-mail address"),
        ({"giro": "   "}, "giro is required"),
        ({"razon_social": "Doña\nLuz"}, "razon_social contains a control character"),
        ({"branch_code": 0}, "branch_code (CdgSIISucur) is 1 to 9 digits"),
        ({"branch_code": 1_000_000_000}, "1 to 9 digits"),
        ({"resolution_number": 1_000_000}, "resolution_number (NroResol) is 0 to 6 digits"),
    ],
)
async def test_bad_setup_is_refused_and_changes_nothing(
    db: Database, company: Company, changes: dict[str, Any], message: str
) -> None:
    before = await get_setup(db, company.tenant_id)
    with pytest.raises(FiscalSetupError) as refused:
        await save_setup(db, company.tenant_id, setup_for(company, **changes))
    assert message in refused.value.message
    assert refused.value.code == "invalid_fiscal_setup" and refused.value.status == 400
    assert await get_setup(db, company.tenant_id) == before


async def test_ecuadorian_tenants_have_no_chilean_setup(db: Database, authority: DemoAuthority) -> None:
    ec = await new_company(db, "EC")
    chile = Company(ec.tenant_id, "76086428-5")
    calls: list[Callable[[], Any]] = [
        lambda: get_setup(db, ec.tenant_id),
        lambda: save_setup(db, ec.tenant_id, setup_for(chile)),
        lambda: get_certificate(db, ec.tenant_id),
        lambda: upload_certificate(
            db,
            ec.tenant_id,
            make_test_certificate(SENDER, "x", PASSWORD, now=NOW),
            PASSWORD,
            key=KEY,
            user_id=None,
        ),
        lambda: active_signer(db, ec.tenant_id, KEY),
        lambda: load(db, chile, caf_of(authority, chile), authority),
        lambda: list_cafs(db, ec.tenant_id),
        lambda: caf_for_folio(db, ec.tenant_id, 39, 1, KEY),
        lambda: folio_status(db, ec.tenant_id, 50),
    ]
    for call in calls:
        with pytest.raises(
            NotChileanTenantError, match="Chilean fiscal setup is for CL tenants; this tenant is in EC"
        ):
            await call()
    assert (await counts(db, ec.tenant_id))["fiscal_setups"] == 0


# --- certificate ------------------------------------------------------------------------------------------


async def test_certificate_is_sealed_and_signs(db: Database, company: Company) -> None:
    pfx = make_test_certificate(SENDER, "Luz Muñoz", PASSWORD, now=NOW)
    info = await upload_certificate(db, company.tenant_id, pfx, PASSWORD, key=KEY, user_id=None, now=NOW)
    assert info.rut == SENDER and info.holder == "Luz Muñoz" and info.uploaded_at == NOW
    assert await get_certificate(db, company.tenant_id) == info
    signer = await active_signer(db, company.tenant_id, KEY)
    assert rut_of(signer.certificate) == SENDER and isinstance(signer.private_key, rsa.RSAPrivateKey)
    async with db.tenant(company.tenant_id) as session:
        row = (await session.execute(select(FiscalCertificate))).scalar_one()
    for sealed, plain in ((row.sealed_pfx, pfx), (row.sealed_password, PASSWORD.encode())):
        assert plain not in sealed and sealed != plain
        assert unseal(sealed, KEY, company.tenant_id) == plain
        with pytest.raises(UnreadableSecretError):
            unseal(sealed, KEY, uuid.uuid4())
    with pytest.raises(UnreadableSecretError, match="cannot be decrypted"):
        await active_signer(db, company.tenant_id, at_rest_key("the secret changed"))


async def test_a_new_certificate_replaces_the_active_one(db: Database, company: Company) -> None:
    first = make_test_certificate(SENDER, "Primera", PASSWORD, now=NOW)
    await upload_certificate(db, company.tenant_id, first, PASSWORD, key=KEY, user_id=None, now=NOW)
    company_pfx = make_test_certificate(company.rut, "Segunda", "otra clave", now=NOW)
    later = NOW + timedelta(minutes=1)
    second = await upload_certificate(
        db, company.tenant_id, company_pfx, "otra clave", key=KEY, user_id=None, now=later
    )
    assert second.rut == company.rut  # the company's own certificate may sign as well
    assert (await counts(db, company.tenant_id))["active_certificates"] == 1
    assert (await get_certificate(db, company.tenant_id)) == second
    assert (
        await active_signer(db, company.tenant_id, KEY)
    ).certificate.subject.rfc4514_string() == "CN=Segunda,C=CL"


async def test_no_certificate_yet(db: Database, company: Company) -> None:
    assert await get_certificate(db, company.tenant_id) is None
    with pytest.raises(CertificateMissingError, match="no signing certificate"):
        await active_signer(db, company.tenant_id, KEY)


def _expired() -> bytes:
    return make_test_certificate(SENDER, "Vencida", PASSWORD, days=30, now=NOW - timedelta(days=60))


@pytest.mark.parametrize(
    ("make", "password", "message"),
    [
        (
            lambda: make_test_certificate(SENDER, "x", PASSWORD, now=NOW),
            "wrong",
            "wrong certificate password",
        ),
        (
            lambda: b"not a certificate at all",
            PASSWORD,
            "wrong certificate password (or the file is not a .pfx",
        ),
        (_expired, PASSWORD, "the certificate of Vencida expired on"),
        (
            lambda: make_test_certificate(STRANGER, "Otro", PASSWORD, now=NOW),
            PASSWORD,
            "the certificate belongs to RUT 11.111.111-1; this company's sender is 13.185.095-6",
        ),
    ],
)
async def test_bad_certificates_are_refused_and_change_nothing(
    db: Database, company: Company, make: Callable[[], bytes], password: str, message: str
) -> None:
    good = make_test_certificate(SENDER, "Vigente", PASSWORD, now=NOW)
    await upload_certificate(db, company.tenant_id, good, PASSWORD, key=KEY, user_id=None, now=NOW)
    before = (await counts(db, company.tenant_id), await get_certificate(db, company.tenant_id))
    with pytest.raises(InvalidCertificateError) as refused:
        await upload_certificate(db, company.tenant_id, make(), password, key=KEY, user_id=None, now=NOW)
    assert message in refused.value.message
    assert (await counts(db, company.tenant_id), await get_certificate(db, company.tenant_id)) == before


async def test_without_a_setup_only_the_company_certificate_is_taken(db: Database) -> None:
    made = await new_company(db)
    sender = make_test_certificate(SENDER, "Sender", PASSWORD, now=NOW)
    with pytest.raises(InvalidCertificateError, match="save the fiscal setup with the sender's RUT first"):
        await upload_certificate(db, made.tenant_id, sender, PASSWORD, key=KEY, user_id=None)
    own = make_test_certificate(made.rut, "Empresa", PASSWORD, now=NOW)
    assert (
        await upload_certificate(db, made.tenant_id, own, PASSWORD, key=KEY, user_id=None)
    ).rut == made.rut


# --- CAF --------------------------------------------------------------------------------------------------


async def test_a_caf_becomes_a_folio_range_and_opens_for_stamping(
    db: Database, company: Company, authority: DemoAuthority
) -> None:
    raw = caf_of(authority, company, 33, 1, 50)
    info = await load(db, company, raw, authority, doc_type=33)
    assert (info.doc_type, info.first_folio, info.last_folio, info.next_folio) == (33, 1, 50, 1)
    assert info.folios_left == 50 and info.authorized == TODAY
    assert info.expires == EXPIRES and not info.expired
    async with db.tenant(company.tenant_id) as session:
        folios = (await session.execute(select(FolioRange))).scalar_one()
        row = (await session.execute(select(CafFile))).scalar_one()
    assert (folios.id, folios.first_folio, folios.last_folio, folios.next_folio) == (info.range_id, 1, 50, 1)
    assert raw not in row.sealed_xml and b"RSASK" not in row.sealed_xml
    assert unseal(row.sealed_xml, KEY, company.tenant_id) == raw
    with pytest.raises(UnreadableSecretError):
        unseal(row.sealed_xml, KEY, uuid.uuid4())
    caf = await caf_for_folio(db, company.tenant_id, 33, 50, KEY)
    assert caf.covers(50) and caf.private_key is not None and caf.rut == company.rut
    with pytest.raises(CafMissingError, match="no CAF covers folio 51 of 33"):
        await caf_for_folio(db, company.tenant_id, 33, 51, KEY)
    with pytest.raises(CafMissingError, match="no CAF covers folio 1 of 39"):
        await caf_for_folio(db, company.tenant_id, 39, 1, KEY)
    assert [c.id for c in await list_cafs(db, company.tenant_id, today=TODAY)] == [info.id]


def _tampered(authority: DemoAuthority, company: Company) -> bytes:
    return caf_of(authority, company, 39, 1, 100).replace(b"<H>100</H>", b"<H>900</H>")


def _bare(authority: DemoAuthority, company: Company) -> bytes:
    raw = caf_of(authority, company, 39, 1, 100)
    return raw[raw.index(b"<CAF") : raw.index(b"</CAF>") + len(b"</CAF>")]


BAD_CAFS: list[
    tuple[str, Callable[[DemoAuthority, Company], bytes], dict[str, Any], type[Exception], str]
] = [
    (
        "another RUT",
        lambda a, c: a.issue_caf("76086428-5", "OTRA", 39, 1, 100, TODAY),
        {},
        InvalidCafError,
        "the CAF is for RUT 76.086.428-5, not this company's",
    ),
    (
        "another type than claimed",
        lambda a, c: caf_of(a, c, 39, 1, 100),
        {"doc_type": 33},
        InvalidCafError,
        "the CAF is for document type 39 (boleta electrónica), not 33 (factura electrónica)",
    ),
    (
        "unsupported type",
        lambda a, c: caf_of(a, c, 52, 1, 100),
        {},
        InvalidCafError,
        "document type 52 (guía de despacho electrónica), which Storehub does not issue yet",
    ),
    (
        "expired",
        lambda a, c: caf_of(a, c, 61, 1, 100, authorized=TODAY - timedelta(days=200)),
        {},
        InvalidCafError,
        f"expired on {six_months_after(TODAY - timedelta(days=200))} (SII allows 6 months for this "
        "document type)",
    ),
    ("tampered", _tampered, {}, InvalidCafError, "does not verify with SII key 100: the file was altered"),
    (
        "unknown authority",
        lambda a, c: DemoAuthority(idk=100).issue_caf(c.rut, "X", 39, 1, 100, TODAY),
        {},
        InvalidCafError,
        "does not verify with SII key 100",
    ),
    (
        "unknown key number",
        lambda a, c: DemoAuthority(idk=300).issue_caf(c.rut, "X", 39, 1, 100, TODAY),
        {},
        InvalidCafError,
        "SII key number 300, which is not one of the known keys (100)",
    ),
    ("garbage", lambda a, c: b"\x00\x01 no XML", {}, InvalidCafError, "is not an XML file as SII"),
    ("not a CAF", lambda a, c: b"<Factura/>", {}, InvalidCafError, "its root element is <Factura>"),
    ("no private key", _bare, {}, InvalidCafError, "without the private key (RSASK)"),
    ("overlap", lambda a, c: caf_of(a, c, 39, 501, 700), {}, CafOverlapError, "overlap the range 401-600"),
    ("again", lambda a, c: caf_of(a, c, 39, 401, 600), {}, CafOverlapError, "is already loaded"),
]


@pytest.mark.parametrize(
    ("name", "make", "kwargs", "error", "message"), BAD_CAFS, ids=[c[0] for c in BAD_CAFS]
)
async def test_bad_cafs_are_refused_and_change_nothing(
    db: Database,
    company: Company,
    authority: DemoAuthority,
    name: str,
    make: Callable[[DemoAuthority, Company], bytes],
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    await load(db, company, caf_of(authority, company, 39, 401, 600), authority)
    before = (await counts(db, company.tenant_id), await list_cafs(db, company.tenant_id, today=TODAY))
    with pytest.raises(error) as refused:
        await load(db, company, make(authority, company), authority, **kwargs)
    assert message in str(refused.value), name
    assert (
        await counts(db, company.tenant_id),
        await list_cafs(db, company.tenant_id, today=TODAY),
    ) == before


async def test_overlap_with_a_range_made_before_cafs(
    db: Database, company: Company, authority: DemoAuthority
) -> None:
    async with db.tenant(company.tenant_id) as session:
        session.add(FolioRange(doc_type=61, first_folio=1, last_folio=10, next_folio=1))
    with pytest.raises(CafOverlapError, match="overlap the range 1-10"):
        await load(db, company, caf_of(authority, company, 61, 5, 20), authority)


async def test_the_caf_must_be_signed_by_the_configured_authority(db: Database, company: Company) -> None:
    simulator = simulator_authority()
    raw = caf_of(simulator, company, 39, 1, 10)
    await upload_caf(
        db, company.tenant_id, raw, authority_keys=authority_keys("simulator", []), key=KEY, user_id=None
    )
    other = caf_of(DemoAuthority(idk=100), company, 39, 11, 20)
    with pytest.raises(InvalidCafError, match="does not verify with SII key 100"):
        await upload_caf(
            db,
            company.tenant_id,
            other,
            authority_keys=authority_keys("simulator", []),
            key=KEY,
            user_id=None,
        )


# --- folios -----------------------------------------------------------------------------------------------


async def set_next(db: Database, tenant_id: uuid.UUID, range_id: uuid.UUID, next_folio: int) -> None:
    async with db.tenant(tenant_id) as session:
        await session.execute(
            update(FolioRange).where(FolioRange.id == range_id).values(next_folio=next_folio)
        )


def by_type(statuses: list[Any]) -> dict[int, Any]:
    return {s.doc_type: s for s in statuses}


async def test_folio_status_follows_the_ranges_in_order(
    db: Database, company: Company, authority: DemoAuthority
) -> None:
    empty = by_type(await folio_status(db, company.tenant_id, 50, today=TODAY))
    assert sorted(empty) == [33, 39, 61]
    assert all(s.remaining == 0 and s.low and s.next_folio is None for s in empty.values())
    assert "no folios left for 39 (boleta electrónica)" in empty[39].warnings[0]

    first = await load(db, company, caf_of(authority, company, 39, 1, 100), authority)
    second = await load(db, company, caf_of(authority, company, 39, 101, 300), authority)
    status = by_type(await folio_status(db, company.tenant_id, 50, today=TODAY))[39]
    assert (status.remaining, status.next_folio, status.low, status.warnings) == (300, 1, False, [])
    assert [r.state for r in status.ranges] == ["current", "queued"]

    await set_next(db, company.tenant_id, first.range_id, 101)  # the first CAF is used up
    status = by_type(await folio_status(db, company.tenant_id, 50, today=TODAY))[39]
    assert (status.remaining, status.next_folio, status.low) == (200, 101, False)
    assert [(r.state, r.left) for r in status.ranges] == [("used", 0), ("current", 200)]

    await set_next(db, company.tenant_id, second.range_id, 260)  # 41 left: fewer than 50
    status = by_type(await folio_status(db, company.tenant_id, 50, today=TODAY))[39]
    assert (status.remaining, status.next_folio, status.low) == (41, 260, True)
    assert status.warnings == [
        "only 41 folios left for 39 (boleta electrónica): ask SII for a new CAF and upload it"
    ]
    assert not by_type(await folio_status(db, company.tenant_id, 41, today=TODAY))[39].low

    third = await load(db, company, caf_of(authority, company, 39, 301, 400), authority)
    status = by_type(await folio_status(db, company.tenant_id, 50, today=TODAY))[39]
    assert (status.remaining, status.next_folio, status.low) == (141, 260, False)
    await set_next(db, company.tenant_id, second.range_id, 301)
    status = by_type(await folio_status(db, company.tenant_id, 50, today=TODAY))[39]
    assert (status.next_folio, [r.state for r in status.ranges]) == (301, ["used", "used", "current"])
    assert status.ranges[2].range_id == third.range_id


async def test_expired_and_caf_less_ranges_are_not_counted(
    db: Database, company: Company, authority: DemoAuthority
) -> None:
    await load(db, company, caf_of(authority, company, 61, 1, 100), authority)
    await load(
        db,
        company,
        caf_of(authority, company, 61, 101, 200, authorized=TODAY + timedelta(days=90)),
        authority,
    )
    async with db.tenant(company.tenant_id) as session:
        session.add(FolioRange(doc_type=33, first_folio=1, last_folio=10, next_folio=1))
    later = TODAY + timedelta(days=200)  # the first 61 expired on EXPIRES, the second not yet
    statuses = by_type(await folio_status(db, company.tenant_id, 50, today=later))
    notes = statuses[61]
    assert [r.state for r in notes.ranges] == ["expired", "current"]
    assert (notes.remaining, notes.next_folio) == (100, 101)
    assert f"expired on {EXPIRES}: 100 unused folios from 1 must be voided at SII" in notes.warnings[0]
    facturas = statuses[33]
    assert (facturas.remaining, facturas.next_folio, [r.state for r in facturas.ranges]) == (
        0,
        None,
        ["no_caf"],
    )
    assert any("have no CAF" in w for w in facturas.warnings)
    cafs = await list_cafs(db, company.tenant_id, today=later)
    assert [(c.first_folio, c.expired) for c in cafs] == [(1, True), (101, False)]


# --- tenants ----------------------------------------------------------------------------------------------


async def test_tenants_never_see_or_open_each_other(
    db: Database, company: Company, authority: DemoAuthority
) -> None:
    other = await new_company(db)
    pfx = make_test_certificate(SENDER, "Luz", PASSWORD, now=NOW)
    await upload_certificate(db, company.tenant_id, pfx, PASSWORD, key=KEY, user_id=None)
    await load(db, company, caf_of(authority, company, 39, 1, 100), authority)
    assert await get_setup(db, other.tenant_id) is None
    assert await get_certificate(db, other.tenant_id) is None
    assert await list_cafs(db, other.tenant_id) == []
    assert all(s.remaining == 0 for s in await folio_status(db, other.tenant_id, 50))
    with pytest.raises(CafMissingError):
        await caf_for_folio(db, other.tenant_id, 39, 1, KEY)
    # The other tenant uploading this company's CAF: refused for its RUT.
    with pytest.raises(InvalidCafError, match=f"not this company's {format_rut(other.rut)}"):
        await load(db, other, caf_of(authority, company, 39, 1, 100), authority)
    # A sealed certificate copied into the other tenant's rows does not open there.
    async with db.tenant(company.tenant_id) as session:
        row = (await session.execute(select(FiscalCertificate))).scalar_one()
    async with db.tenant(other.tenant_id) as session:
        session.add(
            FiscalCertificate(
                rut=row.rut, holder=row.holder, not_after=row.not_after, sealed_pfx=row.sealed_pfx,
                sealed_password=row.sealed_password,
            )
        )  # fmt: skip
    with pytest.raises(UnreadableSecretError):
        await active_signer(db, other.tenant_id, KEY)
    assert await active_signer(db, company.tenant_id, KEY)  # still opens where it belongs


async def test_the_pipeline_opens_both_inside_its_own_transaction(
    db: Database, company: Company, authority: DemoAuthority
) -> None:
    pfx = make_test_certificate(SENDER, "Luz", PASSWORD, now=NOW)
    await upload_certificate(db, company.tenant_id, pfx, PASSWORD, key=KEY, user_id=None)
    await load(db, company, caf_of(authority, company, 61, 1, 20), authority)
    async with db.tenant(company.tenant_id) as session:  # no second transaction: SQLite would wait on itself
        signer = await signer_in(session, company.tenant_id, KEY)
        caf = await caf_in(session, company.tenant_id, 61, 20, KEY)
        with pytest.raises(CafMissingError):
            await caf_in(session, company.tenant_id, 61, 21, KEY)
    assert rut_of(signer.certificate) == SENDER and caf.covers(20)
