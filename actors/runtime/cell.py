"""One live actor: its mailbox, the loop that feeds the instance, and supervision of that instance."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, TypeAlias

from actors.runtime.errors import ActorDeadError, MailboxFull
from actors.runtime.props import SYSTEM_DEFAULT, Props
from actors.runtime.ref import ActorRef
from actors.runtime.stats import KindMetrics
from schema.errors import StorehubError

if TYPE_CHECKING:
    from actors.runtime.actor import Actor
    from actors.runtime.system import ActorSystem

logger = logging.getLogger("actors")

# (message, reply future); no future for tell.
Envelope: TypeAlias = "tuple[object, asyncio.Future[object] | None]"


class Fate(enum.Enum):
    PASSIVATED = "passivated"  # idle; the next message through a ref starts a new cell
    STOPPED = "stopped"
    ESCALATED = "escalated"


class ActorCell:
    """Lives from activation until passivation or stop; restarts replace the instance, not the cell.

    The mailbox belongs to the cell, so messages queued behind a crash are handled by the next instance.
    """

    __slots__ = (
        "_blocked_puts",
        "_current",
        "_instance",
        "_kind",
        "_metrics",
        "_predecessor",
        "_queue",
        "_restarts",
        "_retired",
        "_waiting",
        "address",
        "fate",
        "idle_after",
        "last_activity",
        "props",
        "ref",
        "system",
        "task",
    )

    def __init__(
        self, system: ActorSystem, address: str, props: Props, predecessor: asyncio.Task[None] | None
    ) -> None:
        self.system = system
        self.address = address
        self.props = props
        self.idle_after = system.idle_after if props.idle_after is SYSTEM_DEFAULT else props.idle_after
        self.ref = ActorRef(system, address, props, self)
        self.fate: Fate | None = None
        self.last_activity = time.perf_counter()  # the clock the sweeper reads too
        self._queue: asyncio.Queue[Envelope] = asyncio.Queue(props.mailbox_size)
        self._kind = props.kind
        self._metrics: KindMetrics | None = None
        self._instance: Actor | None = None  # set only once on_start succeeded: it decides on_stop
        self._current: Envelope | None = None
        self._waiting = False
        self._blocked_puts = 0
        self._restarts: deque[float] | None = None  # lazily: most of 10,000 actors never crash
        self._retired = False
        self._predecessor = predecessor
        self.task = asyncio.get_running_loop().create_task(self._main(), name=f"actor {address}")

    @property
    def accepting(self) -> bool:
        return self.fate is None

    @property
    def reactivatable(self) -> bool:
        return self.fate is Fate.PASSIVATED

    @property
    def kind(self) -> str:
        return self._kind or "unknown"

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def metrics(self) -> KindMetrics:
        if self._metrics is None:
            self._metrics = self.system._kind_metrics(self.kind)
        return self._metrics

    def put_nowait(self, envelope: Envelope) -> None:
        try:
            self._queue.put_nowait(envelope)
        except asyncio.QueueFull:
            raise MailboxFull(f"mailbox of actor {self.address!r} is full", address=self.address) from None

    def offer(self, envelope: Envelope) -> bool:
        queue = self._queue
        if queue.full():
            return False
        queue.put_nowait(envelope)
        return True

    async def put(self, envelope: Envelope) -> None:
        queue = self._queue
        if not queue.full():
            queue.put_nowait(envelope)
            return
        # Counted so the sweeper never passivates an actor that has senders waiting for room.
        self._blocked_puts += 1
        try:
            await queue.put(envelope)
        finally:
            self._blocked_puts -= 1
        if self.fate is not None:
            # Stopped while we waited: nobody will read this envelope, so do not let it pass as sent.
            if envelope[1] is not None:
                envelope[1].cancel()
            raise ActorDeadError(f"actor {self.address!r} is {self.fate.value}", address=self.address)

    def idle(self, now: float) -> bool:
        return (
            self._waiting
            and self.idle_after is not None
            and now - self.last_activity >= self.idle_after
            and self._queue.empty()
            and self._blocked_puts == 0
            and self.fate is None
        )

    def passivate(self) -> None:
        """Only for an idle cell: with an empty mailbox and no blocked senders no message can be lost."""
        self.fate = Fate.PASSIVATED
        self._retire()
        self.task.cancel()

    def halt(self) -> None:
        """Stop without waiting: fail every pending ask now, interrupt the message in hand."""
        if self.fate is not None:
            return
        self.fate = Fate.STOPPED
        self._retire()
        self._drain()
        if asyncio.current_task() is self.task:
            return  # stopping itself: the message in hand completes, then the loop exits
        self._fail(self._current, "stopped", None)
        self.task.cancel()

    async def stop(self) -> None:
        self.halt()
        if asyncio.current_task() is not self.task:
            await asyncio.wait((self.task,))

    async def _main(self) -> None:
        try:
            if self._predecessor is not None:
                # The previous incarnation may still be saving state in on_stop; on_start must see it.
                await asyncio.wait((self._predecessor,))
            while self.fate is None:
                crash = await self._incarnate()
                if crash is None or not await self._recover(crash):
                    break
        except Exception:
            logger.exception("actor runtime failed for %s", self.address)
        finally:
            await self._finish()

    async def _incarnate(self) -> Exception | None:
        try:
            instance = self.props.factory()
            if self._kind is None:
                self._kind, self._metrics = type(instance).__name__, None
            instance.address, instance.system, instance.ref = self.address, self.system, self.ref
            await instance.on_start()
        except Exception as exc:
            logger.error("actor %s crashed in on_start", self.address, exc_info=exc)
            return exc
        self._instance = instance
        crash = await self._serve(instance)
        if crash is not None:
            self._instance = None  # a crashed instance gets no on_stop
        return crash

    async def _serve(self, instance: Actor) -> Exception | None:
        queue = self._queue
        metrics = self.metrics()
        while self.fate is None:
            if queue.empty():
                self._waiting = True
                try:
                    envelope = await queue.get()
                finally:
                    self._waiting = False
            else:
                envelope = queue.get_nowait()
            message, reply = envelope
            if reply is not None and reply.done():
                continue  # the asker timed out or was cancelled: running it late could surprise them
            self._current = envelope
            started = time.perf_counter()
            try:
                result = await instance.receive(message)
            except StorehubError as exc:
                if reply is None:
                    logger.warning("actor %s refused told %s: %r", self.address, type(message).__name__, exc)
                elif not reply.done():
                    reply.set_exception(exc)
            except Exception as exc:
                logger.error(
                    "actor %s crashed handling %s", self.address, type(message).__name__, exc_info=exc
                )
                self._fail(envelope, "crashed handling this message", exc)
                return exc
            except BaseException:
                self._fail(envelope, "stopped", None)
                raise
            else:
                if reply is not None and not reply.done():
                    reply.set_result(result)
            finally:
                self._current = None
                self.last_activity = finished = time.perf_counter()
                metrics.observe(finished - started)
        return None

    async def _recover(self, crash: Exception) -> bool:
        policy = self.props.policy
        now = time.monotonic()
        window = self._restarts
        if window is None:
            window = self._restarts = deque()
        while window and now - window[0] > policy.within_seconds:
            window.popleft()
        if len(window) >= policy.max_restarts:
            self._escalate(crash)
            return False
        window.append(now)
        self.metrics().restarts += 1
        delay = policy.backoff(len(window) - 1)
        logger.warning(
            "actor %s restarts in %.3fs (restart %d in the window)", self.address, delay, len(window)
        )
        await asyncio.sleep(delay)
        return self.fate is None

    def _escalate(self, crash: Exception) -> None:
        self.fate = Fate.ESCALATED
        self._retire()
        self._drain()
        self.metrics().escalations += 1
        logger.error("actor %s escalates after too many restarts", self.address, exc_info=crash)
        self.system._escalated(self.address, crash)

    async def _finish(self) -> None:
        if self.fate is None:
            self.fate = Fate.STOPPED
        self._retire()
        self._fail(self._current, self.fate.value, None)
        self._drain()
        instance, self._instance = self._instance, None
        if instance is not None:
            try:
                await instance.on_stop()
            except Exception:
                logger.exception("actor %s failed in on_stop", self.address)
        if self.fate is Fate.PASSIVATED:
            self.metrics().passivations += 1
        if self._predecessor is not None:
            # Successors wait for this task only, so it must outlive every earlier incarnation too.
            await asyncio.wait((self._predecessor,))

    def _retire(self) -> None:
        if not self._retired:
            self._retired = True
            self.system._retire(self)

    def _drain(self) -> None:
        queue, reason, told = self._queue, self.fate.value if self.fate else "stopped", 0
        # Each get wakes a blocked sender; it sees the fate once it has put and fails by itself.
        while not queue.empty():
            envelope = queue.get_nowait()
            told += envelope[1] is None
            self._fail(envelope, reason, None)
        if told:
            logger.warning("actor %s %s: dropped %d told messages", self.address, reason, told)

    def _fail(self, envelope: Envelope | None, reason: str, cause: BaseException | None) -> None:
        if envelope is None:
            return
        reply = envelope[1]
        if reply is not None and not reply.done():
            error = ActorDeadError(f"actor {self.address!r} {reason}", address=self.address)
            error.__cause__ = cause
            reply.set_exception(error)
