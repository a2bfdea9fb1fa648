"""``/api/v1/users``: staff accounts (owners only). Hashes never leave the hub.

Deleting a user deactivates it (sales keep their cashier) and ends its sessions and API tokens. An owner
cannot deactivate, demote or delete themselves, so a tenant always keeps a way in. A user deactivated,
deleted, given another role or store, or whose sessions end, has every open socket closed on every hub node
(``hub.auth.revocation``): they reconnect with the new principal, or are refused.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.sessions import end_user_sessions
from hub.http.common import (
    In,
    Name,
    Out,
    PrincipalDep,
    ServicesDep,
    flush_or_conflict,
    get_or_404,
    store_for,
    tenant_session,
    utc_required,
)
from schema.errors import ConflictError
from schema.messages.control_notices import UserChanged
from schema.models import ApiToken, Role, User

Username = Annotated[str, msgspec.Meta(min_length=2, max_length=60, pattern=r"^[a-z0-9._-]+$")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
Pin = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4,8}$")]


class UserOut(Out, frozen=True):
    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    store_id: uuid.UUID | None
    active: bool
    has_pin: bool
    created_at: datetime


class UserIn(In, frozen=True):
    username: Username
    display_name: Name
    role: Role
    password: Password
    store_id: uuid.UUID | None = None
    pin: Pin | None = None


class UserPatch(In, frozen=True):
    display_name: Name | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET
    store_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    password: Password | msgspec.UnsetType = msgspec.UNSET
    pin: Pin | msgspec.UnsetType | None = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


def user_out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=Role(u.role),
        store_id=u.store_id,
        active=u.active,
        has_pin=u.pin_hash is not None,
        created_at=utc_required(u.created_at),
    )


async def _revoke_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


class UserController(Controller):
    path = "/users"
    tags = ["users"]

    @get("/")
    async def list_users(self, principal: PrincipalDep, services: ServicesDep) -> list[UserOut]:
        principal.require(Role.OWNER)
        async with tenant_session(services, principal) as session:
            return [
                user_out(u) for u in (await session.execute(select(User).order_by(User.username))).scalars()
            ]

    @get("/{user_id:uuid}")
    async def get_user(
        self, user_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> UserOut:
        principal.require(Role.OWNER)
        async with tenant_session(services, principal) as session:
            return user_out(await get_or_404(session, User, user_id, "user"))

    @post("/")
    async def create_user(
        self, data: JSONBody[UserIn], principal: PrincipalDep, services: ServicesDep
    ) -> UserOut:
        principal.require(Role.OWNER)
        password_hash = await services.passwords.hash_async(data.password)
        pin_hash = await services.passwords.hash_async(data.pin) if data.pin else None
        async with tenant_session(services, principal) as session:
            if data.store_id is not None:
                await store_for(session, principal, data.store_id)
            user = User(
                username=data.username,
                display_name=data.display_name,
                role=data.role.value,
                store_id=data.store_id,
                password_hash=password_hash,
                pin_hash=pin_hash,
            )
            session.add(user)
            await flush_or_conflict(session, f"username {data.username!r} is taken")
            return user_out(user)

    @patch("/{user_id:uuid}")
    async def update_user(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserPatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> UserOut:
        principal.require(Role.OWNER)
        is_self = user_id == principal.user_id
        if is_self and (data.role not in (msgspec.UNSET, Role.OWNER) or data.active is False):
            raise ConflictError("you cannot demote or deactivate yourself")
        password_hash = None
        if not isinstance(data.password, msgspec.UnsetType):
            password_hash = await services.passwords.hash_async(data.password)
        pin_hash = None
        if isinstance(data.pin, str):
            pin_hash = await services.passwords.hash_async(data.pin)
        end_sessions = (password_hash is not None or data.active is False) and not is_self
        async with tenant_session(services, principal) as session:
            user = await get_or_404(session, User, user_id, "user")
            before = (user.role, user.store_id, user.active)
            if not isinstance(data.display_name, msgspec.UnsetType):
                user.display_name = data.display_name
            if not isinstance(data.role, msgspec.UnsetType):
                user.role = data.role.value
            if not isinstance(data.store_id, msgspec.UnsetType):
                if data.store_id is not None:
                    await store_for(session, principal, data.store_id)
                user.store_id = data.store_id
            if password_hash is not None:
                user.password_hash = password_hash
            if data.pin is None:
                user.pin_hash = None
            elif pin_hash is not None:
                user.pin_hash = pin_hash
            if not isinstance(data.active, msgspec.UnsetType):
                user.active = data.active
                if not data.active:
                    await _revoke_tokens(session, user.id)
            await flush_or_conflict(session, "user conflicts with an existing one")
            result = user_out(user)
            if end_sessions:
                await end_user_sessions(session, user_id)
            changed = end_sessions or before != (user.role, user.store_id, user.active)
            if changed:
                notice = services.users.notice(UserChanged, user_id)
                services.users.announce(session, notice)
        if changed:
            services.users.close(principal.tenant_id, notice)
        return result

    @delete("/{user_id:uuid}", summary="Deactivate a user, end its sessions, revoke its API tokens")
    async def delete_user(
        self, user_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> None:
        principal.require(Role.OWNER)
        if user_id == principal.user_id:
            raise ConflictError("you cannot delete yourself")
        async with tenant_session(services, principal) as session:
            user = await get_or_404(session, User, user_id, "user")
            user.active = False
            await _revoke_tokens(session, user.id)
            await end_user_sessions(session, user_id)
            notice = services.users.notice(UserChanged, user_id)
            services.users.announce(session, notice)
        services.users.close(principal.tenant_id, notice)


ROUTES = [UserController]
