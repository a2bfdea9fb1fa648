"""A Chilean tenant's fiscal setup: emitter data, the signing certificate, CAF files and their folios.

Service functions over :class:`hub.db.Database`; each runs in one ``db.tenant(tenant_id)`` transaction, so
tenant isolation (RLS on Postgres) holds as everywhere else, and a refused input changes nothing.

* :func:`save_setup` / :func:`get_setup`: who issues the documents (one row per tenant). The RUT must be the
  tenant's tax id; text lengths are the smaller of SII's schema sizes and the DTE builder's
  (:class:`fiscal.cl.dte.Emitter`, e.g. 60 for the address, the size in SII's format PDF).
* :func:`upload_certificate`: the taxpayer's .pfx and its password, sealed (:mod:`fiscal.keys`); the
  holder's RUT must be the setup's sender (RutEnvia) or the company's. The new one replaces the active one.
  :func:`active_signer` opens it for the pipeline (:func:`signer_in` in a transaction it already holds).
* :func:`upload_caf`: a CAF checked against the trusted authority keys (SII's, or the simulator's), the
  company's RUT and its own document type (39, 33 or 61 for now); its range may not overlap another of
  that type. It becomes a ``FolioRange`` (next = first) and a ``CafFile`` with the file sealed.
  :func:`caf_for_folio` (:func:`caf_in`) opens the CAF of a folio for the pipeline to stamp a TED.
* :func:`folio_status`: per document type, the folios still usable (ranges in order, skipping used-up,
  expired and CAF-less ranges), the next one, and ``low`` under ``STOREHUB_FOLIOS_LOW``.

Folios are taken by the checkout (``actors.checkout.next_folio``): oldest range with folios first. It does
not look at CAFs: a range whose CAF expired (only 33 and 61 expire) is still handed out there, while
:func:`folio_status` reports it ``expired`` and does not count it.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fiscal.certificates import Signer, holder_name, load_pkcs12, rut_of
from fiscal.cl.authority_keys import load_sii_keys, simulator_authority
from fiscal.cl.caf import Caf, doc_type_name, parse_caf, verify_caf
from fiscal.cl.rut import format_rut, normalize
from fiscal.errors import FiscalError, InvalidCafError, InvalidCertificateError
from fiscal.keys import seal, unseal
from hub.db import Database
from schema.errors import NotFoundError, ValidationError
from schema.models import CafFile, FiscalCertificate, FiscalSetup, FolioRange, Tenant

SUPPORTED_DOC_TYPES: Final = (39, 33, 61)
"""Document types Storehub issues in Chile: boleta, factura, nota de crédito."""

MAX_ACTECOS: Final = 4
# Field sizes: SII's schemas (DTE_v10.xsd Emisor, EnvioBOLETA_v11.xsd, SiiTypes_v10.xsd) and, for the
# address, the 60 of SII's format PDF that fiscal.cl.dte.Emitter applies (the xsd allows 70).
MAX_LENGTH: Final = {
    "razon_social": 100,  # RznSoc / RznSocEmisor
    "giro": 80,  # GiroEmis / GiroEmisor
    "address": 60,  # DirOrigen
    "comuna": 20,  # CmnaOrigen
    "city": 20,  # CiudadOrigen
    "email": 80,  # CorreoEmisor
}
REQUIRED_TEXT: Final = ("razon_social", "giro", "address", "comuna")
MAX_BRANCH_CODE: Final = 999_999_999  # CdgSIISucur: 9 digits
MAX_RESOLUTION_NUMBER: Final = 999_999  # NroResol: 6 digits
CHILE: Final = "CL"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- errors -----------------------------------------------------------------------------------------------


class FiscalSetupError(FiscalError):
    """The fiscal setup data cannot be used on SII documents."""

    code = "invalid_fiscal_setup"


class NotChileanTenantError(FiscalError):
    """Chilean fiscal setup asked for by a tenant of another country."""

    code = "not_chilean_tenant"
    status = 409


class CertificateMissingError(FiscalError):
    """No signing certificate has been uploaded."""

    code = "no_certificate"
    status = 409


class CafMissingError(FiscalError):
    """No CAF covers the folio asked for."""

    code = "no_caf"
    status = 409


class CafOverlapError(InvalidCafError):
    """The CAF's folios overlap a range already loaded for that document type."""

    code = "caf_overlap"
    status = 409


class AuthorityKeysError(FiscalError):
    """SII's CAF-signing keys are not configured or cannot be read: a configuration problem."""

    code = "sii_keys_unavailable"
    status = 500


