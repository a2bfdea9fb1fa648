"""Commands every client has: ping, subscribe (with resume), unsubscribe."""

from __future__ import annotations

from typing import Annotated

import msgspec

from hub.gateway.commands import command
from hub.gateway.connection import Connection
from hub.gateway.errors import TooManySubscriptionsError
from hub.gateway.streams import authorize_stream
from schema.wire import Message, Pong, Resync, Subscribed

MAX_FOLLOWS = 32
ALL_KINDS = frozenset({"user", "device"})


class Ping(Message, frozen=True, kw_only=True):
    pass


class Subscribe(Message, frozen=True, kw_only=True):
    stream: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    since: Annotated[int, msgspec.Meta(ge=0)] | None = None
    epoch: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class Unsubscribe(Message, frozen=True, kw_only=True):
    stream: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


@command("ping", Ping, kinds=ALL_KINDS)
async def ping(conn: Connection, _: Ping, command_id: str | None) -> Pong:
    return Pong(id=command_id)


@command("subscribe", Subscribe, kinds=ALL_KINDS)
async def subscribe(conn: Connection, msg: Subscribe, command_id: str | None) -> None:
    await authorize_stream(conn.principal, msg.stream, conn.services)
    if msg.stream not in conn.follows and len(conn.follows) >= MAX_FOLLOWS:
        raise TooManySubscriptionsError(f"at most {MAX_FOLLOWS} streams per socket")
    follow = conn.start_follow(msg.stream)
    result = await conn.services.bus.subscribe(
        conn.principal.tenant_id,
        msg.stream,
        conn.listener(msg.stream),
        since=msg.since,
        epoch=msg.epoch,
    )
    follow.subscription = result.subscription
    if result.needs_resync:
        conn.send(Resync(id=command_id, stream=msg.stream, seq=result.seq, epoch=result.epoch))
    else:
        conn.send(
            Subscribed(
                id=command_id,
                stream=msg.stream,
                seq=result.seq,
                epoch=result.epoch,
                replayed=len(result.missed),
            )
        )
    start = msg.since if msg.since is not None and not result.needs_resync else result.seq
    conn.finish_replay(follow, result.missed, start, result.epoch)


@command("unsubscribe", Unsubscribe, kinds=ALL_KINDS)
async def unsubscribe(conn: Connection, msg: Unsubscribe, command_id: str | None) -> dict[str, bool]:
    return {"unsubscribed": conn.stop_follow(msg.stream)}
