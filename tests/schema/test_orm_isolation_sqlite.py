"""SQLite has no Row-Level Security: there the ORM criteria of ``hub.db`` are the isolation. A tenant
session's ORM select, update and delete see only its rows; writing another tenant's row raises
TenancyError."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, insert, inspect, select, update

from hub.db import Database, TenancyError
from schema.models import TENANT_TABLES, Base
from tests.support.fiscal_work import fiscal_work_is_found_per_tenant
from tests.support.rows import fresh_copy
from tests.support.tenants import TenantFixture, make_tenant

TABLES = sorted(TENANT_TABLES)
MODELS: dict[str, Any] = {m.class_.__tablename__: m.class_ for m in Base.registry.mappers}


def some_column(table: str) -> str:
    return next(c.name for c in Base.metadata.tables[table].columns if not c.primary_key)


@pytest.fixture
async def a(sqlite_db: Database) -> TenantFixture:
    return await make_tenant(sqlite_db)


@pytest.fixture
async def b(sqlite_db: Database) -> TenantFixture:
    return await make_tenant(sqlite_db, country="EC")


async def orm_rows(db: Database, tenant: TenantFixture, table: str) -> list[dict[str, Any]]:
    """The tenant's rows of ``table`` through the ORM, as plain column dicts."""
    model = MODELS[table]
    async with db.tenant(tenant.tenant_id) as session:
        objs = (await session.execute(select(model))).scalars().all()
        columns = [attr.key for attr in inspect(model).column_attrs]
        return sorted(({c: getattr(o, c) for c in columns} for o in objs), key=repr)


async def move_first_row(
    db: Database, tenant: TenantFixture, table: str, attr: str, to: TenantFixture
) -> None:
    """In ``tenant``'s session, set ``attr`` of its first ``table`` row to ``to``'s id and commit."""
    async with db.tenant(tenant.tenant_id) as session:
        obj = (await session.execute(select(MODELS[table]).limit(1))).scalar_one()
        setattr(obj, attr, to.tenant_id)


@pytest.mark.parametrize("table", TABLES)
async def test_make_tenant_fills_every_table(sqlite_db: Database, a: TenantFixture, table: str) -> None:
    assert a.row_counts.get(table, 0) >= 1, f"make_tenant must create a row in {table}"
    assert len(await orm_rows(sqlite_db, a, table)) == a.row_counts[table]


@pytest.mark.parametrize("table", TABLES)
async def test_orm_select_sees_only_own_rows(
    sqlite_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    rows = await orm_rows(sqlite_db, a, table)
    assert len(rows) == a.row_counts[table]
    assert {r[TENANT_TABLES[table]] for r in rows} == {a.tenant_id}
    # The same (cached) statement in B's session must get B's criteria, not A's.
    rows = await orm_rows(sqlite_db, b, table)
    assert len(rows) == b.row_counts[table]
    assert {r[TENANT_TABLES[table]] for r in rows} == {b.tenant_id}


@pytest.mark.parametrize("table", TABLES)
async def test_orm_update_and_delete_touch_only_own_rows(
    sqlite_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    model, col = MODELS[table], some_column(table)
    b_before = await orm_rows(sqlite_db, b, table)
    async with sqlite_db.tenant(a.tenant_id) as session:
        result = await session.execute(
            update(model).values({col: getattr(model, col)}).execution_options(synchronize_session=False)
        )
        assert result.rowcount == a.row_counts[table]  # type: ignore[attr-defined]

    for t in reversed(Base.metadata.sorted_tables):  # children first, for the foreign keys
        async with sqlite_db.tenant(a.tenant_id) as session:
            result = await session.execute(
                delete(MODELS[t.name]).execution_options(synchronize_session=False)
            )
            assert result.rowcount == a.row_counts[t.name], t.name  # type: ignore[attr-defined]
        if t.name == table:
            break

    assert await orm_rows(sqlite_db, b, table) == b_before
    assert await orm_rows(sqlite_db, a, table) == []


@pytest.mark.parametrize("table", TABLES)
async def test_adding_a_row_of_another_tenant_raises(
    sqlite_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    model, sa_table = MODELS[table], Base.metadata.tables[table]
    row = (await orm_rows(sqlite_db, a, table))[0]
    with pytest.raises(TenancyError):
        async with sqlite_db.tenant(a.tenant_id) as session:
            session.add(model(**fresh_copy(sa_table, row, b.tenant_id)))
    assert len(await orm_rows(sqlite_db, b, table)) == b.row_counts[table]


@pytest.mark.parametrize("table", sorted(set(TABLES) - {"tenants"}))
async def test_moving_a_row_to_another_tenant_raises(
    sqlite_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    with pytest.raises(TenancyError):
        await move_first_row(sqlite_db, a, table, "tenant_id", b)
    assert len(await orm_rows(sqlite_db, a, table)) == a.row_counts[table]


async def test_tenant_session_cannot_create_or_rename_another_tenant(
    sqlite_db: Database, a: TenantFixture, b: TenantFixture
) -> None:
    with pytest.raises(TenancyError):
        await move_first_row(sqlite_db, a, "tenants", "id", b)
    assert await sqlite_db.tenant_id_by_slug(a.slug) == a.tenant_id


async def test_cross_tenant_lookups_on_sqlite(
    sqlite_db: Database, a: TenantFixture, b: TenantFixture
) -> None:
    assert await sqlite_db.tenant_id_by_slug(b.slug) == b.tenant_id
    assert await sqlite_db.tenant_id_by_slug("nobody") is None
    assert set(await sqlite_db.tenants_with_pending_outbox()) == {a.tenant_id, b.tenant_id}
    await fiscal_work_is_found_per_tenant(sqlite_db, a, b)


@pytest.mark.parametrize("style", ["values", "multi_values", "bulk_parameters"])
@pytest.mark.parametrize("table", TABLES)
async def test_statement_inserts_of_another_tenants_rows_raise(
    sqlite_db: Database, a: TenantFixture, b: TenantFixture, table: str, style: str
) -> None:
    model, sa_table = MODELS[table], Base.metadata.tables[table]
    copy = fresh_copy(sa_table, (await orm_rows(sqlite_db, a, table))[0], b.tenant_id)
    statements = {
        "values": (insert(model).values(**copy), None),
        "multi_values": (insert(model).values([copy]), None),
        "bulk_parameters": (insert(model), [copy]),
    }
    statement, parameters = statements[style]
    with pytest.raises(TenancyError):
        async with sqlite_db.tenant(a.tenant_id) as session:
            await session.execute(statement, parameters)
    assert len(await orm_rows(sqlite_db, b, table)) == b.row_counts[table]


@pytest.mark.parametrize("table", sorted(set(TABLES) - {"tenants"}))
async def test_statement_updates_moving_rows_to_another_tenant_raise(
    sqlite_db: Database, a: TenantFixture, b: TenantFixture, table: str
) -> None:
    model = MODELS[table]
    with pytest.raises(TenancyError):
        async with sqlite_db.tenant(a.tenant_id) as session:
            await session.execute(update(model).values(tenant_id=b.tenant_id))
    assert len(await orm_rows(sqlite_db, a, table)) == a.row_counts[table]
