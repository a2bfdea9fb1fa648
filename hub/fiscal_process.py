"""The fiscal pipeline in a child process of the hub: signing and submitting off the event loop of sales.

Building, signing and submitting a tenant's documents is CPU (XML, signatures, ORM) that, run in the hub's
own event loop, delays every till, kitchen screen and dashboard waiting on that loop for as long as a
step runs. On Postgres with cores to spare (``STOREHUB_FISCAL_RUNNER``), the hub therefore runs the pipeline
(``hub.fiscal.FiscalService``, the same code as in the hub or in ``storehub worker``) in a child process it
starts, and starts again when it dies (after 1 s, doubling to 30 s while it keeps dying at once). The two
talk through Postgres notices (``hub.pg_notices``), each naming a tenant:

* ``storehub_fiscal``: the hub committed documents (a sale, a credit note) or a fiscal setup change: the
  child wakes that tenant's ``FiscalActor``;
* ``storehub_outbox``: the child committed outbox rows (a document's new state): the hub's relay publishes
  them to its screens at once, instead of at its next sweep.

Nothing rides on a notice: the child also sweeps the tenants with work due at start, on every reconnection
and every 30 s, and the relay sweeps unpublished rows every 5 s. The child leaves when its parent does.
SQLite (the embedded default) keeps the pipeline in the hub's loop: it has no notices, and one writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import uuid
from collections.abc import Callable

import msgspec

from actors.runtime import ActorSystem
from hub.db import Database, WrittenEvent
from hub.fiscal import FiscalService
from hub.logs import configure_logging
from hub.pg_notices import PgNotices
from hub.settings import Settings, load_settings

log = logging.getLogger("hub.fiscal_process")

WAKE_CHANNEL = "storehub_fiscal"
OUTBOX_CHANNEL = "storehub_outbox"
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
STEADY_SECONDS = 60.0  # a child that ran this long was fine: the next restart waits the first delay again
STOP_GRACE_SECONDS = 10.0
PARENT_CHECK_SECONDS = 2.0


def settings_env(settings: Settings) -> dict[str, str]:
    """The child's environment: the hub's, with every setting as the hub has it (its secret key included,
    which may have been made up at start)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_") or k.startswith("STOREHUB_TEST_")
    }
    for name, value in msgspec.structs.asdict(settings).items():
        env[f"STOREHUB_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


class FiscalProcess:
    """The hub's side: starts the child, restarts it, wakes it, and hears what it wrote."""

    def __init__(self, settings: Settings, on_outbox: Callable[[uuid.UUID], None]) -> None:
        self.settings = settings
        self.notices = PgNotices(settings.database_url, {OUTBOX_CHANNEL: on_outbox})
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self, tenant_id: uuid.UUID) -> None:
        """The tenant may have fiscal work: tell the child (never blocks)."""
        self.notices.notify(WAKE_CHANNEL, tenant_id)

    async def start(self) -> None:
        await self.notices.start()
        self._task = asyncio.create_task(self._keep_running(), name="fiscal-process")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._end_child()
        await self.notices.stop()

    async def _keep_running(self) -> None:
        delay = RESTART_FIRST_SECONDS
        while not self._stopping:
            started = asyncio.get_running_loop().time()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hub.fiscal_process", env=settings_env(self.settings)
            )
            self.starts += 1
            log.info("fiscal pipeline process %d started", self.process.pid)
            code = await self.process.wait()
            if self._stopping:
                return
            if asyncio.get_running_loop().time() - started > STEADY_SECONDS:
                delay = RESTART_FIRST_SECONDS
            log.error("fiscal pipeline process exited with %s; starting it again in %.0f s", code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_SECONDS)

    async def _end_child(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class FiscalChild:
    """The child's side: the pipelines of every tenant, woken by the hub's notices."""

    def __init__(self, settings: Settings) -> None:
        self.db = Database(settings.database_url, pool_size=4)
        self.actors = ActorSystem(idle_after=settings.actor_idle_seconds)
        self.fiscal = FiscalService(settings, self.db, self.actors)
        self.notices = PgNotices(
            settings.database_url, {WAKE_CHANNEL: self.fiscal.wake}, on_connect=self._look_at_everything
        )
        self.db.after_outbox_commit = self._wrote

    async def _wrote(self, tenant_id: uuid.UUID, written: list[WrittenEvent]) -> None:
        self.notices.notify(OUTBOX_CHANNEL, tenant_id)

    async def _look_at_everything(self) -> None:
        """(Re)connected: notices sent meanwhile were lost; look at every tenant with work due."""
        try:
            await self.fiscal.sweep()
        except Exception:
            log.exception("fiscal sweep failed")

    async def run(self, stop: asyncio.Event) -> None:
        await self.actors.start()
        await self.fiscal.start()
        await self.notices.start()
        try:
            await stop.wait()
        finally:
            await self.notices.stop()
            await self.fiscal.stop()
            await self.actors.stop()
            await self.db.dispose()


async def _child_main() -> None:
    settings = load_settings()
    configure_logging(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()

    async def watch_parent() -> None:
        while True:  # orphans are adopted by another process: the parent's pid changes
            await asyncio.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent:
                break
        log.warning("the hub that started this fiscal process is gone; stopping")
        stop.set()

    watcher = asyncio.create_task(watch_parent())
    log.info("fiscal pipeline process running (hub %d)", parent)
    try:
        await FiscalChild(settings).run(stop)
    finally:
        watcher.cancel()


if __name__ == "__main__":
    asyncio.run(_child_main())
