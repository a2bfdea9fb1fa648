"""Errors raised by the actor runtime, all under the one Storehub error root."""

from __future__ import annotations

from schema.errors import ConflictError, StorehubError


class ActorError(StorehubError):
    """The actor runtime failed."""

    code = "actor_error"
    status = 500


class ActorDeadError(ActorError):
    """The actor stopped, escalated or crashed before it could answer."""

    code = "actor_dead"
    status = 503


class AskTimeout(ActorError):
    """The actor did not answer in time."""

    code = "timeout"
    status = 504


class MailboxFull(ActorError):
    """The actor's mailbox is full; try again later."""

    code = "busy"
    status = 503


class ActorExistsError(ActorError, ConflictError):
    """An actor with this address is already live."""

    # Explicit, or the MRO would pick ActorError's code for what is a conflict.
    code = "conflict"
    status = 409