# --- data -------------------------------------------------------------------------------------------------


class SetupData(msgspec.Struct, frozen=True, kw_only=True):
    """Who issues the tenant's documents, as printed on every DTE."""

    rut: str  # the company's (the tenant's tax id)
    sender_rut: str  # RutEnvia: the person SII authorised to send; their certificate signs
    razon_social: str
    giro: str
    acteco: list[int]  # 1..4 six-digit economic activity codes
    address: str
    comuna: str
    resolution_date: date  # FchResol
    city: str = ""
    branch_code: int | None = None  # CdgSIISucur
    email: str = ""
    resolution_number: int = 0  # NroResol: 0 in SII's certification environment


class SetupRecord(SetupData, frozen=True, kw_only=True):
    updated_at: datetime


class CertificateInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What may be shown of a certificate: never the .pfx or its password."""

    id: uuid.UUID
    rut: str
    holder: str
    not_after: datetime
    uploaded_at: datetime
    uploaded_by: uuid.UUID | None


class CafInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    range_id: uuid.UUID
    doc_type: int
    doc_type_name: str
    first_folio: int
    last_folio: int
    next_folio: int
    folios_left: int
    authorized: date
    expires: date | None  # first day it may no longer be used; None: this type never expires
    expired: bool
    uploaded_at: datetime
    uploaded_by: uuid.UUID | None


# current: the next folio comes from it; queued: takes over after; used: no folio left; expired: its CAF
# expired with folios left (they must be voided at SII); no_caf: a range without a CAF file (cannot stamp).
RangeState = Literal["current", "queued", "used", "expired", "no_caf"]


class RangeStatus(msgspec.Struct, frozen=True, kw_only=True):
    range_id: uuid.UUID
    first_folio: int
    last_folio: int
    next_folio: int
    left: int  # folios of this range not taken yet, usable or not
    authorized: date | None
    expires: date | None
    state: RangeState


class FolioStatus(msgspec.Struct, frozen=True, kw_only=True):
    doc_type: int
    doc_type_name: str
    remaining: int  # usable folios: in ranges with a CAF that has not expired
    next_folio: int | None  # the next usable folio; None when there is none
    low: bool  # remaining < the threshold
    threshold: int
    ranges: list[RangeStatus]
    warnings: list[str]


# --- authority keys ---------------------------------------------------------------------------------------


def authority_keys(environment: str, cert_paths: Sequence[str]) -> dict[int, rsa.RSAPublicKey]:
    """The keys a CAF must be signed with: the simulator's alone in ``simulator`` mode, otherwise only SII's
    certificates at ``cert_paths`` (``STOREHUB_SII_CERTS``)."""
    return dict(_authority_keys(environment, tuple(cert_paths)))


@functools.lru_cache(maxsize=8)
def _authority_keys(environment: str, cert_paths: tuple[str, ...]) -> dict[int, rsa.RSAPublicKey]:
    if environment == "simulator":
        return simulator_authority().keys
    if not cert_paths:
        raise AuthorityKeysError(
            f"STOREHUB_SII_CERTS is not set: in SII's {environment} environment CAFs are checked against "
            "SII's certificates (100.cer certification, 300.cer production)"
        )
    try:
        return load_sii_keys(cert_paths)
    except OSError as exc:
        raise AuthorityKeysError(f"STOREHUB_SII_CERTS: cannot read {exc.filename}: {exc.strerror}") from None
    except InvalidCertificateError as exc:
        raise AuthorityKeysError(f"STOREHUB_SII_CERTS: {exc.message}") from None


# --- tenant -----------------------------------------------------------------------------------------------


async def _chilean_tenant(session: AsyncSession, tenant_id: uuid.UUID, *, lock: bool = False) -> Tenant:
    # FOR NO KEY UPDATE: serializes this tenant's uploads without blocking inserts that reference the
    # tenant row (foreign keys take KEY SHARE locks).
    tenant = await session.get(Tenant, tenant_id, with_for_update={"key_share": True} if lock else None)
    if tenant is None:
        raise NotFoundError("tenant not found")
    if tenant.country != CHILE:
        raise NotChileanTenantError(
            f"Chilean fiscal setup is for CL tenants; this tenant is in {tenant.country}",
            country=tenant.country,
        )
    return tenant


def _today(tenant: Tenant) -> date:
    return datetime.now(ZoneInfo(tenant.timezone)).date()


def _utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes (stored as UTC); Postgres aware ones."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- setup ------------------------------------------------------------------------------------------------


def _rut(value: str, what: str) -> str:
    try:
        return normalize(value)
    except ValidationError as exc:
        raise FiscalSetupError(f"{what}: {exc.message}", field=what) from None


def _text(data: SetupData, name: str) -> str:
    value = getattr(data, name).strip()
    if name in REQUIRED_TEXT and not value:
        raise FiscalSetupError(f"{name} is required", field=name)
    if len(value) > MAX_LENGTH[name]:
        raise FiscalSetupError(
            f"{name} has {len(value)} characters; SII allows at most {MAX_LENGTH[name]}", field=name
        )
    if _CONTROL.search(value):
        raise FiscalSetupError(f"{name} contains a control character (line break, tab...)", field=name)
    return str(value)


def validate_setup(data: SetupData, company_rut: str) -> SetupData:
    """``data`` normalized (RUTs as ``12345678-9``, text trimmed), or a FiscalSetupError naming the field."""
    rut = _rut(data.rut, "rut")
    if rut != normalize(company_rut):
        raise FiscalSetupError(
            f"the RUT {format_rut(rut)} is not this company's: its tax id is {format_rut(company_rut)}",
            field="rut",
        )
    sender = _rut(data.sender_rut, "sender_rut")
    text = {name: _text(data, name) for name in MAX_LENGTH}
    if text["email"] and not _EMAIL.match(text["email"]):
        raise FiscalSetupError(f"email {text['email']!r} is not an e-mail address", field="email")
    if not 1 <= len(data.acteco) <= MAX_ACTECOS:
        raise FiscalSetupError(
            f"acteco takes 1 to {MAX_ACTECOS} economic activity codes, not {len(data.acteco)}", field="acteco"
        )
    for code in data.acteco:
        if not 100_000 <= code <= 999_999:
            raise FiscalSetupError(
                f"acteco {code} is not a six-digit economic activity code (e.g. 471100)", field="acteco"
            )
    if len(set(data.acteco)) != len(data.acteco):
        raise FiscalSetupError("acteco lists the same code twice", field="acteco")
    if data.branch_code is not None and not 1 <= data.branch_code <= MAX_BRANCH_CODE:
        raise FiscalSetupError(
            f"branch_code (CdgSIISucur) is 1 to 9 digits, not {data.branch_code}", field="branch_code"
        )
    if not 0 <= data.resolution_number <= MAX_RESOLUTION_NUMBER:
        raise FiscalSetupError(
            f"resolution_number (NroResol) is 0 to 6 digits, not {data.resolution_number}",
            field="resolution_number",
        )
    return SetupData(
        rut=rut,
        sender_rut=sender,
        acteco=list(data.acteco),
        branch_code=data.branch_code,
        resolution_number=data.resolution_number,
        resolution_date=data.resolution_date,
        **text,
    )


def _record(row: FiscalSetup) -> SetupRecord:
    return SetupRecord(
        rut=row.rut,
        sender_rut=row.sender_rut,
        razon_social=row.razon_social,
        giro=row.giro,
        acteco=[int(code) for code in row.acteco],
        address=row.address,
        comuna=row.comuna,
        city=row.city,
        branch_code=row.branch_code,
        email=row.email,
        resolution_number=row.resolution_number,
        resolution_date=row.resolution_date,
        updated_at=_utc(row.updated_at),
    )


async def save_setup(
    db: Database, tenant_id: uuid.UUID, data: SetupData, *, now: datetime | None = None
) -> SetupRecord:
    """Create or replace the tenant's setup."""
    async with db.tenant(tenant_id) as session:
        tenant = await _chilean_tenant(session, tenant_id, lock=True)
        clean = validate_setup(data, tenant.tax_id)
        fields = msgspec.structs.asdict(clean)
        row = await session.get(FiscalSetup, tenant_id)
        if row is None:
            row = FiscalSetup(tenant_id=tenant_id, **fields)
            session.add(row)
        else:
            for name, value in fields.items():
                setattr(row, name, value)
        row.updated_at = now or datetime.now(UTC)
        await session.flush()
        return _record(row)


