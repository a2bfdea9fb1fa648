"""Alembic environment for Storehub, configured from code (see :mod:`schema.migrate`), not from an ini file.

The database URL comes from ``config.attributes["database_url"]`` (set by ``schema.migrate``) or, for the
plain ``alembic`` command, the ``sqlalchemy.url`` option. Async drivers (``postgresql+asyncpg``,
``sqlite+aiosqlite``) run the migrations through ``AsyncConnection.run_sync`` in a private event loop;
sync drivers run them directly. On Postgres the whole run is one transaction holding an advisory lock, so
two hub nodes migrating at the same time take turns and the second finds nothing to do.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from schema.migrate import MIGRATION_LOCK_KEY
from schema.models import Base

target_metadata = Base.metadata


def _database_url() -> str:
    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use schema.migrate.upgrade(url) or set sqlalchemy.url")
    return str(url)


def _run(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: autogenerate "move and copy" batch operations for it.
        render_as_batch=is_sqlite,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:  # handed over by the caller (already inside run_sync)
        _run(connection)
        return
    url = _database_url()
    if make_url(url).get_dialect().is_async:
        asyncio.run(_run_async(url))
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as sync_connection:
            _run(sync_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) mode is not supported: the migrations inspect the live database")
run_migrations_online()
