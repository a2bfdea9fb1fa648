"""``/api/v1/devices``: scales, printers, drawers and agents, and their pairing.

Creating a device returns a one-time pairing code (valid 15 minutes; only its SHA-256 is stored). The
device agent trades it, unauthenticated, at ``POST /api/v1/devices/pair`` for its token ``shd_…``, which
is returned once. Wrong or expired codes are rate-limited like sign-ins.

A change (new device, new binding or settings, revocation) is acted on by this node after the commit and
announced in the same transaction to the other hub nodes, which may hold the device's socket and actor
(``hub.devices``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.ratelimit import check, hit_all
from hub.auth.tokens import (
    DEVICE_TOKEN_PREFIX,
    bearer_token,
    digest,
    new_pairing_code,
    new_secret,
    normalize_pairing_code,
)  # fmt: skip
from hub.http.common import (
    In,
    Name,
    Out,
    PrincipalDep,
    ServicesDep,
    flush_or_conflict,
    get_or_404,
    in_store_or_404,
    require_some,
    store_for,
    store_scoped,
    tenant_session,
    utc,
)
from hub.security import client_address
from schema.errors import AuthenticationError, ConflictError, ValidationError
from schema.messages.control_notices import DeviceChanged, DeviceRevoked
from schema.models import Device, Register, Role

PAIRING_TTL = timedelta(minutes=15)
BAD_CODE = "código de vinculación inválido o vencido"

DeviceKind = Literal["scale", "printer", "drawer", "agent"]


class DeviceOut(Out, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID
    register_id: uuid.UUID | None
    kind: str
    name: str
    config: dict[str, Any]
    status: Literal["pairing", "unpaired", "paired", "revoked"]
    pairing_expires_at: datetime | None
    paired_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime | None


class DeviceCreated(Out, frozen=True):
    device: DeviceOut
    pairing_code: str  # shown once
    pairing_expires_at: datetime


class DeviceIn(In, frozen=True):
    store_id: uuid.UUID
    kind: DeviceKind
    name: Name
    register_id: uuid.UUID | None = None
    config: Annotated[dict[str, Any], msgspec.Meta(max_length=50)] = {}


class DevicePatch(In, frozen=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    register_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET  # null unbinds
    config: Annotated[dict[str, Any], msgspec.Meta(max_length=50)] | msgspec.UnsetType = msgspec.UNSET


PAPER_WIDTHS = (80, 58)


def check_config(kind: str, config: dict[str, Any]) -> None:
    """What the hub itself reads from a device's settings: a printer's paper width (80 or 58 mm)."""
    if kind == "printer" and "paper_mm" in config and config["paper_mm"] not in PAPER_WIDTHS:
        raise ValidationError("paper_mm must be 80 or 58", field="config.paper_mm")


class PairIn(In, frozen=True):
    tenant: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class PairOut(Out, frozen=True):
    device_id: uuid.UUID
    store_id: uuid.UUID
    register_id: uuid.UUID | None
    kind: str
    token: str  # shown once


def device_out(d: Device, now: datetime | None = None) -> DeviceOut:
    now = now or datetime.now(UTC)
    expires = utc(d.pairing_expires_at)
    status: Literal["pairing", "unpaired", "paired", "revoked"]
    if d.revoked_at is not None:
        status = "revoked"
    elif d.token_hash is not None:
        status = "paired"
    elif d.pairing_code_hash is not None and expires is not None and expires > now:
        status = "pairing"
    else:
        status = "unpaired"
    return DeviceOut(
        id=d.id,
        store_id=d.store_id,
        register_id=d.register_id,
        kind=d.kind,
        name=d.name,
        config=dict(d.config or {}),
        status=status,
        pairing_expires_at=expires if status == "pairing" else None,
        paired_at=utc(d.paired_at),
        revoked_at=utc(d.revoked_at),
        created_at=utc(d.created_at),
    )


class DeviceController(Controller):
    path = "/devices"
    tags = ["devices"]

    @get("/")
    async def list_devices(
        self, principal: PrincipalDep, services: ServicesDep, store_id: FromQuery[uuid.UUID | None] = None
    ) -> list[DeviceOut]:
        principal.require(Role.MANAGER)
        query = select(Device).order_by(Device.store_id, Device.name)
        query = store_scoped(query, Device, principal, store_id)
        async with tenant_session(services, principal) as session:
            return [device_out(d) for d in (await session.execute(query)).scalars()]

    @get("/{device_id:uuid}")
    async def get_device(
        self, device_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> DeviceOut:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            return device_out(await in_store_or_404(session, principal, Device, device_id, "device"))

    @post("/", summary="Register a device; returns its one-time pairing code")
    async def create_device(
        self, data: JSONBody[DeviceIn], principal: PrincipalDep, services: ServicesDep
    ) -> DeviceCreated:
        principal.require(Role.MANAGER)
        code = new_pairing_code()
        expires_at = datetime.now(UTC) + PAIRING_TTL
        async with tenant_session(services, principal) as session:
            store = await store_for(session, principal, data.store_id)
            if data.register_id is not None:
                await _check_register(session, data.register_id, store.id)
            check_config(data.kind, data.config)
            device = Device(
                store_id=store.id,
                register_id=data.register_id,
                kind=data.kind,
                name=data.name,
                config=dict(data.config),
                pairing_code_hash=digest(code),
                pairing_expires_at=expires_at,
            )
            session.add(device)
            await flush_or_conflict(session, "device conflicts with an existing one")
            # A printer bound to a register: lookups that found the register without one are forgotten.
            services.devices.announce(session, DeviceChanged, device.id)
            created = DeviceCreated(
                device=device_out(device), pairing_code=code, pairing_expires_at=expires_at
            )
        services.devices.device_changed(principal.tenant_id, created.device.id)
        return created

    @patch("/{device_id:uuid}", summary="Rename a device, bind it to a register (or unbind), change settings")
    async def update_device(
        self,
        device_id: FromPath[uuid.UUID],
        data: JSONBody[DevicePatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> DeviceOut:
        principal.require(Role.MANAGER)
        require_some(name=data.name, register_id=data.register_id, config=data.config)
        async with tenant_session(services, principal) as session:
            device = await in_store_or_404(session, principal, Device, device_id, "device")
            if device.revoked_at is not None:
                raise ConflictError("the device was revoked; register a new one")
            if not isinstance(data.name, msgspec.UnsetType):
                device.name = data.name
            if not isinstance(data.register_id, msgspec.UnsetType):
                if data.register_id is not None:
                    if device.kind == "agent":
                        raise ValidationError("an agent is not bound to a register", field="register_id")
                    await _check_register(session, data.register_id, device.store_id)
                device.register_id = data.register_id
            if not isinstance(data.config, msgspec.UnsetType):
                check_config(device.kind, data.config)
                device.config = dict(data.config)
            services.devices.announce(session, DeviceChanged, device_id)
            out = device_out(device)
        services.devices.device_changed(principal.tenant_id, device_id)
        return out

    @post("/{device_id:uuid}/revoke", status_code=HTTP_200_OK, summary="Revoke a device's token for good")
    async def revoke_device(
        self, device_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> DeviceOut:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            device = await in_store_or_404(session, principal, Device, device_id, "device")
            if device.revoked_at is None:
                device.revoked_at = datetime.now(UTC)
            device.pairing_code_hash = None
            device.pairing_expires_at = None
            services.devices.announce(session, DeviceRevoked, device_id)  # to its sockets on other nodes
            out = device_out(device)
        # After the commit: its sockets close now (4401), and an agent can no longer report for it.
        services.devices.revoked(principal.tenant_id, device_id)
        return out

    @post("/pair", status_code=HTTP_200_OK, summary="Trade a pairing code for the device token (no auth)")
    async def pair_device(
        self, request: Request[Any, Any, Any], data: JSONBody[PairIn], services: ServicesDep
    ) -> PairOut:
        slug = data.tenant.strip().lower()
        keys = (f"pair:tenant:{slug}", f"pair:address:{client_address(request.scope, services.settings)}")
        await check(services.rate_limiter, *keys)
        tenant_id = await services.db.tenant_id_by_slug(slug)
        code_hash = digest(normalize_pairing_code(data.code))
        now = datetime.now(UTC)
        device: Device | None = None
        if tenant_id is not None:
            secret = new_secret()
            async with services.db.tenant(tenant_id) as session:
                device = (
                    await session.execute(
                        select(Device)
                        .where(
                            Device.pairing_code_hash == code_hash,
                            Device.pairing_expires_at > now,
                            Device.revoked_at.is_(None),
                        )
                        .with_for_update()  # two agents racing with one code: the second finds nothing
                    )
                ).scalar_one_or_none()
                if device is not None:
                    device.token_hash = digest(secret)
                    device.paired_at = now
                    device.pairing_code_hash = None
                    device.pairing_expires_at = None
        if tenant_id is None or device is None:
            await hit_all(services.rate_limiter, *keys)
            services.http_metrics.login_failures.inc("pairing")
            raise AuthenticationError(BAD_CODE)
        return PairOut(
            device_id=device.id,
            store_id=device.store_id,
            register_id=device.register_id,
            kind=device.kind,
            token=bearer_token(DEVICE_TOKEN_PREFIX, tenant_id, secret),
        )


async def _check_register(session: AsyncSession, register_id: uuid.UUID, store_id: uuid.UUID) -> None:
    register = await get_or_404(session, Register, register_id, "register")
    if register.store_id != store_id:
        raise ValidationError("the register belongs to another store", field="register_id")


ROUTES = [DeviceController]
