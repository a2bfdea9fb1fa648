"""The command registry: wire ``type`` -> payload struct, who may send it, and its handler.

Domain modules register their commands with ``@command``; the gateway decodes a payload with the struct's
own reused decoder, checks the principal's kind and role, then calls the handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from schema.errors import PermissionDeniedError
from schema.models.identity import Role
from schema.wire import Message

if TYPE_CHECKING:
    from hub.gateway.connection import Connection

P = TypeVar("P", bound=Message)
# handler(connection, payload, command_id) -> a ServerFrame (sent as is), None (the handler sent its own
# frames), or any other value (sent as the payload of a ``reply``).
Handler = Callable[["Connection", Any, str | None], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    payload: type[Message]
    handler: Handler
    decoder: msgspec.json.Decoder[Any]
    role: Role | None  # None: any authenticated principal of an allowed kind
    kinds: frozenset[str]

    def authorize(self, conn: Connection) -> None:
        principal = conn.principal
        if principal.kind not in self.kinds:
            raise PermissionDeniedError(f"{principal.kind} principals cannot send {self.name}")
        if self.role is not None:
            principal.require(self.role)


COMMANDS: dict[str, CommandSpec] = {}


def command(
    type_: str,
    payload: type[P],
    *,
    role: Role | None = None,
    kinds: frozenset[str] = frozenset({"user"}),
) -> Callable[
    [Callable[[Connection, P, str | None], Awaitable[Any]]],
    Callable[[Connection, P, str | None], Awaitable[Any]],
]:
    def register(
        handler: Callable[[Connection, P, str | None], Awaitable[Any]],
    ) -> Callable[[Connection, P, str | None], Awaitable[Any]]:
        if type_ in COMMANDS:
            raise RuntimeError(f"command {type_!r} registered twice")
        COMMANDS[type_] = CommandSpec(
            name=type_,
            payload=payload,
            handler=handler,
            decoder=msgspec.json.Decoder(payload),
            role=role,
            kinds=kinds,
        )
        return handler

    return register
