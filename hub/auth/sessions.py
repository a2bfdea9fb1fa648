"""Signing in and out of browser sessions.

Every way a sign-in can fail (unknown tenant, unknown user, wrong password, inactive user) answers the
same 401 with the same text and costs one Argon2 verification, so the answer tells nothing about which
part was wrong. Failures are rate-limited per account and per client address.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.ratelimit import check, hit_all
from hub.auth.tokens import digest, new_secret, parse_session_cookie, session_cookie_value
from schema.errors import AuthenticationError
from schema.messages.control_notices import SessionRevoked
from schema.models import AuthSession, Tenant, User

if TYPE_CHECKING:
    from hub.services import Services

BAD_CREDENTIALS = "usuario o contraseña incorrectos"


class SignedIn(NamedTuple):
    cookie: str
    csrf_token: str
    user: User
    tenant: Tenant
    expires_at: datetime


def login_keys(tenant_slug: str, username: str, address: str) -> tuple[str, str]:
    return f"login:account:{tenant_slug}:{username}", f"login:address:{address}"


async def login(services: Services, tenant_slug: str, username: str, password: str, address: str) -> SignedIn:
    tenant_slug, username = tenant_slug.strip().lower(), username.strip().lower()
    keys = login_keys(tenant_slug, username, address)
    await check(services.rate_limiter, *keys)
    tenant_id = await services.db.tenant_id_by_slug(tenant_slug) if tenant_slug else None
    user: User | None = None
    tenant: Tenant | None = None
    if tenant_id is not None:
        async with services.db.tenant(tenant_id) as session:
            user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
            tenant = await session.get(Tenant, tenant_id)
    ok = await services.passwords.verify_async(user.password_hash if user else None, password)
    if not ok or user is None or tenant is None or not user.active:
        await hit_all(services.rate_limiter, *keys)
        services.http_metrics.login_failures.inc("login")
        raise AuthenticationError(BAD_CREDENTIALS)
    await services.rate_limiter.reset(keys[0])
    secret, csrf_token = new_secret(), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires_at = now + timedelta(hours=services.settings.session_hours)
    new_hash = (
        await services.passwords.hash_async(password)
        if services.passwords.needs_rehash(user.password_hash)
        else None
    )
    async with services.db.tenant(tenant.id) as session:
        # Expired sessions of this user go now; nothing else ever reads them.
        await session.execute(
            delete(AuthSession).where(AuthSession.user_id == user.id, AuthSession.expires_at <= now)
        )
        session.add(
            AuthSession(
                id=digest(secret),
                user_id=user.id,
                csrf_token=csrf_token,
                created_at=now,
                expires_at=expires_at,
            )
        )
        if new_hash is not None:
            fresh = await session.get(User, (tenant.id, user.id))
            if fresh is not None:
                fresh.password_hash = new_hash
    return SignedIn(session_cookie_value(tenant.id, secret), csrf_token, user, tenant, expires_at)


async def logout(services: Services, cookie: str) -> None:
    """End the session, and close the sockets it opened, on every hub node (``hub.auth.revocation``)."""
    try:
        tenant_id, secret = parse_session_cookie(cookie)
    except AuthenticationError:
        return
    session_id = digest(secret)
    async with services.db.tenant(tenant_id) as session:
        user_id = (
            await session.execute(
                delete(AuthSession).where(AuthSession.id == session_id).returning(AuthSession.user_id)
            )
        ).scalar_one_or_none()
        if user_id is None:
            return  # signed out already
        notice = services.users.notice(SessionRevoked, user_id, session_id=session_id)
        services.users.announce(session, notice)
    services.users.close(tenant_id, notice)


async def end_user_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete the user's sessions in ``session``'s transaction (their sockets: ``UserChanged``)."""
    await session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))
