"""Database access, always scoped to one tenant.

``Database.tenant(tenant_id)`` opens a session inside a transaction. On Postgres the first statement of
that transaction switches to the unprivileged ``storehub_app`` role and sets ``storehub.tenant_id``, both
transaction-local, so Row-Level Security confines every statement (ORM or raw SQL) to that tenant even if
a query forgets its filter. On every backend, ORM queries on tenant tables also get a ``tenant_id``
criterion and new rows are stamped with (and checked against) the session's tenant: that is the only
isolation SQLite has.

The few lookups that must cross tenants (tenant by slug at login, tenants with unpublished outbox rows for
the relay) go through narrow ``SECURITY DEFINER`` functions created by the migrations.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from schema.errors import StorehubError
from schema.models import Tenant, TenantScoped

APP_ROLE = "storehub_app"
TENANT_SETTING = "storehub.tenant_id"
_TENANT_KEY = "storehub_tenant_id"
OUTBOX_WRITTEN = "storehub_outbox_written"  # session.info: the WrittenEvents of hub.events.outbox.emit
# A pooled Postgres connection idle longer than this is pinged before use (see ``_ping_when_idle``).
IDLE_PING_SECONDS = 1.0


class WrittenEvent(NamedTuple):
    """An outbox row as its transaction wrote it: published straight after the commit."""

    id: uuid.UUID
    stream: str
    event: str
    payload: Any


def outbox_written(session: AsyncSession | Session) -> list[WrittenEvent]:
    """The outbox rows this transaction wrote so far (writers append theirs)."""
    written: list[WrittenEvent] = session.info.setdefault(OUTBOX_WRITTEN, [])
    return written


class TenancyError(StorehubError):
    """A row of another tenant was about to be written through a tenant session."""

    code = "tenant_mismatch"
    status = 403


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_postgres = parsed.get_backend_name() == "postgresql"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_postgres:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        else:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs.update(connect_args={"timeout": 30})
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_postgres:
            _ping_when_idle(self.engine)
        else:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin_immediate)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Awaited with the tenant id and the rows after a commit that wrote outbox rows (the relay publishes
        # them at once).
        self.after_outbox_commit: Callable[[uuid.UUID, list[WrittenEvent]], Awaitable[None]] | None = None

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def tenant(self, tenant_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
        """A session in a transaction confined to ``tenant_id``; commits on success, rolls back on error."""
        if not isinstance(tenant_id, uuid.UUID):
            raise TypeError("tenant_id must be a UUID")
        async with self._sessions() as session:
            session.info[_TENANT_KEY] = tenant_id
            async with session.begin():
                if self.is_postgres:
                    await session.execute(
                        text("SELECT set_config('role', :role, true), set_config(:name, :tenant, true)"),
                        {"role": APP_ROLE, "name": TENANT_SETTING, "tenant": str(tenant_id)},
                    )
                yield session
            written = session.info.pop(OUTBOX_WRITTEN, None)
            if written and self.after_outbox_commit is not None:
                await self.after_outbox_commit(tenant_id, written)

    @asynccontextmanager
    async def unscoped(self) -> AsyncIterator[AsyncSession]:
        """A session with no tenant: on Postgres it runs as ``storehub_app`` and sees no tenant rows.

        Only for the cross-tenant helper functions below and for health checks.
        """
        async with self._sessions() as session, session.begin():
            if self.is_postgres:
                await session.execute(text("SELECT set_config('role', :role, true)"), {"role": APP_ROLE})
            yield session

    async def tenant_id_by_slug(self, slug: str) -> uuid.UUID | None:
        async with self.unscoped() as session:
            if self.is_postgres:
                value = (
                    await session.execute(text("SELECT storehub_tenant_by_slug(:slug)"), {"slug": slug})
                ).scalar()
            else:
                value = (await session.execute(select(Tenant.id).where(Tenant.slug == slug))).scalar()
        return uuid.UUID(str(value)) if value is not None else None

    async def tenants_with_pending_outbox(self) -> Sequence[uuid.UUID]:
        async with self.unscoped() as session:
            if self.is_postgres:
                rows = await session.execute(text("SELECT storehub_tenants_with_pending_outbox()"))
            else:
                rows = await session.execute(
                    text("SELECT DISTINCT tenant_id FROM outbox WHERE published_at IS NULL")
                )
            return [uuid.UUID(str(r[0])) for r in rows]

    async def tenants_with_fiscal_work(self, now: datetime) -> Sequence[uuid.UUID]:
        """Tenants whose fiscal pipeline has something due (the hub's periodic sweep wakes them)."""
        async with self.unscoped() as session:
            if self.is_postgres:
                rows = await session.execute(
                    text("SELECT storehub_tenants_with_fiscal_work(:now)"), {"now": now}
                )
            else:
                rows = await session.execute(
                    text(
                        "SELECT tenant_id FROM fiscal_documents WHERE (status = 'pending' AND "
                        "(folio IS NULL OR next_attempt_at <= :now)) OR status = 'signed' UNION "
                        "SELECT tenant_id FROM fiscal_envelopes WHERE status IN ('built', 'sent') "
                        "AND next_attempt_at <= :now"
                    ),
                    {"now": now},
                )
            return [uuid.UUID(str(r[0])) for r in rows]

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))