async def get_setup(db: Database, tenant_id: uuid.UUID) -> SetupRecord | None:
    async with db.tenant(tenant_id) as session:
        await _chilean_tenant(session, tenant_id)
        row = await session.get(FiscalSetup, tenant_id)
        return _record(row) if row is not None else None


# --- certificate ------------------------------------------------------------------------------------------


def _certificate_info(row: FiscalCertificate) -> CertificateInfo:
    return CertificateInfo(
        id=row.id,
        rut=row.rut,
        holder=row.holder,
        not_after=_utc(row.not_after),
        uploaded_at=_utc(row.uploaded_at),
        uploaded_by=row.uploaded_by,
    )


async def upload_certificate(
    db: Database,
    tenant_id: uuid.UUID,
    pfx: bytes,
    password: str,
    *,
    key: bytes,
    user_id: uuid.UUID | None,
    now: datetime | None = None,
) -> CertificateInfo:
    """Check the .pfx (password, validity at ``now``, RSA, the holder's RUT), seal it and its password, and
    make it the one that signs; the previous one is kept, inactive."""
    now = now or datetime.now(UTC)
    async with db.tenant(tenant_id) as session:
        tenant = await _chilean_tenant(session, tenant_id, lock=True)
        signer = load_pkcs12(pfx, password, now=now)
        holder_rut = rut_of(signer.certificate)
        setup = await session.get(FiscalSetup, tenant_id)
        allowed = {tenant.tax_id} | ({setup.sender_rut} if setup is not None else set())
        if holder_rut not in allowed:
            if setup is not None:
                message = (
                    f"the certificate belongs to RUT {format_rut(holder_rut)}; this company's sender is "
                    f"{format_rut(setup.sender_rut)} (company RUT {format_rut(tenant.tax_id)})"
                )
            else:
                message = (
                    f"the certificate belongs to RUT {format_rut(holder_rut)}, not this company's "
                    f"{format_rut(tenant.tax_id)}: save the fiscal setup with the sender's RUT first"
                )
            raise InvalidCertificateError(message, certificate_rut=holder_rut, allowed=sorted(allowed))
        await session.execute(
            update(FiscalCertificate).where(FiscalCertificate.active.is_(True)).values(active=False)
        )
        row = FiscalCertificate(
            tenant_id=tenant_id,
            rut=holder_rut,
            holder=holder_name(signer.certificate)[:200],
            not_after=signer.certificate.not_valid_after_utc,
            sealed_pfx=seal(pfx, key, tenant_id),
            sealed_password=seal(password.encode("utf-8"), key, tenant_id),
            active=True,
            uploaded_by=user_id,
            uploaded_at=now,
        )
        session.add(row)
        await session.flush()
        return _certificate_info(row)


