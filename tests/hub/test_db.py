"""``hub.db.Database``'s connection pool on Postgres: a connection the server closed while it sat idle is
replaced before anyone uses it, and a connection used a moment ago is not pinged first (a round trip more
on every transaction)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import hub.db
from hub.db import Database

pytestmark = pytest.mark.postgres


async def backend_pid(db: Database) -> int:
    async with db.tenant(uuid.uuid4()) as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(db: Database, pid: int) -> None:
    url = make_url(db.url).set(drivername="postgresql")
    admin = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


def count_pings(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    dialect = db.engine.sync_engine.dialect
    pings: list[int] = []
    original = dialect.do_ping

    def counted(connection: Any) -> bool:
        pings.append(1)
        return bool(original(connection))

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def test_a_connection_closed_while_idle_is_replaced_before_use(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.db, "IDLE_PING_SECONDS", 0.2)
    first = await backend_pid(pg_db)
    await terminate(pg_db, first)  # the server closes it while it sits in the pool
    await asyncio.sleep(0.3)
    second = await backend_pid(pg_db)  # no error: the dead connection was pinged and replaced
    assert second != first


async def test_a_connection_used_a_moment_ago_is_not_pinged(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.db, "IDLE_PING_SECONDS", 0.2)
    pings = count_pings(pg_db, monkeypatch)
    pid = await backend_pid(pg_db)  # a new connection: not pinged
    assert await backend_pid(pg_db) == pid  # the same one, back at once: not pinged
    assert pings == []
    await asyncio.sleep(0.3)
    assert await backend_pid(pg_db) == pid  # idle long enough: pinged, alive, kept
    assert pings == [1]
