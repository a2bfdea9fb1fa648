"""``/api/v1/fiscal``: a Chilean tenant's fiscal setup, signing certificate, CAF files and folios.

Managers read; only owners change. The certificate (.pfx + password) and the CAF files are sealed at rest
with a key derived from ``STOREHUB_SECRET_KEY`` and bound to the tenant (:mod:`fiscal.keys`); nothing here
ever returns them. CAFs are checked against the keys of ``STOREHUB_SII_ENVIRONMENT`` (the simulator's, or
SII's ``STOREHUB_SII_CERTS``). The rules and messages live in :mod:`fiscal.cl.setup`; EC tenants get 409
``not_chilean_tenant``.

* ``GET``/``PUT /fiscal/setup``: the emitter data (RUT = the tenant's tax id, sender RUT, giro, acteco...).
* ``POST /fiscal/certificate`` (multipart ``file`` + ``password``), ``GET /fiscal/certificate``.
* ``POST /fiscal/cafs`` (multipart ``file``, optional ``doc_type`` the CAF must be for), ``GET /fiscal/cafs``.
* ``GET /fiscal/folios``: usable folios per document type, ``low`` under ``STOREHUB_FOLIOS_LOW``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody

from fiscal.cl import setup as fiscal_setup
from fiscal.keys import at_rest_key
from hub.http.common import In, Out, PrincipalDep, ServicesDep
from hub.services import Services
from schema.errors import NotFoundError, StorehubError
from schema.models import Role

MAX_FILE_BYTES = 64 * 1024
# The whole multipart request: the file, the password, the form's own framing.
MAX_UPLOAD_BODY = 4 * MAX_FILE_BYTES


class FileTooLargeError(StorehubError):
    """An uploaded file is larger than allowed."""

    code = "too_large"
    status = 413


class EmptyFileError(StorehubError):
    """An uploaded file is empty."""

    code = "invalid"
    status = 400


Text = fiscal_setup.MAX_LENGTH


class SetupIn(In, frozen=True):
    rut: Annotated[str, msgspec.Meta(max_length=12, examples=["76.354.771-K"])]
    sender_rut: Annotated[str, msgspec.Meta(max_length=12, description="RutEnvia: whose certificate signs")]
    razon_social: Annotated[str, msgspec.Meta(max_length=Text["razon_social"])]
    giro: Annotated[str, msgspec.Meta(max_length=Text["giro"])]
    acteco: Annotated[list[int], msgspec.Meta(min_length=1, max_length=4, examples=[[471100]])]
    address: Annotated[str, msgspec.Meta(max_length=Text["address"])]
    comuna: Annotated[str, msgspec.Meta(max_length=Text["comuna"])]
    resolution_date: date  # FchResol
    city: Annotated[str, msgspec.Meta(max_length=Text["city"])] = ""
    branch_code: Annotated[int, msgspec.Meta(ge=1, le=999_999_999)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=Text["email"])] = ""
    resolution_number: Annotated[int, msgspec.Meta(ge=0, le=999_999, description="0 in certification")] = 0


class SetupOut(Out, frozen=True):
    rut: str
    sender_rut: str
    razon_social: str
    giro: str
    acteco: list[int]
    address: str
    comuna: str
    resolution_date: date
    city: str
    branch_code: int | None
    email: str
    resolution_number: int
    updated_at: datetime


class CertificateOut(Out, frozen=True):
    rut: str
    holder: str
    not_after: datetime
    uploaded_at: datetime


class CafOut(Out, frozen=True):
    id: uuid.UUID
    doc_type: int
    doc_type_name: str
    first_folio: int
    last_folio: int
    next_folio: int
    folios_left: int
    authorized: date
    expires: date | None
    expired: bool
    uploaded_at: datetime


class RangeOut(Out, frozen=True):
    first_folio: int
    last_folio: int
    next_folio: int
    left: int
    authorized: date | None
    expires: date | None
    state: str  # current, queued, used, expired, no_caf


class FolioStatusOut(Out, frozen=True):
    doc_type: int
    doc_type_name: str
    remaining: int
    next_folio: int | None
    low: bool
    threshold: int
    ranges: list[RangeOut]
    warnings: list[str]


@dataclass
class CertificateForm:
    file: UploadFile
    password: str


@dataclass
class CafForm:
    file: UploadFile
    doc_type: int | None = None  # when given, the CAF must be for this type


MultipartCertificate = Annotated[CertificateForm, Body(media_type=RequestEncodingType.MULTI_PART)]
MultipartCaf = Annotated[CafForm, Body(media_type=RequestEncodingType.MULTI_PART)]


async def read_upload(upload: UploadFile, what: str) -> bytes:
    data = await upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise FileTooLargeError(
            f"the {what} is larger than {MAX_FILE_BYTES // 1024} KiB: this is not the file SII or your "
            "certification authority gave you",
            limit=MAX_FILE_BYTES,
        )
    if not data:
        raise EmptyFileError(f"the {what} is empty")
    return data


def _key(services: Services) -> bytes:
    return at_rest_key(services.settings.secret_key)


def _setup_out(record: fiscal_setup.SetupRecord) -> SetupOut:
    return msgspec.convert(record, SetupOut, from_attributes=True)


def _certificate_out(info: fiscal_setup.CertificateInfo) -> CertificateOut:
    return msgspec.convert(info, CertificateOut, from_attributes=True)


def _caf_out(info: fiscal_setup.CafInfo) -> CafOut:
    return msgspec.convert(info, CafOut, from_attributes=True)


def _status_out(status: fiscal_setup.FolioStatus) -> FolioStatusOut:
    return msgspec.convert(status, FolioStatusOut, from_attributes=True)


class FiscalController(Controller):
    path = "/fiscal"
    tags = ["fiscal"]

    @get("/setup", summary="The Chilean emitter data printed on every document (managers and owners)")
    async def get_setup(self, principal: PrincipalDep, services: ServicesDep) -> SetupOut:
        principal.require(Role.MANAGER)
        record = await fiscal_setup.get_setup(services.db, principal.tenant_id)
        if record is None:
            raise NotFoundError("no fiscal setup yet: the owner saves it with PUT /api/v1/fiscal/setup")
        return _setup_out(record)

    @put("/setup", summary="Save the emitter data (owners); the RUT must be the tenant's tax id")
    async def put_setup(
        self, data: JSONBody[SetupIn], principal: PrincipalDep, services: ServicesDep
    ) -> SetupOut:
        principal.require(Role.OWNER)
        wanted = msgspec.convert(data, fiscal_setup.SetupData, from_attributes=True)
        saved = await fiscal_setup.save_setup(services.db, principal.tenant_id, wanted)
        await services.fiscal.setup_changed(principal.tenant_id)  # documents waiting for the setup can go now
        return _setup_out(saved)

    @get("/certificate", summary="The active signing certificate: holder, RUT, validity (never the secret)")
    async def get_certificate(self, principal: PrincipalDep, services: ServicesDep) -> CertificateOut:
        principal.require(Role.MANAGER)
        info = await fiscal_setup.get_certificate(services.db, principal.tenant_id)
        if info is None:
            raise NotFoundError(
                "no certificate yet: the owner uploads the .pfx with POST /api/v1/fiscal/certificate"
            )
        return _certificate_out(info)

    @post(
        "/certificate",
        summary="Upload the taxpayer's .pfx (multipart: file, password); it replaces the active one (owners)",
        request_max_body_size=MAX_UPLOAD_BODY,
    )
    async def upload_certificate(
        self, data: MultipartCertificate, principal: PrincipalDep, services: ServicesDep
    ) -> CertificateOut:
        principal.require(Role.OWNER)
        pfx = await read_upload(data.file, "certificate file")
        info = await fiscal_setup.upload_certificate(
            services.db,
            principal.tenant_id,
            pfx,
            data.password,
            key=_key(services),
            user_id=principal.user_id,
            now=datetime.now(UTC),
        )
        await services.fiscal.setup_changed(principal.tenant_id)
        return _certificate_out(info)

    @get("/cafs", summary="The CAF files loaded: type, folio range, authorization, expiry, folios left")
    async def list_cafs(self, principal: PrincipalDep, services: ServicesDep) -> list[CafOut]:
        principal.require(Role.MANAGER)
        return [_caf_out(info) for info in await fiscal_setup.list_cafs(services.db, principal.tenant_id)]

    @post(
        "/cafs",
        summary="Upload a CAF file from SII (multipart: file, optional doc_type) (owners)",
        request_max_body_size=MAX_UPLOAD_BODY,
    )
    async def upload_caf(self, data: MultipartCaf, principal: PrincipalDep, services: ServicesDep) -> CafOut:
        principal.require(Role.OWNER)
        raw = await read_upload(data.file, "CAF file")
        settings = services.settings
        info = await fiscal_setup.upload_caf(
            services.db,
            principal.tenant_id,
            raw,
            authority_keys=fiscal_setup.authority_keys(settings.sii_environment, settings.sii_cert_paths),
            key=_key(services),
            user_id=principal.user_id,
            doc_type=data.doc_type,
        )
        await services.fiscal.setup_changed(principal.tenant_id)  # documents made without a folio get one now
        return _caf_out(info)

    @get("/folios", summary="Folios left per document type; `low` below STOREHUB_FOLIOS_LOW")
    async def folios(self, principal: PrincipalDep, services: ServicesDep) -> list[FolioStatusOut]:
        principal.require(Role.MANAGER)
        statuses = await fiscal_setup.folio_status(
            services.db, principal.tenant_id, services.settings.folios_low
        )
        return [_status_out(status) for status in statuses]


ROUTES = [FiscalController]