async def _active_certificate(session: AsyncSession) -> FiscalCertificate | None:
    query = (
        select(FiscalCertificate)
        .where(FiscalCertificate.active.is_(True))
        .order_by(FiscalCertificate.uploaded_at.desc(), FiscalCertificate.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def get_certificate(db: Database, tenant_id: uuid.UUID) -> CertificateInfo | None:
    """The active certificate's public facts, or None."""
    async with db.tenant(tenant_id) as session:
        await _chilean_tenant(session, tenant_id)
        row = await _active_certificate(session)
        return _certificate_info(row) if row is not None else None


async def active_signer(
    db: Database, tenant_id: uuid.UUID, key: bytes, *, now: datetime | None = None
) -> Signer:
    """The active certificate opened to sign (checked valid at ``now``, default the current time)."""
    async with db.tenant(tenant_id) as session:
        return await signer_in(session, tenant_id, key, now=now)


async def signer_in(
    session: AsyncSession, tenant_id: uuid.UUID, key: bytes, *, now: datetime | None = None
) -> Signer:
    """:func:`active_signer` inside a transaction the caller holds (one of ``tenant_id``). On SQLite a second
    ``db.tenant()`` opened while another is open waits for its write lock: use this one there."""
    await _chilean_tenant(session, tenant_id)
    row = await _active_certificate(session)
    if row is None:
        raise CertificateMissingError(
            "no signing certificate: the owner uploads the taxpayer's .pfx at /api/v1/fiscal/certificate"
        )
    pfx = unseal(row.sealed_pfx, key, tenant_id)
    password = unseal(row.sealed_password, key, tenant_id).decode("utf-8")
    return load_pkcs12(pfx, password, now=now)


# --- CAF --------------------------------------------------------------------------------------------------


def _caf_info(caf: CafFile, folios: FolioRange, today: date) -> CafInfo:
    return CafInfo(
        id=caf.id,
        range_id=folios.id,
        doc_type=caf.doc_type,
        doc_type_name=doc_type_name(caf.doc_type),
        first_folio=caf.first_folio,
        last_folio=caf.last_folio,
        next_folio=folios.next_folio,
        folios_left=folios.last_folio - folios.next_folio + 1,
        authorized=caf.authorized,
        expires=caf.expires,
        expired=caf.expires is not None and today >= caf.expires,
        uploaded_at=_utc(caf.uploaded_at),
        uploaded_by=caf.uploaded_by,
    )


def _check_caf(
    caf: Caf, authority: dict[int, rsa.RSAPublicKey], company_rut: str, claimed: int | None, today: date
) -> None:
    verify_caf(caf, authority, rut=company_rut, doc_type=claimed or caf.doc_type, today=today)
    if caf.doc_type not in SUPPORTED_DOC_TYPES:
        supported = ", ".join(doc_type_name(t) for t in SUPPORTED_DOC_TYPES)
        raise InvalidCafError(
            f"the CAF is for document type {doc_type_name(caf.doc_type)}, which Storehub does not issue yet "
            f"(it issues {supported})",
            caf_doc_type=caf.doc_type,
        )
    if caf.private_key is None:
        raise InvalidCafError(
            "the file holds only the <CAF> element, without the private key (RSASK) that stamps documents: "
            "upload the whole file SII gave you (<AUTORIZACION>)"
        )


async def upload_caf(
    db: Database,
    tenant_id: uuid.UUID,
    data: bytes,
    *,
    authority_keys: dict[int, rsa.RSAPublicKey],
    key: bytes,
    user_id: uuid.UUID | None,
    today: date | None = None,
    doc_type: int | None = None,
) -> CafInfo:
    """Load a CAF file: SII's signature (``authority_keys``), the company's RUT, its type (``doc_type`` if the
    uploader named one, which must then match), not expired on ``today`` (default: the tenant's local date),
    and no overlap with a range of that type. Its folios become a new range, taken after the earlier ones."""
    async with db.tenant(tenant_id) as session:
        tenant = await _chilean_tenant(session, tenant_id, lock=True)
        today = today or _today(tenant)
        caf = parse_caf(data)
        _check_caf(caf, authority_keys, tenant.tax_id, doc_type, today)
        # Every CAF has its range; ranges made before CAFs were uploaded (plain FolioRange rows) count too.
        ranges = await session.execute(
            select(FolioRange.first_folio, FolioRange.last_folio)
            .where(
                FolioRange.doc_type == caf.doc_type,
                FolioRange.first_folio <= caf.last,
                FolioRange.last_folio >= caf.first,
            )
            .order_by(FolioRange.first_folio)
            .limit(1)
        )
        clash = ranges.tuples().first()
        if clash is not None:
            what = f"folios {caf.first}-{caf.last} of {doc_type_name(caf.doc_type)}"
            if clash == (caf.first, caf.last):
                message = f"this CAF ({what}) is already loaded"
            else:
                message = f"the CAF's {what} overlap the range {clash[0]}-{clash[1]} already loaded"
            raise CafOverlapError(message, doc_type=caf.doc_type, existing=f"{clash[0]}-{clash[1]}")
        folios = FolioRange(
            tenant_id=tenant_id,
            doc_type=caf.doc_type,
            first_folio=caf.first,
            last_folio=caf.last,
            next_folio=caf.first,
        )
        session.add(folios)
        await session.flush()
        row = CafFile(
            tenant_id=tenant_id,
            doc_type=caf.doc_type,
            first_folio=caf.first,
            last_folio=caf.last,
            authorized=caf.authorized,
            expires=caf.expires,
            idk=caf.idk,
            sealed_xml=seal(data, key, tenant_id),
            folio_range_id=folios.id,
            uploaded_by=user_id,
            uploaded_at=datetime.now(UTC),
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:  # the same CAF uploaded twice at once
            raise CafOverlapError(
                f"this CAF (folios {caf.first}-{caf.last} of {doc_type_name(caf.doc_type)}) is already "
                "loaded",
                doc_type=caf.doc_type,
            ) from None
        return _caf_info(row, folios, today)


async def list_cafs(db: Database, tenant_id: uuid.UUID, *, today: date | None = None) -> list[CafInfo]:
    """Every CAF loaded, by document type and first folio."""
    async with db.tenant(tenant_id) as session:
        tenant = await _chilean_tenant(session, tenant_id)
        today = today or _today(tenant)
        rows = await session.execute(
            select(CafFile, FolioRange)
            .join(FolioRange, FolioRange.id == CafFile.folio_range_id)
            .order_by(CafFile.doc_type, CafFile.first_folio)
        )
        return [_caf_info(caf, folios, today) for caf, folios in rows.tuples()]


async def caf_for_folio(db: Database, tenant_id: uuid.UUID, doc_type: int, folio: int, key: bytes) -> Caf:
    """The CAF that authorizes ``folio`` of ``doc_type``, opened (with its private key) to stamp a TED."""
    async with db.tenant(tenant_id) as session:
        return await caf_in(session, tenant_id, doc_type, folio, key)


async def caf_in(session: AsyncSession, tenant_id: uuid.UUID, doc_type: int, folio: int, key: bytes) -> Caf:
    """:func:`caf_for_folio` inside a transaction the caller holds (see :func:`signer_in`)."""
    await _chilean_tenant(session, tenant_id)
    row = (
        await session.execute(
            select(CafFile).where(
                CafFile.doc_type == doc_type, CafFile.first_folio <= folio, CafFile.last_folio >= folio
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise CafMissingError(
            f"no CAF covers folio {folio} of {doc_type_name(doc_type)}: upload the CAF that authorizes it",
            doc_type=doc_type,
            folio=folio,
        )
    return parse_caf(unseal(row.sealed_xml, key, tenant_id))


# --- folios -----------------------------------------------------------------------------------------------


def _range_states(rows: list[tuple[FolioRange, CafFile | None]], today: date) -> list[RangeStatus]:
    states: list[RangeStatus] = []
    current_taken = False
    for folios, caf in rows:
        left = folios.last_folio - folios.next_folio + 1
        state: RangeState
        if left <= 0:
            state = "used"
        elif caf is None:
            state = "no_caf"
        elif caf.expires is not None and today >= caf.expires:
            state = "expired"
        elif not current_taken:
            state, current_taken = "current", True
        else:
            state = "queued"
        states.append(
            RangeStatus(
                range_id=folios.id,
                first_folio=folios.first_folio,
                last_folio=folios.last_folio,
                next_folio=folios.next_folio,
                left=max(left, 0),
                authorized=caf.authorized if caf is not None else None,
                expires=caf.expires if caf is not None else None,
                state=state,
            )
        )
    return states


def _warnings(doc_type: int, remaining: int, low: int, ranges: list[RangeStatus]) -> list[str]:
    name = doc_type_name(doc_type)
    warnings: list[str] = []
    if remaining == 0:
        warnings.append(f"no folios left for {name}: documents wait for a new CAF; upload one")
    elif remaining < low:
        warnings.append(f"only {remaining} folios left for {name}: ask SII for a new CAF and upload it")
    for r in ranges:
        if r.state == "expired":
            warnings.append(
                f"the CAF for folios {r.first_folio}-{r.last_folio} of {name} expired on {r.expires}: "
                f"{r.left} unused folios from {r.next_folio} must be voided at SII"
            )
        elif r.state == "no_caf":
            warnings.append(
                f"folios {r.first_folio}-{r.last_folio} of {name} have no CAF: documents with them cannot be "
                "stamped"
            )
    return warnings


async def folio_status(
    db: Database, tenant_id: uuid.UUID, low: int, *, today: date | None = None
) -> list[FolioStatus]:
    """For each document type Storehub issues (and any other with ranges), the usable folios left."""
    async with db.tenant(tenant_id) as session:
        tenant = await _chilean_tenant(session, tenant_id)
        today = today or _today(tenant)
        result = await session.execute(
            select(FolioRange, CafFile)
            .outerjoin(CafFile, CafFile.folio_range_id == FolioRange.id)
            .order_by(FolioRange.doc_type, FolioRange.first_folio)
        )
        by_type: dict[int, list[tuple[FolioRange, CafFile | None]]] = {t: [] for t in SUPPORTED_DOC_TYPES}
        for folios, caf in result.tuples():
            by_type.setdefault(folios.doc_type, []).append((folios, caf))
    statuses: list[FolioStatus] = []
    for doc_type, rows in by_type.items():
        ranges = _range_states(rows, today)
        usable = [r for r in ranges if r.state in ("current", "queued")]
        remaining = sum(r.left for r in usable)
        statuses.append(
            FolioStatus(
                doc_type=doc_type,
                doc_type_name=doc_type_name(doc_type),
                remaining=remaining,
                next_folio=usable[0].next_folio if usable else None,
                low=remaining < low,
                threshold=low,
                ranges=ranges,
                warnings=_warnings(doc_type, remaining, low, ranges),
            )
        )
    return statuses
