"""Shared pieces of the REST API: dependencies, lookups that 404 across tenants, small validators."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.authenticate import authenticate
from hub.auth.principal import Principal
from hub.services import Services
from schema.errors import ConflictError, NotFoundError, ValidationError
from schema.models import Store, Tenant

ModelT = TypeVar("ModelT")

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9._-]+$")]
# Litestar checks query parameters with its own markers (msgspec.Meta is not applied to them).
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0)]
SearchText = Annotated[str | None, QueryParameter(max_length=200)]


class Out(msgspec.Struct, frozen=True, kw_only=True):
    """Base of response bodies."""


class In(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of request bodies: unknown fields are an error, not silently ignored."""


ServicesDep = NamedDependency[Services]
PrincipalDep = NamedDependency[Principal]


async def provide_services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


async def provide_principal(request: Request[Any, Any, Any], services: ServicesDep) -> Principal:
    return await authenticate(request, services)


DEPENDENCIES = {
    "services": Provide(provide_services),
    "principal": Provide(provide_principal),
}


@asynccontextmanager
async def tenant_session(services: Services, principal: Principal) -> AsyncIterator[AsyncSession]:
    """The principal's tenant transaction; nothing else is reachable from it."""
    async with services.db.tenant(principal.tenant_id) as session:
        yield session


async def get_or_404(session: AsyncSession, model: type[ModelT], id_: uuid.UUID, what: str) -> ModelT:
    """The row by id, in this tenant only. Another tenant's id is as unknown as a random one."""
    row = (await session.execute(select(model).where(model.id == id_))).scalar_one_or_none()  # type: ignore[attr-defined]
    if row is None:
        raise NotFoundError(f"{what} not found", id=str(id_))
    return row


async def in_store_or_404(
    session: AsyncSession, principal: Principal, model: type[ModelT], id_: uuid.UUID, what: str
) -> ModelT:
    """A row that belongs to a store (register, device...) the principal may act on; otherwise 404."""
    row = await get_or_404(session, model, id_, what)
    if not principal.can_access_store(row.store_id):  # type: ignore[attr-defined]
        raise NotFoundError(f"{what} not found", id=str(id_))
    return row


def store_scoped(
    query: Select[Any], model: Any, principal: Principal, store_id: uuid.UUID | None
) -> Select[Any]:
    """Limit a listing to the principal's store (if bound to one) and to ``store_id`` (if asked)."""
    for wanted in (principal.store_id, store_id):
        if wanted is not None:
            query = query.where(model.store_id == wanted)
    return query


async def store_for(session: AsyncSession, principal: Principal, store_id: uuid.UUID) -> Store:
    """A store the principal may act on: unknown (or other tenant's) → 404, other store of ours → 403."""
    store = await get_or_404(session, Store, store_id, "store")
    principal.require_store(store.id)
    return store


async def current_tenant(session: AsyncSession, principal: Principal) -> Tenant:
    tenant = await session.get(Tenant, principal.tenant_id)
    if tenant is None:
        raise NotFoundError("tenant not found")
    return tenant


async def flush_or_conflict(session: AsyncSession, message: str) -> None:
    """Flush now so a unique/foreign key violation becomes a clear 409 instead of a generic one."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(message) from exc


def utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes (stored as UTC); Postgres returns aware ones."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def utc_required(value: datetime) -> datetime:
    result = utc(value)
    assert result is not None
    return result


def search_key(text: str) -> str:
    """Lower case, accents removed, spaces collapsed: 'Café  Molido' → 'cafe molido'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", stripped).strip().lower()


def like_prefix(text: str) -> str:
    """A LIKE pattern matching ``text`` as a literal prefix (escape char: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def require_some(**fields: Any) -> None:
    if all(value is msgspec.UNSET for value in fields.values()):
        raise ValidationError("nothing to change")