def tenant_of(session: AsyncSession | Session) -> uuid.UUID:
    tenant_id = session.info.get(_TENANT_KEY)
    if tenant_id is None:
        raise TenancyError("session is not bound to a tenant")
    return tenant_id  # type: ignore[no-any-return]


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only if it sat idle for ``IDLE_PING_SECONDS``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip more per transaction (~0.3 ms of
    a tenant transaction's ~1 ms here). A connection used a moment ago is alive; one that sat idle may
    have been closed by the server (a restart, an idle timeout, an administrator), and is pinged and, if
    dead, replaced before anyone uses it. A server restart in the middle of a busy moment still fails the
    statements already running and the first one on each connection used within the last second; that
    disconnect invalidates the whole pool, so the next transactions get fresh connections (a till resends
    its command with the same id, the fiscal pipeline retries).
    """
    sync = engine.sync_engine

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:  # new, or used a moment ago
            return
        try:
            sync.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool drops this connection and hands out another
            raise DisconnectionError("a pooled connection was closed while idle") from exc

    event.listen(sync, "checkin", checked_in)
    event.listen(sync, "checkout", checked_out)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The driver's own implicit transactions would start DEFERRED; _sqlite_begin_immediate takes over.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    """Take SQLite's write lock when the transaction starts: two checkouts that read stock and then write
    it would otherwise both hold read locks and one would fail instead of waiting its turn."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get(_TENANT_KEY)
    if tenant_id is None:
        return
    if state.is_insert or state.is_update:
        _check_written_tenant(state, tenant_id)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True),
        with_loader_criteria(Tenant, Tenant.id == tenant_id),
    )


def _check_written_tenant(state: ORMExecuteState, tenant_id: uuid.UUID) -> None:
    """Statement-style inserts and updates (``insert(M).values(...)``, bulk parameter lists) must not
    write another tenant's id. Postgres refuses them anyway (WITH CHECK); SQLite has only this guard."""
    statement: Any = state.statement
    table = getattr(statement, "table", None)
    if table is None:
        return
    column = "id" if table.name == Tenant.__tablename__ else "tenant_id"
    if column not in table.c:
        return
    written: list[Any] = []
    values = getattr(statement, "_values", None) or {}  # .values(...): column or name -> BindParameter
    for key, value in values.items():
        if getattr(key, "key", key) == column:
            written.append(getattr(value, "value", value))
    for group in getattr(statement, "_multi_values", ()) or ():  # .values([{...}, {...}])
        for row in group:
            if isinstance(row, dict):
                written += [getattr(v, "value", v) for k, v in row.items() if getattr(k, "key", k) == column]
    params = state.parameters
    for row in params if isinstance(params, list) else [params] if params else []:
        if isinstance(row, dict) and column in row:
            written.append(row[column])
    for value in written:
        if value != tenant_id and str(value) != str(tenant_id):
            raise TenancyError("statement writes another tenant's rows", table=table.name)


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _ctx: Any, _instances: Any) -> None:
    tenant_id = session.info.get(_TENANT_KEY)
    if tenant_id is None:
        return
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, TenantScoped):
            if obj.tenant_id is None:
                obj.tenant_id = tenant_id
            elif obj.tenant_id != tenant_id:
                raise TenancyError("row belongs to another tenant", table=type(obj).__name__)
        elif isinstance(obj, Tenant) and obj.id is not None and obj.id != tenant_id:
            raise TenancyError("tenant row does not match the session's tenant")
