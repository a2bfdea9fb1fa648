"""``/api/v1/registers``: the tills of each store."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import func, select

from hub.http.common import (
    Code,
    In,
    Name,
    Out,
    PrincipalDep,
    ServicesDep,
    flush_or_conflict,
    in_store_or_404,
    require_some,
    store_for,
    store_scoped,
    tenant_session,
    utc_required,
)  # fmt: skip
from schema.errors import ConflictError
from schema.models import Device, Register, Role


class RegisterOut(Out, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID
    code: str
    name: str
    created_at: datetime


class RegisterIn(In, frozen=True):
    store_id: uuid.UUID
    code: Code
    name: Name


class RegisterPatch(In, frozen=True):
    code: Code | msgspec.UnsetType = msgspec.UNSET
    name: Name | msgspec.UnsetType = msgspec.UNSET


def register_out(r: Register) -> RegisterOut:
    return RegisterOut(
        id=r.id, store_id=r.store_id, code=r.code, name=r.name, created_at=utc_required(r.created_at)
    )


class RegisterController(Controller):
    path = "/registers"
    tags = ["registers"]

    @get("/")
    async def list_registers(
        self, principal: PrincipalDep, services: ServicesDep, store_id: FromQuery[uuid.UUID | None] = None
    ) -> list[RegisterOut]:
        principal.require(Role.CASHIER)
        query = select(Register).order_by(Register.store_id, Register.code)
        query = store_scoped(query, Register, principal, store_id)
        async with tenant_session(services, principal) as session:
            return [register_out(r) for r in (await session.execute(query)).scalars()]

    @get("/{register_id:uuid}")
    async def get_register(
        self, register_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> RegisterOut:
        principal.require(Role.CASHIER)
        async with tenant_session(services, principal) as session:
            return register_out(await in_store_or_404(session, principal, Register, register_id, "register"))

    @post("/")
    async def create_register(
        self, data: JSONBody[RegisterIn], principal: PrincipalDep, services: ServicesDep
    ) -> RegisterOut:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            store = await store_for(session, principal, data.store_id)
            register = Register(store_id=store.id, code=data.code, name=data.name)
            session.add(register)
            await flush_or_conflict(session, f"register code {data.code!r} already exists in this store")
            return register_out(register)

    @patch("/{register_id:uuid}")
    async def update_register(
        self,
        register_id: FromPath[uuid.UUID],
        data: JSONBody[RegisterPatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> RegisterOut:
        principal.require(Role.MANAGER)
        require_some(code=data.code, name=data.name)
        async with tenant_session(services, principal) as session:
            register = await in_store_or_404(session, principal, Register, register_id, "register")
            if not isinstance(data.code, msgspec.UnsetType):
                register.code = data.code
            if not isinstance(data.name, msgspec.UnsetType):
                register.name = data.name
            await flush_or_conflict(session, "register code already exists in this store")
            return register_out(register)

    @delete("/{register_id:uuid}")
    async def delete_register(
        self, register_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> None:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            register = await in_store_or_404(session, principal, Register, register_id, "register")
            bound = (
                await session.execute(
                    select(func.count()).select_from(Device).where(Device.register_id == register.id)
                )
            ).scalar_one()
            if bound:
                raise ConflictError("devices are bound to this register; unbind or revoke them first")
            await session.delete(register)
            await flush_or_conflict(session, "register is still referenced")


ROUTES = [RegisterController]
