"""Postgres notices between a hub's processes: heard by the listener, coalesced, sent again after the
connection is lost, and a payload that is not a tenant id is ignored."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from hub.pg_notices import PgNotices, asyncpg_dsn

pytestmark = pytest.mark.postgres


async def test_notices_reach_the_listener_and_survive_a_lost_connection(pg_url: str) -> None:
    heard: list[uuid.UUID] = []
    connects = 0

    async def connected() -> None:
        nonlocal connects
        connects += 1

    channel = f"test_{uuid.uuid4().hex[:8]}"
    listener = PgNotices(pg_url, {channel: heard.append}, on_connect=connected)
    sender = PgNotices(pg_url)
    await listener.start()
    await sender.start()
    try:
        async with asyncio.timeout(10):
            await listener.connected.wait()
        one, two = uuid.uuid4(), uuid.uuid4()
        sender.notify(channel, one)
        sender.notify(channel, two)
        async with asyncio.timeout(10):
            while len(heard) < 2:
                await asyncio.sleep(0.02)
        assert heard == [one, two]

        # The listener's connection is killed by the server: it connects again and says so.
        admin = await asyncpg.connect(asyncpg_dsn(pg_url))
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
            )
            async with asyncio.timeout(15):
                while connects < 2 or not listener.connected.is_set():
                    await asyncio.sleep(0.05)
            await admin.execute("SELECT pg_notify($1, 'not a tenant')", channel)  # ignored
        finally:
            await admin.close()
        three = uuid.uuid4()
        sender.notify(channel, three)
        async with asyncio.timeout(10):
            while len(heard) < 3:
                await asyncio.sleep(0.02)
        assert heard == [one, two, three] and listener.heard == 3
    finally:
        await sender.stop()
        await listener.stop()
