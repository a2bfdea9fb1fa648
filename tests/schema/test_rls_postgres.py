"""Row-Level Security on real Postgres: a tenant's transaction sees and touches only that tenant's rows,
whatever SQL it runs, for every table in TENANT_TABLES (a new table without a policy fails here)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Executable, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub.db import Database
from schema.models import TENANT_TABLES, Base, OutboxEvent
from tests.support.fiscal_work import fiscal_work_is_found_per_tenant
from tests.support.postgres import create_login_role, drop_role, url_for
from tests.support.rows import fresh_copy
from tests.support.tenants import TenantFixture, make_tenant

pytestmark = pytest.mark.postgres

TABLES = sorted(TENANT_TABLES)
MODELS = {m.class_.__tablename__: m.class_ for m in Base.registry.mappers}
RLS_VIOLATION = "42501"  # insufficient_privilege: "new row violates row-level security policy"


def tenant_column(table: str) -> str:
    return TENANT_TABLES[table]


def some_column(table: str) -> str:
    """A column to rewrite with its own value: the first one outside the primary key."""
    return next(c.name for c in Base.metadata.tables[table].columns if not c.primary_key)


async def raw(session: AsyncSession) -> AsyncConnection:
    """The session's connection: statements on it skip every ORM hook (criteria, tenant stamping)."""
    return await session.connection()


async def fetch(db: Database, tenant_id: uuid.UUID | None, sql: str) -> list[dict[str, Any]]:
    """Rows of raw ``sql`` in a transaction of ``tenant_id`` (None: ``db.unscoped()``)."""
    scope = db.tenant(tenant_id) if tenant_id is not None else db.unscoped()
    async with scope as session:
        return [dict(r) for r in (await (await raw(session)).execute(text(sql))).mappings()]


async def change(
    db: Database,
    tenant_id: uuid.UUID | None,
    statement: str | Executable,
    params: dict[str, Any] | None = None,
) -> int:
    """Run raw ``statement`` in its own transaction of ``tenant_id`` (None: unscoped); the rows it changed."""
    scope = db.tenant(tenant_id) if tenant_id is not None else db.unscoped()
    async with scope as session:
        stmt = text(statement) if isinstance(statement, str) else statement
        result = await (await raw(session)).execute(stmt, params)
        return int(result.rowcount)


def sqlstate(exc: pytest.ExceptionInfo[DBAPIError]) -> str | None:
    return getattr(exc.value.orig, "sqlstate", None)


@pytest.fixture
async def a(pg_db: Database) -> TenantFixture:
    return await make_tenant(pg_db)


@pytest.fixture
async def b(pg_db: Database) -> TenantFixture:
    return await make_tenant(pg_db, country="EC")


