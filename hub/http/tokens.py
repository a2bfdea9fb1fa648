"""``/api/v1/api-tokens``: bearer tokens for integrations (owners only). The token is shown once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import select

from hub.auth.tokens import API_TOKEN_PREFIX, bearer_token, digest, new_secret
from hub.http.common import (
    In,
    Name,
    Out,
    PrincipalDep,
    ServicesDep,
    flush_or_conflict,
    get_or_404,
    tenant_session,
    utc,
    utc_required,
)
from schema.errors import NotFoundError, ValidationError
from schema.messages.control_notices import TokenRevoked
from schema.models import ApiToken, Role, User


class ApiTokenOut(Out, frozen=True):
    id: str
    name: str
    user_id: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenOut, frozen=True, kw_only=True):
    token: str  # shown once; only its hash is kept


class ApiTokenIn(In, frozen=True):
    name: Name
    user_id: uuid.UUID | None = None  # default: the caller


def token_out(t: ApiToken) -> ApiTokenOut:
    return ApiTokenOut(
        id=t.id,
        name=t.name,
        user_id=t.user_id,
        created_at=utc_required(t.created_at),
        revoked_at=utc(t.revoked_at),
    )


class ApiTokenController(Controller):
    path = "/api-tokens"
    tags = ["api tokens"]

    @get("/")
    async def list_tokens(
        self, principal: PrincipalDep, services: ServicesDep, include_revoked: FromQuery[bool] = False
    ) -> list[ApiTokenOut]:
        principal.require(Role.OWNER)
        query = select(ApiToken).order_by(ApiToken.created_at)
        if not include_revoked:
            query = query.where(ApiToken.revoked_at.is_(None))
        async with tenant_session(services, principal) as session:
            return [token_out(t) for t in (await session.execute(query)).scalars()]

    @post("/", summary="Create a token for a user (default: yourself); the token is returned only now")
    async def create_token(
        self, data: JSONBody[ApiTokenIn], principal: PrincipalDep, services: ServicesDep
    ) -> ApiTokenCreated:
        principal.require(Role.OWNER)
        user_id = data.user_id or principal.user_id
        if user_id is None:
            raise ValidationError("user_id is required", field="user_id")
        secret = new_secret()
        async with tenant_session(services, principal) as session:
            user = await get_or_404(session, User, user_id, "user")
            if not user.active:
                raise ValidationError("user is not active", field="user_id")
            row = ApiToken(id=digest(secret), user_id=user.id, name=data.name, created_at=datetime.now(UTC))
            session.add(row)
            await flush_or_conflict(session, "token collision, try again")
            return ApiTokenCreated(
                **msgspec.structs.asdict(token_out(row)),
                token=bearer_token(API_TOKEN_PREFIX, principal.tenant_id, secret),
            )

    @post("/{token_id:str}/revoke", status_code=HTTP_200_OK)
    async def revoke_token(
        self, token_id: FromPath[str], principal: PrincipalDep, services: ServicesDep
    ) -> ApiTokenOut:
        """Revoke it; the sockets it opened close on every hub node."""
        principal.require(Role.OWNER)
        async with tenant_session(services, principal) as session:
            row = (
                await session.execute(select(ApiToken).where(ApiToken.id == token_id))
            ).scalar_one_or_none()
            if row is None:
                raise NotFoundError("api token not found")
            notice = services.users.notice(TokenRevoked, row.user_id, token_id=row.id)
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
                services.users.announce(session, notice)
            result = token_out(row)
        services.users.close(principal.tenant_id, notice)
        return result


ROUTES = [ApiTokenController]
