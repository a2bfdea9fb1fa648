"""Who is calling: the one function both the HTTP API and the WebSocket gateway use.

* ``Authorization: Bearer shk_…`` (a user's API token) or ``shd_…`` (a paired device). Bearer requests
  are exempt from CSRF checks: browsers never attach them on their own.
* otherwise the ``storehub_session`` cookie. Unsafe HTTP methods must echo the session's CSRF token in
  ``X-CSRF-Token``; WebSocket upgrades must come from our own origin (cross-site WebSocket hijacking: the
  browser sends the cookie with any site's upgrade request).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from sqlalchemy import select

from hub.auth.principal import Principal
from hub.auth.tokens import SESSION_COOKIE, digest, parse_authorization, parse_session_cookie
from hub.logs import bind_tenant
from hub.security import UNSAFE_METHODS, origin_allowed
from schema.errors import AuthenticationError, PermissionDeniedError
from schema.models import ApiToken, AuthSession, Device, Role, User

if TYPE_CHECKING:
    from hub.services import Services

CSRF_HEADER = "x-csrf-token"
Connection = ASGIConnection[Any, Any, Any, Any]


async def authenticate(connection: Connection, services: Services) -> Principal:
    """The caller's principal, or :class:`AuthenticationError` / :class:`PermissionDeniedError`."""
    authorization = connection.headers.get("authorization")
    if authorization is not None:
        principal = await _from_bearer(authorization, services)
    else:
        cookie = connection.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise AuthenticationError("not signed in")
        principal = await session_principal(cookie, services)
        if connection.scope["type"] == ScopeType.WEBSOCKET:
            origin = connection.headers.get("origin")
            if not origin or not origin_allowed(origin, connection.headers.get("host"), services.settings):
                raise PermissionDeniedError("cross-origin WebSocket refused")
        elif connection.scope.get("method", "GET") in UNSAFE_METHODS:
            check_csrf(connection, principal)
    bind_tenant(principal.tenant_id)
    return principal


def check_csrf(connection: Connection, principal: Principal) -> None:
    sent = connection.headers.get(CSRF_HEADER, "")
    expected = principal.csrf_token or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PermissionDeniedError("missing or wrong CSRF token", reason="csrf")


async def session_principal(cookie: str, services: Services) -> Principal:
    tenant_id, secret = parse_session_cookie(cookie)
    now = datetime.now(UTC)
    async with services.db.tenant(tenant_id) as session:
        row = (
            await session.execute(
                select(AuthSession, User)
                .join(User, (User.tenant_id == AuthSession.tenant_id) & (User.id == AuthSession.user_id))
                .where(AuthSession.id == digest(secret), AuthSession.expires_at > now, User.active.is_(True))
            )
        ).first()
    if row is None:
        raise AuthenticationError("session expired or signed out")
    auth_session, user = row
    return Principal(
        tenant_id=tenant_id,
        kind="user",
        role=Role(user.role),
        user_id=user.id,
        store_id=user.store_id,
        csrf_token=auth_session.csrf_token,
        session_id=auth_session.id,
    )


async def _from_bearer(header: str, services: Services) -> Principal:
    token = parse_authorization(header)
    hashed = digest(token.secret)
    async with services.db.tenant(token.tenant_id) as session:
        if token.kind == "shk":
            user = (
                await session.execute(
                    select(User)
                    .join(ApiToken, (ApiToken.tenant_id == User.tenant_id) & (ApiToken.user_id == User.id))
                    .where(ApiToken.id == hashed, ApiToken.revoked_at.is_(None), User.active.is_(True))
                )
            ).scalar_one_or_none()
            if user is None:
                raise AuthenticationError("unknown or revoked token")
            return Principal(
                tenant_id=token.tenant_id,
                kind="user",
                role=Role(user.role),
                user_id=user.id,
                store_id=user.store_id,
                token_id=hashed,
            )
        device = (
            await session.execute(
                select(Device).where(Device.token_hash == hashed, Device.revoked_at.is_(None))
            )
        ).scalar_one_or_none()
    if device is None:
        raise AuthenticationError("unknown or revoked device token")
    # Devices get the lowest till-level role, but kind "device" keeps them out of every user permission.
    return Principal(
        tenant_id=token.tenant_id,
        kind="device",
        role=Role.CASHIER,
        device_id=device.id,
        store_id=device.store_id,
    )
