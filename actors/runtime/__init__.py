"""The asyncio actor runtime: bounded mailboxes, supervision with backoff, passivation, plain-data stats."""

from actors.runtime.actor import Actor
from actors.runtime.errors import ActorDeadError, ActorError, ActorExistsError, AskTimeout, MailboxFull
from actors.runtime.props import Props, SupervisionPolicy
from actors.runtime.ref import ActorRef
from actors.runtime.stats import HANDLING_TIME_BUCKETS, KindStats, RuntimeStats
from actors.runtime.system import ActorSystem

__all__ = [
    "HANDLING_TIME_BUCKETS",
    "Actor",
    "ActorDeadError",
    "ActorError",
    "ActorExistsError",
    "ActorRef",
    "ActorSystem",
    "AskTimeout",
    "KindStats",
    "MailboxFull",
    "Props",
    "RuntimeStats",
    "SupervisionPolicy",
]
