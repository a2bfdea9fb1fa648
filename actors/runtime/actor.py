"""The base class every domain actor subclasses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors.runtime.ref import ActorRef
    from actors.runtime.system import ActorSystem


class Actor:
    """One instance handles one message at a time; the runtime replaces it after a crash.

    State that must survive a crash or passivation belongs in the database: ``on_start`` runs at the first
    start and after every restart or reactivation, so it is where state is loaded. An actor must not ask
    itself (or a chain leading back to itself): it handles one message at a time, so that ask can only
    time out.
    """

    # Set by the runtime before on_start.
    address: str
    system: ActorSystem
    ref: ActorRef

    async def on_start(self) -> None:
        """Load state. Raising here counts as a crash."""

    async def receive(self, message: object) -> object:
        """Handle one message; the return value answers an ask.

        Raise a ``StorehubError`` subclass to refuse the message (the asker gets it, the actor keeps its
        state); any other exception is a crash and the instance is replaced.
        """
        raise NotImplementedError(f"{type(self).__name__} does not handle {type(message).__name__}")

    async def on_stop(self) -> None:
        """Release resources on stop or passivation. Not called after a crash."""
