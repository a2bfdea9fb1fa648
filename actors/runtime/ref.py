"""Handles callers hold to talk to an actor."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from actors.runtime.errors import ActorDeadError, AskTimeout

if TYPE_CHECKING:
    from actors.runtime.cell import ActorCell
    from actors.runtime.props import Props
    from actors.runtime.system import ActorSystem


class ActorRef:
    """Address of an actor plus the recipe to bring it back after passivation.

    A ref stays valid across restarts and passivation (the next message re-activates the actor). It is
    dead for good once its actor was stopped, escalated, or the system stopped; ``system.ref()`` then
    gives a fresh actor under the same address.
    """

    __slots__ = ("_cell", "_props", "_system", "address")

    def __init__(self, system: ActorSystem, address: str, props: Props, cell: ActorCell) -> None:
        self._system = system
        self.address = address
        self._props = props
        self._cell = cell

    @property
    def alive(self) -> bool:
        """Whether a message sent now would be delivered (possibly by re-activating the actor)."""
        cell = self._cell
        return cell.accepting or (cell.reactivatable and self._system.running)

    async def tell(self, message: object) -> None:
        """Send without waiting for a reply; waits while the mailbox is full."""
        await self._target().put((message, None))

    def tell_nowait(self, message: object) -> None:
        """Send without waiting at all; raises ``MailboxFull`` when the mailbox is full."""
        self._target().put_nowait((message, None))

    # A deadline per ask is the contract callers code against, hence the timeout parameter.
    async def ask(self, message: object, *, timeout: float) -> Any:  # noqa: ASYNC109
        """Send and wait for the reply; ``timeout`` bounds the wait for mailbox space too.

        Raises ``AskTimeout``, ``ActorDeadError``, or the ``StorehubError`` that ``receive`` raised.
        """
        cell = self._target()
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[object] = loop.create_future()
        envelope = (message, reply)
        remaining = timeout
        if not cell.offer(envelope):
            deadline = loop.time() + timeout
            try:
                async with asyncio.timeout_at(deadline):
                    await cell.put(envelope)
            except TimeoutError:
                reply.cancel()
                raise self._timed_out(cell, timeout) from None
            remaining = deadline - loop.time()
        # A bare timer rather than asyncio.timeout around the wait: ask is the hot path, and an expired
        # reply is also what tells the cell to skip the message (it must not run after we gave up).
        timer = loop.call_later(remaining, self._expire, cell, reply, timeout)
        try:
            return await reply
        finally:
            timer.cancel()

    def _expire(self, cell: ActorCell, reply: asyncio.Future[object], timeout: float) -> None:
        if not reply.done():
            reply.set_exception(self._timed_out(cell, timeout))

    def _timed_out(self, cell: ActorCell, timeout: float) -> AskTimeout:
        cell.metrics().asks_timed_out += 1
        return AskTimeout(f"actor {self.address!r} did not answer within {timeout}s", address=self.address)

    def _target(self) -> ActorCell:
        cell = self._cell
        if cell.accepting:
            return cell
        if cell.reactivatable:
            cell = self._cell = self._system._activate(self.address, self._props)
            return cell
        raise ActorDeadError(f"actor {self.address!r} is stopped", address=self.address)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActorRef):
            return NotImplemented
        return self._system is other._system and self.address == other.address

    def __hash__(self) -> int:
        return hash(self.address)

    def __repr__(self) -> str:
        return f"<ActorRef {self.address!r} alive={self.alive}>"
