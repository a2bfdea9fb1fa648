"""The bus port: per-tenant streams with sequence numbers, a replay window and an epoch.

A stream is named inside a tenant (``tenant``, ``register:<uuid>``...); the bus keys it by tenant too, so no
subscriber can ever be handed another tenant's events. Each published event gets the next sequence number
of its stream. A subscriber that reconnects passes the last ``seq`` and ``epoch`` it saw: it gets the events
it missed from the replay window, or ``needs_resync`` when the window no longer covers them or the epoch
changed (the bus restarted and numbering began again), as Centrifugo does. A *transient* event (a scale's
weight, ten a second) goes to the stream's current listeners only: it takes no sequence number and is
never replayed, since only the latest one matters.

``LocalBus`` is the embedded implementation; ``hub.events.redis_bus.RedisBus`` follows the same contract.
Replayed events carry their payload as JSON (``msgspec.Raw``), as a Redis stream hands it back: the window
keeps bytes, not object graphs (a full window of 200 tills' carts was 400,000 lists for every full garbage
collection to walk). Live listeners get the payload object itself (from ``RedisBus``, which hands events
over through Redis, its JSON as plain values).
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from schema.wire import encode


class StreamEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # plain data, as schema.wire.Message
    tenant_id: uuid.UUID
    stream: str
    seq: int
    epoch: str
    event: str
    payload: Any = None
    event_id: str | None = None  # the outbox row id, for idempotent consumers
    transient: bool = False  # delivered live only: no sequence number of its own, never replayed


Listener = Callable[[StreamEvent], None]


@dataclass(slots=True)
class SubscribeResult:
    subscription: Subscription
    seq: int  # the stream's current position
    epoch: str
    missed: list[StreamEvent] = field(default_factory=list)
    needs_resync: bool = False


class Subscription(Protocol):
    def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(
        self,
        tenant_id: uuid.UUID,
        stream: str,
        event: str,
        payload: Any,
        *,
        event_id: str | None = None,
        transient: bool = False,
    ) -> StreamEvent: ...

    async def subscribe(
        self,
        tenant_id: uuid.UUID,
        stream: str,
        listener: Listener,
        *,
        since: int | None = None,
        epoch: str | None = None,
    ) -> SubscribeResult: ...

    async def position(self, tenant_id: uuid.UUID, stream: str) -> tuple[int, str]:
        """The stream's current ``seq`` and the epoch, without subscribing."""
        ...


class _Stream:
    __slots__ = ("history", "listeners", "seq")

    def __init__(self, window: int) -> None:
        self.seq = 0
        self.history: deque[StreamEvent] = deque(maxlen=window)
        self.listeners: dict[int, Listener] = {}


class _LocalSubscription:
    __slots__ = ("_key", "_stream")

    def __init__(self, stream: _Stream, key: int) -> None:
        self._stream = stream
        self._key = key

    def close(self) -> None:
        self._stream.listeners.pop(self._key, None)


class LocalBus:
    """In-process bus. Listeners are called synchronously and must not block (they enqueue)."""

    def __init__(self, *, window: int = 1000) -> None:
        self.window = window
        self.epoch = secrets.token_hex(4)
        self._streams: dict[tuple[uuid.UUID, str], _Stream] = {}
        self._next_key = 0
        self.published = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._streams.clear()

    def _stream(self, tenant_id: uuid.UUID, stream: str) -> _Stream:
        key = (tenant_id, stream)
        found = self._streams.get(key)
        if found is None:
            found = self._streams[key] = _Stream(self.window)
        return found

    async def publish(
        self,
        tenant_id: uuid.UUID,
        stream: str,
        event: str,
        payload: Any,
        *,
        event_id: str | None = None,
        transient: bool = False,
    ) -> StreamEvent:
        state = self._stream(tenant_id, stream)
        if not transient:
            state.seq += 1
        item = StreamEvent(
            tenant_id=tenant_id,
            stream=stream,
            seq=state.seq,
            epoch=self.epoch,
            event=event,
            payload=payload,
            event_id=event_id,
            transient=transient,
        )
        if not transient:  # a scale's 10 weights a second would push the cart's events out of the window
            state.history.append(msgspec.structs.replace(item, payload=msgspec.Raw(encode(payload))))
        self.published += 1
        for listener in list(state.listeners.values()):
            listener(item)
        return item

    async def subscribe(
        self,
        tenant_id: uuid.UUID,
        stream: str,
        listener: Listener,
        *,
        since: int | None = None,
        epoch: str | None = None,
    ) -> SubscribeResult:
        state = self._stream(tenant_id, stream)
        # Replay and registration happen without an await in between, so nothing falls in a gap.
        missed, needs_resync = _missed(state, since, epoch, self.epoch) if since is not None else ([], False)
        self._next_key += 1
        state.listeners[self._next_key] = listener
        return SubscribeResult(
            subscription=_LocalSubscription(state, self._next_key),
            seq=state.seq,
            epoch=self.epoch,
            missed=missed,
            needs_resync=needs_resync,
        )

    async def position(self, tenant_id: uuid.UUID, stream: str) -> tuple[int, str]:
        found = self._streams.get((tenant_id, stream))
        return (found.seq if found is not None else 0), self.epoch


def _missed(
    state: _Stream, since: int, epoch: str | None, current_epoch: str
) -> tuple[list[StreamEvent], bool]:
    if epoch != current_epoch or since > state.seq or since < 0:
        return [], True
    if since == state.seq:
        return [], False
    oldest = state.history[0].seq if state.history else state.seq + 1
    if since + 1 < oldest:
        return [], True
    return [e for e in state.history if e.seq > since], False
