"""The migrations build exactly the models' schema, on SQLite and on Postgres, and can be undone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from schema import migrate
from schema.models import TENANT_TABLES, Base
from tests.support.postgres import admin_connect, url_for

MODEL_TABLES = set(Base.metadata.tables)
REPO = Path(__file__).resolve().parents[2]


def _schema_state(conn: Connection) -> dict[str, Any]:
    """What the database holds, in terms the assertions below compare."""
    mc = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True, "target_metadata": Base.metadata}
    )
    insp = inspect(conn)
    tables = set(insp.get_table_names())
    return {
        "diff": compare_metadata(mc, Base.metadata),
        "tables": tables,
        "pks": {t: insp.get_pk_constraint(t)["constrained_columns"] for t in tables - {"alembic_version"}},
    }


def inspect_database(url: str) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(_schema_state)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def assert_matches_models(url: str) -> None:
    state = inspect_database(url)
    assert state["diff"] == [], f"database differs from the models: {state['diff']}"
    assert state["tables"] == MODEL_TABLES | {"alembic_version"}
    for table, pk in state["pks"].items():
        assert pk[0] == TENANT_TABLES[table], f"{table}: primary key {pk} must start with the tenant column"


def assert_empty(url: str) -> None:
    assert inspect_database(url)["tables"] <= {"alembic_version"}


def test_models_declare_every_table_a_tenant_table() -> None:
    # A table missing from TENANT_TABLES would get no RLS policy and escape the isolation tests.
    assert set(TENANT_TABLES) == MODEL_TABLES
    for name, table in Base.metadata.tables.items():
        pk = [c.name for c in table.primary_key.columns]
        assert pk[0] == TENANT_TABLES[name], f"{name}: primary key {pk} must start with the tenant column"


def test_one_head_and_it_is_the_newest_revision_file() -> None:
    versions = Path(migrate.__file__).parent / "migrations" / "versions"
    newest = max(p.name.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py"))
    assert migrate.head() == newest


def test_stock_values_survive_the_move_to_average_cost(tmp_path: Path) -> None:
    """0002 replaced stock_levels.value by avg_cost: existing stock keeps its worth both ways."""
    url = f"sqlite+aiosqlite:///{tmp_path}/s.db"
    migrate.upgrade(url, "0001")
    sync_url = url.replace("+aiosqlite", "")
    engine = sa.create_engine(sync_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tenants (id, slug, name, legal_name, country, tax_id, currency, timezone, "
                "stock_policy, created_at) VALUES ('00000000000000000000000000000001', 's', 'S', 'S', "
                "'CL', '76086428-5', 'CLP', 'America/Santiago', 'allow', '2026-01-01')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO warehouses (tenant_id, id, name, created_at) VALUES "
                "('00000000000000000000000000000001', '00000000000000000000000000000002', 'W', '2026-01-01')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO products (tenant_id, id, sku, name, search_name, price, tax_class, weighable, "
                "unit, min_stock, active, created_at, updated_at) VALUES "
                "('00000000000000000000000000000001', "
                "'00000000000000000000000000000003', 'P', 'P', 'p', 100, 'cl_iva', 0, 'unit', 0, 1, "
                "'2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO stock_levels (tenant_id, warehouse_id, product_id, quantity, value, updated_at) "
                "VALUES ('00000000000000000000000000000001', '00000000000000000000000000000002', "
                "'00000000000000000000000000000003', 24000, 12480, '2026-01-01')"
            )
        )
    migrate.upgrade(url, "0002")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT avg_cost FROM stock_levels")).scalar_one() == 520 * 10_000
    migrate.downgrade(url, "0001")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT value FROM stock_levels")).scalar_one() == 12480
    engine.dispose()


def test_sqlite_upgrade_matches_models_and_downgrade_reverses(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/nested/dir/storehub.db"
    assert migrate.current(url) is None
    assert not (tmp_path / "nested").exists(), "current() must not create the database"
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert_matches_models(url)
    migrate.upgrade(url)  # idempotent at head
    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert_empty(url)
    migrate.upgrade(url)
    assert_matches_models(url)


def test_sqlite_url_without_driver_gets_aiosqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/plain.db"
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert migrate.normalize_url(url).startswith("sqlite+aiosqlite:///")
    assert migrate.normalize_url("postgresql://u:p%25w@h/db") == "postgresql+asyncpg://u:p%25w@h/db"


@pytest.mark.postgres
def test_postgres_upgrade_matches_models_and_downgrade_reverses(pg_empty_database: tuple[str, str]) -> None:
    admin, name = pg_empty_database
    url = url_for(admin, name)
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert_matches_models(url)
    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert_empty(url)
    assert _functions(url) == []
    migrate.upgrade(url)
    assert_matches_models(url)
    assert _functions(url) == [
        "storehub_tenant_by_slug",
        "storehub_tenants_with_fiscal_work",
        "storehub_tenants_with_pending_outbox",
    ]


@pytest.mark.postgres
def test_postgres_plain_url_works(pg_empty_database: tuple[str, str]) -> None:
    admin, name = pg_empty_database
    migrate.upgrade(url_for(admin, name, driver="postgresql"))
    assert migrate.current(url_for(admin, name)) == migrate.head()


@pytest.mark.postgres
def test_postgres_rls_is_forced_on_every_tenant_table(pg_url: str) -> None:
    rows = _query(
        pg_url,
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, (SELECT count(*) FROM pg_policy p "
        "    WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') "
        "FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'",
    )
    state = {r[0]: tuple(r[1:]) for r in rows}
    for table in TENANT_TABLES:
        assert state[table] == (True, True, 1), f"{table}: RLS enabled/forced/policy = {state[table]}"


@pytest.mark.postgres
def test_postgres_app_roles_cannot_bypass_rls(pg_url: str) -> None:
    rows = _query(
        pg_url,
        "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles "
        "WHERE rolname IN ('storehub_app', 'storehub_lookup') ORDER BY rolname",
    )
    assert [tuple(r) for r in rows] == [
        ("storehub_app", False, False, False),
        ("storehub_lookup", False, False, False),
    ]


@pytest.mark.postgres
def test_postgres_concurrent_upgrades_take_turns(pg_empty_database: tuple[str, str]) -> None:
    """Two hub nodes migrating the same database at once: both succeed, the schema is built once."""
    admin, name = pg_empty_database
    url = url_for(admin, name)
    asyncio.run(_race_two_upgrades(admin, name, url))
    assert_matches_models(url)


async def _race_two_upgrades(admin: str, name: str, url: str) -> None:
    # Hold the migration lock ourselves until both runs wait for it, so they really start together.
    holder = await admin_connect(admin, name)
    procs: list[asyncio.subprocess.Process] = []
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", migrate.MIGRATION_LOCK_KEY)
        code = f"from schema.migrate import upgrade; upgrade({url!r})"
        for _ in range(2):
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-c", code, cwd=REPO, stderr=subprocess.PIPE
                )
            )
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1"
        low_bits = migrate.MIGRATION_LOCK_KEY & 0xFFFFFFFF
        async with asyncio.timeout(60):
            while await holder.fetchval(waiting, low_bits) < 2:
                await asyncio.sleep(0.05)  # polling a condition under a deadline
        await holder.execute("SELECT pg_advisory_unlock($1)", migrate.MIGRATION_LOCK_KEY)
        results = [await p.communicate() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [err.decode()[-2000:] for _, err in results]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await holder.close()


def test_upgrades_from_threads_do_not_mix_up_databases(tmp_path: Path) -> None:
    # Alembic's context is process-global: schema.migrate serialises calls so each lands in its own file.
    urls = [f"sqlite+aiosqlite:///{tmp_path}/db{i}.db" for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(migrate.upgrade, urls))
    for url in urls:
        assert migrate.current(url) == migrate.head()


async def test_migrate_refuses_a_running_event_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    with pytest.raises(migrate.MigrationError, match=r"asyncio\.to_thread"):
        migrate.upgrade(url)
    with pytest.raises(migrate.MigrationError):
        migrate.current(url)
    # ... and the advertised way out works.
    await asyncio.to_thread(migrate.upgrade, url)
    assert await asyncio.to_thread(migrate.current, url) == migrate.head()


def _query(url: str, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql))).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _functions(url: str) -> list[str]:
    rows = _query(
        url,
        "SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace "
        "AND proname LIKE 'storehub%' ORDER BY proname",
    )
    return [r[0] for r in rows]


@pytest.mark.postgres
def test_postgres_migrations_as_non_superuser_database_owner(pg_server: str, pg_url: str) -> None:
    """The production setup: a CREATEROLE (not superuser) role owning the database runs the migrations,
    after another database already created the cluster-wide roles (``pg_url`` did, as superuser)."""
    asyncio.run(_migrator_scenario(pg_server))


async def _migrator_scenario(admin: str) -> None:
    from hub.db import Database
    from tests.support.postgres import admin_connect, create_login_role, drop_database, drop_role
    from tests.support.tenants import make_tenant

    conn = await admin_connect(admin)
    try:
        version = int(await conn.fetchval("SHOW server_version_num"))
    finally:
        await conn.close()
    name, password = await create_login_role(admin, createrole=True)
    database = f"storehub_test_owned_{name.rsplit('_', 1)[-1]}"
    try:
        conn = await admin_connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{database}" OWNER {name}')
            if version >= 160000:  # CREATEROLE alone may no longer grant roles it did not create
                await conn.execute(f"GRANT storehub_app, storehub_lookup TO {name}")
        finally:
            await conn.close()
        url = url_for(admin, database, username=name, password=password)
        await asyncio.to_thread(migrate.upgrade, url)
        assert await asyncio.to_thread(_query, url, "SELECT current_user") == [(name,)]

        db = Database(url, pool_size=2)
        try:
            a = await make_tenant(db)
            b = await make_tenant(db)
            assert await db.tenant_id_by_slug(b.slug) == b.tenant_id
            assert set(await db.tenants_with_pending_outbox()) == {a.tenant_id, b.tenant_id}
            async with db.tenant(a.tenant_id) as session:
                conn_ = await session.connection()
                assert (await conn_.execute(text("SELECT count(*) FROM users"))).scalar_one() == 4
            # FORCE: the tables' owner, outside storehub_app and without a tenant, sees nothing either,
            # although it is a member of storehub_lookup.
            async with db.engine.connect() as owner:
                for table in TENANT_TABLES:
                    sql = text(f"SELECT count(*) FROM {table}")  # noqa: S608
                    count = (await owner.execute(sql)).scalar_one()
                    assert count == 0, f"owner sees {count} rows of {table}"
        finally:
            await db.dispose()

        await asyncio.to_thread(migrate.downgrade, url, "base")
        assert await asyncio.to_thread(migrate.current, url) is None
    finally:
        await drop_database(admin, database)
        await drop_role(admin, name)