async def snapshot(db: Database, tenant: TenantFixture, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` the tenant has, with its row version (xmin changes on any UPDATE)."""
    rows = await fetch(db, tenant.tenant_id, f"SELECT xmin::text AS row_version, * FROM {table}")  # noqa: S608
    return sorted(rows, key=repr)


@pytest.mark.parametrize("table", TABLES)
async def test_make_tenant_fills_every_table(table: str, a: TenantFixture) -> None:
    assert a.row_counts.get(table, 0) >= 1, f"make_tenant must create a row in {table}"


@pytest.mark.parametrize("table", TABLES)
async def test_raw_select_sees_only_own_rows(
    pg_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    rows = await fetch(pg_db, a.tenant_id, f"SELECT * FROM {table}")  # noqa: S608
    assert len(rows) == a.row_counts[table]
    assert {r[tenant_column(table)] for r in rows} == {a.tenant_id}


@pytest.mark.parametrize("table", TABLES)
async def test_orm_select_sees_only_own_rows(
    pg_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    model = MODELS[table]
    async with pg_db.tenant(a.tenant_id) as session:
        objs = (await session.execute(select(model))).scalars().all()
    assert len(objs) == a.row_counts[table]
    assert {o.tenant_id for o in objs} == {a.tenant_id}


@pytest.mark.parametrize("table", TABLES)
async def test_raw_update_and_delete_never_touch_other_tenant(
    pg_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    col, tcol = some_column(table), tenant_column(table)
    b_before = await snapshot(pg_db, b, table)
    assert b_before

    aimed = {"b": b.tenant_id}
    assert await change(pg_db, a.tenant_id, f"UPDATE {table} SET {col} = {col} WHERE {tcol} = :b", aimed) == 0  # noqa: S608
    assert await change(pg_db, a.tenant_id, f"DELETE FROM {table} WHERE {tcol} = :b", aimed) == 0  # noqa: S608
    assert await change(pg_db, a.tenant_id, f"UPDATE {table} SET {col} = {col}") == a.row_counts[table]  # noqa: S608

    # Unfiltered DELETEs, children first so foreign keys let the table go. Committed, not rolled back:
    # A is a throwaway tenant, and a committed delete is one B would notice.
    for t in reversed(Base.metadata.sorted_tables):
        deleted = await change(pg_db, a.tenant_id, f"DELETE FROM {t.name}")  # noqa: S608
        assert deleted == a.row_counts[t.name], f"A removed {deleted} rows of {t.name}"
        if t.name == table:
            break

    assert await snapshot(pg_db, b, table) == b_before
    assert await snapshot(pg_db, a, table) == []


@pytest.mark.parametrize("table", TABLES)
async def test_writing_a_row_of_another_tenant_is_refused(
    pg_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    sa_table = Base.metadata.tables[table]
    row = (await fetch(pg_db, a.tenant_id, f"SELECT * FROM {table} LIMIT 1"))[0]  # noqa: S608
    # tenants is keyed on id: B's id would collide with B's row, so claim a brand new tenant id instead.
    other = uuid.uuid4() if table == "tenants" else b.tenant_id

    insert = sa_table.insert().values(**fresh_copy(sa_table, row, other))  # Core on the raw connection
    with pytest.raises(DBAPIError) as insert_error:
        await change(pg_db, a.tenant_id, insert)
    assert sqlstate(insert_error) == RLS_VIOLATION, insert_error.value

    move = f"UPDATE {table} SET {tenant_column(table)} = :other"  # noqa: S608
    with pytest.raises(DBAPIError) as update_error:
        await change(pg_db, a.tenant_id, move, {"other": other})
    assert sqlstate(update_error) == RLS_VIOLATION, update_error.value

    assert len(await snapshot(pg_db, a, table)) == a.row_counts[table]


@pytest.mark.parametrize("table", TABLES)
async def test_no_tenant_setting_sees_nothing_and_writes_nothing(
    pg_db: Database, a: TenantFixture, table: str
) -> None:
    sa_table = Base.metadata.tables[table]
    assert await fetch(pg_db, None, f"SELECT * FROM {table}") == []  # noqa: S608
    assert await change(pg_db, None, f"DELETE FROM {table}") == 0  # noqa: S608
    row = (await fetch(pg_db, a.tenant_id, f"SELECT * FROM {table} LIMIT 1"))[0]  # noqa: S608
    insert = sa_table.insert().values(**fresh_copy(sa_table, row, a.tenant_id))
    with pytest.raises(DBAPIError) as error:
        await change(pg_db, None, insert)
    assert sqlstate(error) == RLS_VIOLATION
    assert len(await fetch(pg_db, a.tenant_id, f"SELECT * FROM {table}")) == a.row_counts[table]  # noqa: S608


async def test_definer_functions_cross_tenants_narrowly(
    pg_db: Database, a: TenantFixture, b: TenantFixture
) -> None:
    assert await pg_db.tenant_id_by_slug(a.slug) == a.tenant_id
    assert await pg_db.tenant_id_by_slug(b.slug) == b.tenant_id
    assert await pg_db.tenant_id_by_slug("no-such-tenant") is None

    pending = set(await pg_db.tenants_with_pending_outbox())
    assert {a.tenant_id, b.tenant_id} <= pending
    async with pg_db.tenant(a.tenant_id) as session:
        await session.execute(update(OutboxEvent).values(published_at=OutboxEvent.created_at))
    pending = set(await pg_db.tenants_with_pending_outbox())
    assert a.tenant_id not in pending
    assert b.tenant_id in pending

    owners = await _fetch(
        pg_db,
        "SELECT p.proname, r.rolname, r.rolsuper, r.rolbypassrls, p.prosecdef FROM pg_proc p "
        "JOIN pg_roles r ON r.oid = p.proowner WHERE p.proname LIKE 'storehub%' ORDER BY 1",
    )
    # Not a superuser: the functions must work through the lookup policy, exactly as in production.
    assert owners == [
        ("storehub_tenant_by_slug", "storehub_lookup", False, False, True),
        ("storehub_tenants_with_fiscal_work", "storehub_lookup", False, False, True),
        ("storehub_tenants_with_pending_outbox", "storehub_lookup", False, False, True),
    ]

    await fiscal_work_is_found_per_tenant(pg_db, a, b)


async def _fetch(db: Database, sql: str) -> list[tuple[Any, ...]]:
    async with db.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql))).all()]


# --- a real application login: non-superuser, member of storehub_app ------------------------------------


@pytest.fixture
async def app_login(pg_server: str, pg_url: str) -> AsyncIterator[str]:
    """URL of a fresh LOGIN role (no superuser, no BYPASSRLS) that is a member of storehub_app."""
    name, password = await create_login_role(pg_server, member_of=("storehub_app",))
    try:
        yield url_for(pg_server, make_url(pg_url).database or "", username=name, password=password)
    finally:
        await drop_role(pg_server, name)


@pytest.fixture
async def outsider_login(pg_server: str, pg_url: str) -> AsyncIterator[str]:
    """A LOGIN role that is NOT a member of storehub_app."""
    name, password = await create_login_role(pg_server)
    try:
        yield url_for(pg_server, make_url(pg_url).database or "", username=name, password=password)
    finally:
        await drop_role(pg_server, name)


async def _connect(url: str) -> asyncpg.Connection:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.connect(dsn)


async def test_app_login_without_setting_sees_no_rows(
    app_login: str, pg_db: Database, a: TenantFixture, b: TenantFixture
) -> None:
    conn = await _connect(app_login)
    try:
        for table in TABLES:  # as the login role itself, and after switching to storehub_app
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE storehub_app")
            for table in TABLES:
                assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
    finally:
        await conn.close()


async def test_app_login_uses_definer_functions_but_cannot_read_tenants(
    app_login: str, a: TenantFixture, b: TenantFixture
) -> None:
    db = Database(app_login, pool_size=2)
    try:
        assert await db.tenant_id_by_slug(a.slug) == a.tenant_id
        assert {a.tenant_id, b.tenant_id} <= set(await db.tenants_with_pending_outbox())
        assert await fetch(db, None, "SELECT slug FROM tenants") == []
        assert await fetch(db, a.tenant_id, "SELECT slug FROM tenants") == [{"slug": a.slug}]
    finally:
        await db.dispose()
    conn = await _connect(app_login)
    try:
        assert await conn.fetchval("SELECT storehub_tenant_by_slug($1)", b.slug) == b.tenant_id
        assert await conn.fetchval("SELECT count(*) FROM tenants WHERE slug = $1", b.slug) == 0
    finally:
        await conn.close()


async def test_outsider_cannot_read_tables_nor_call_functions(outsider_login: str, a: TenantFixture) -> None:
    conn = await _connect(outsider_login)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT count(*) FROM tenants")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT storehub_tenant_by_slug($1)", a.slug)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT storehub_tenants_with_pending_outbox()")
    finally:
        await conn.close()


async def test_tenant_setting_is_transaction_local(pg_db: Database, a: TenantFixture) -> None:
    """A pooled connection that served tenant A must not carry A's setting or role into its next use."""
    async with pg_db.tenant(a.tenant_id) as session:
        conn = await raw(session)
        assert (await conn.execute(text("SELECT count(*) FROM tenants"))).scalar_one() == 1
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with pg_db.engine.connect() as conn:  # the same pooled connection, without tenant() this time
        settings = await conn.execute(
            text(
                "SELECT pg_backend_pid(), current_user, "
                "coalesce(current_setting('storehub.tenant_id', true), '')"
            )
        )
        same_pid, user, tenant = settings.one()
    assert same_pid == pid, "expected the pool to hand back the one connection it has"
    assert tenant == ""
    assert user != "storehub_app"
