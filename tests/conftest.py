"""Fixtures shared by every suite: real Postgres and Redis, migrated databases, ``make_tenant``.

Server fixtures are session-scoped and synchronous (each async step runs in its own short event loop), so
they work with pytest-asyncio's per-test loops. Tests using them are marked ``postgres`` / ``redis`` /
``kafka`` automatically; ``-m "not postgres"`` runs without a Postgres server.

* ``pg_server``  admin URL (``postgresql://``) of the server: ``STOREHUB_TEST_PG_URL``, the local one on
  127.0.0.1:5432, or a private one started for the session (see ``tests.support.postgres``).
* ``pg_url``     a database created and migrated for the session (``postgresql+asyncpg://``), dropped after.
* ``pg_db``      a ``hub.db.Database`` on ``pg_url``, per test. Tests share that database: make your own
                 tenants with ``make_tenant`` and never assume other tenants' rows are absent.
* ``pg_empty_database``  a fresh database (not migrated) for one test, dropped after: ``(admin, name)``.
* ``sqlite_url`` / ``sqlite_db``  a migrated SQLite file in the test's tmp_path.
* ``redis_url``  Redis URL with a database number to ourselves; ``redis_prefix`` for keys and channels.
* ``kafka_url``  bootstrap ``host:port`` of a Kafka-protocol broker (a private Tansu, see
                 ``tests.support.tansu``): create topics with names of your own. Marked ``kafka``.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from hub.db import Database
from schema.migrate import upgrade
from tests.support.postgres import create_database, drop_database, postgres_server, url_for
from tests.support.redis import redis_server
from tests.support.tansu import kafka_server

_POSTGRES_FIXTURES = {"pg_server", "pg_url", "pg_db", "pg_empty_database"}
_REDIS_FIXTURES = {"redis_url", "redis_prefix"}
_KAFKA_FIXTURES = {"kafka_url"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _POSTGRES_FIXTURES:
            item.add_marker(pytest.mark.postgres)
        if names & _REDIS_FIXTURES:
            item.add_marker(pytest.mark.redis)
        if names & _KAFKA_FIXTURES:
            item.add_marker(pytest.mark.kafka)


# --- Postgres -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as admin_url:
        yield admin_url


@pytest.fixture(scope="session")
def pg_url(pg_server: str) -> Iterator[str]:
    name = asyncio.run(create_database(pg_server))
    try:
        url = url_for(pg_server, name)
        upgrade(url)
        yield url
    finally:
        asyncio.run(drop_database(pg_server, name))


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url, pool_size=5)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def pg_empty_database(pg_server: str) -> Iterator[tuple[str, str]]:
    """A new, empty database for one test (sync fixture: call migrations directly, not from a loop)."""
    name = asyncio.run(create_database(pg_server))
    try:
        yield pg_server, name
    finally:
        asyncio.run(drop_database(pg_server, name))


# --- SQLite ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per session; each test gets a copy (a file copy is much faster than migrating)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "storehub.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "storehub.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database(sqlite_url)
    try:
        yield db
    finally:
        await db.dispose()


# --- Redis ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the tests' Redis, closed after the test."""
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    """Unique per session: prefix keys and pub/sub channels with it (channels ignore database numbers)."""
    return f"storehub-test-{secrets.token_hex(4)}:"


# --- Kafka ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_url() -> Iterator[str]:
    with kafka_server() as url:
        yield url
