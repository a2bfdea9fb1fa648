"""Postgres ``LISTEN``/``NOTIFY`` between the processes of one hub: short wake-ups, never data.

One asyncpg connection of its own (outside the SQLAlchemy pool: a listening connection must stay open)
listens to the channels given and sends notices. A notice's payload is a tenant id: "look at this
tenant's rows", which are in the database, so a notice lost (a dropped connection, a process not yet
listening) delays work and never loses it; ``on_connect`` runs after every (re)connection so the listener
can look at everything once. Sending never blocks the caller: notices are queued, sent in order by one
task, and coalesced per channel and tenant while a send is under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger("hub.pg_notices")

RECONNECT_SECONDS = 1.0

Listener = Callable[[uuid.UUID], None]


def asyncpg_dsn(database_url: str) -> str:
    """The plain ``postgresql://`` form of a SQLAlchemy URL, as asyncpg takes it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgNotices:
    def __init__(
        self,
        database_url: str,
        listeners: dict[str, Listener] | None = None,
        *,
        on_connect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.listeners = dict(listeners or {})
        self.on_connect = on_connect
        self.connected = asyncio.Event()
        self._queue: dict[tuple[str, uuid.UUID], None] = {}  # ordered, coalesced
        self._queued = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.heard = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-notices")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def notify(self, channel: str, tenant_id: uuid.UUID) -> None:
        """Queue a notice (never blocks; sent once connected)."""
        self._queue[(channel, tenant_id)] = None
        self._queued.set()

    async def _run(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(self.dsn, timeout=30)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("notices: cannot connect (%s); retrying", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            try:
                await self._serve(connection)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("notices: connection lost (%s); reconnecting", exc)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _serve(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _conn: lost.set())
        for channel, listener in self.listeners.items():
            await connection.add_listener(channel, self._receiver(listener))
        self.connected.set()
        if self.on_connect is not None:
            await self.on_connect()
        while not lost.is_set():
            if not self._queue:
                self._queued.clear()
                waits = [asyncio.ensure_future(self._queued.wait()), asyncio.ensure_future(lost.wait())]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for wait in waits:
                        wait.cancel()
                continue
            # Out of the queue before it is sent: one asked for meanwhile is about newer rows, and is sent
            # again after this one.
            key = next(iter(self._queue))
            del self._queue[key]
            try:
                await connection.execute("SELECT pg_notify($1, $2)", key[0], str(key[1]))
            except BaseException:
                self._queue[key] = None  # a lost connection sends it again
                raise
            self.sent += 1

    def _receiver(self, listener: Listener) -> Callable[[object, int, str, str], None]:
        def received(_connection: object, _pid: int, channel: str, payload: str) -> None:
            try:
                tenant_id = uuid.UUID(payload)
            except ValueError:
                log.warning("notices: %s carried %r, not a tenant id; ignored", channel, payload[:80])
                return
            self.heard += 1
            listener(tenant_id)

        return received
