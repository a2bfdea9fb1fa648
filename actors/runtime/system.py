"""The registry of live actors, the passivation sweeper and the system's lifecycle."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from types import TracebackType

from actors.runtime.cell import ActorCell
from actors.runtime.errors import ActorDeadError, ActorError, ActorExistsError
from actors.runtime.props import Props
from actors.runtime.ref import ActorRef
from actors.runtime.stats import KindMetrics, RuntimeStats, kind_stats

logger = logging.getLogger("actors")


class _Phase(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


class ActorSystem:
    """Owns every live actor of one process.

    ``idle_after`` is the default passivation delay (``None``: never); ``Props.idle_after`` overrides it.
    ``on_escalate(address, exc)`` is called when an actor gives up after too many restarts.
    """

    def __init__(
        self,
        *,
        name: str = "storehub",
        idle_after: float | None = 600.0,
        on_escalate: Callable[[str, BaseException], None] | None = None,
        sweep_interval: float = 1.0,
    ) -> None:
        if idle_after is not None and idle_after <= 0:
            raise ValueError("idle_after must be > 0 or None")
        if sweep_interval <= 0:
            raise ValueError("sweep_interval must be > 0")
        self.name = name
        self.idle_after = idle_after
        self._on_escalate = on_escalate
        self._sweep_interval = sweep_interval
        self._phase = _Phase.NEW
        self._cells: dict[str, ActorCell] = {}  # only accepting cells
        # Latest retiring task per address; a new incarnation waits for it (see ActorCell._main).
        self._retiring: dict[str, asyncio.Task[None]] = {}
        self._kinds: dict[str, KindMetrics] = {}
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._phase is _Phase.RUNNING

    async def start(self) -> None:
        if self._phase is not _Phase.NEW:
            raise ActorError(f"actor system {self.name!r} cannot start twice")
        self._phase = _Phase.RUNNING
        self._sweeper = asyncio.create_task(self._sweep_forever(), name=f"{self.name} sweeper")

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a grace period, not a deadline
        """Stop every actor (pending asks fail, on_stop runs); after ``timeout`` stragglers are cancelled."""
        if self._phase is not _Phase.RUNNING:
            self._phase = _Phase.STOPPED
            return
        self._phase = _Phase.STOPPED
        if self._sweeper is not None:
            self._sweeper.cancel()
        for cell in list(self._cells.values()):
            cell.halt()
        tasks: set[asyncio.Task[None]] = set(self._retiring.values())
        if self._sweeper is not None:
            tasks.add(self._sweeper)
        current = asyncio.current_task()
        if current is not None:
            tasks.discard(current)  # an actor stopping the system must not wait for itself
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        if pending:
            logger.warning("actor system %s: %d actors did not stop in %ss", self.name, len(pending), timeout)
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=min(timeout, 1.0))

    async def __aenter__(self) -> ActorSystem:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def spawn(self, address: str, props: Props) -> ActorRef:
        if address in self._cells:
            raise ActorExistsError(f"actor {address!r} is already live", address=address)
        return self._spawn(address, props).ref

    def ref(self, address: str, props: Props) -> ActorRef:
        """The live actor at ``address``, or a new one built from ``props``."""
        cell = self._cells.get(address)
        return cell.ref if cell is not None else self._spawn(address, props).ref

    def lookup(self, address: str) -> ActorRef | None:
        cell = self._cells.get(address)
        return cell.ref if cell is not None else None

    async def stop_actor(self, address: str) -> None:
        cell = self._cells.get(address)
        if cell is not None:
            await cell.stop()
            return
        task = self._retiring.get(address)
        if task is not None and task is not asyncio.current_task():
            await asyncio.wait((task,))

    def stats(self) -> RuntimeStats:
        live: dict[str, list[int]] = {}  # kind -> [count, depth total, depth max]
        for cell in self._cells.values():
            depth = cell.depth
            row = live.get(cell.kind)
            if row is None:
                live[cell.kind] = [1, depth, depth]
            else:
                row[0] += 1
                row[1] += depth
                row[2] = max(row[2], depth)
        kinds = {}
        for kind in sorted(self._kinds.keys() | live.keys()):
            count, total, deepest = live.get(kind, (0, 0, 0))
            kinds[kind] = kind_stats(kind, self._kind_metrics(kind), count, total, deepest)
        return RuntimeStats(system=self.name, live_actors=len(self._cells), kinds=kinds)

    def __len__(self) -> int:
        return len(self._cells)

    def __repr__(self) -> str:
        return f"<ActorSystem {self.name!r} {self._phase.value} actors={len(self._cells)}>"

    # Internal interface of ActorCell and ActorRef.

    def _spawn(self, address: str, props: Props) -> ActorCell:
        if self._phase is _Phase.NEW:
            raise ActorError(f"actor system {self.name!r} is not started")
        if self._phase is _Phase.STOPPED:
            raise ActorDeadError(f"actor system {self.name!r} is stopped", address=address)
        predecessor = self._retiring.get(address)
        if predecessor is not None and predecessor.done():
            predecessor = None
        cell = self._cells[address] = ActorCell(self, address, props, predecessor)
        return cell

    def _activate(self, address: str, props: Props) -> ActorCell:
        cell = self._cells.get(address)
        return cell if cell is not None else self._spawn(address, props)

    def _retire(self, cell: ActorCell) -> None:
        if self._cells.get(cell.address) is cell:
            del self._cells[cell.address]
        self._retiring[cell.address] = cell.task
        cell.task.add_done_callback(lambda task: self._forget(cell.address, task))

    def _forget(self, address: str, task: asyncio.Task[None]) -> None:
        if self._retiring.get(address) is task:
            del self._retiring[address]

    def _kind_metrics(self, kind: str) -> KindMetrics:
        metrics = self._kinds.get(kind)
        if metrics is None:
            metrics = self._kinds[kind] = KindMetrics()
        return metrics

    def _escalated(self, address: str, exc: BaseException) -> None:
        if self._on_escalate is None:
            return
        try:
            self._on_escalate(address, exc)
        except Exception:
            logger.exception("on_escalate failed for %s", address)

    async def _sweep_forever(self) -> None:
        # One task for all actors: per-actor idle timers would cost 10,000 timer handles.
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                self._sweep(time.perf_counter())  # the clock cells stamp activity with
            except Exception:
                logger.exception("actor system %s: sweep failed", self.name)

    def _sweep(self, now: float) -> None:
        idle = [cell for cell in self._cells.values() if cell.idle(now)]
        for cell in idle:
            logger.debug("actor %s passivates", cell.address)
            cell.passivate()
