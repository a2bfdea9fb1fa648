"""The bus port on Redis: hub nodes sharing one Redis see one set of streams (the contract: ``bus``).

Keys and channels, all under ``prefix``::

    bus:epoch                  the epoch: a random token, SET NX by the first script that finds it missing
    bus:<tenant>:<stream>:seq  the stream's sequence counter
    bus:<tenant>:<stream>:log  the replay window: a Redis stream trimmed to exactly ``window`` entries,
                               with ids ``<seq>-1``, so XRANGE from a sequence number needs no lookup
    bus:<tenant>:<stream>      the pub/sub channel

``publish`` is one round trip: a Lua script takes the next number, appends to the window, publishes and
answers the number and the epoch. Nothing is kept on disk: a Redis that restarts empty numbers from one
again, and the epoch key is gone with the rest, so a new epoch is drawn and every client that resumes gets a
resync. A transient event takes no number (it carries the stream's current one), skips the window and is
only published.

The message is the event as JSON (the script splices ``seq`` and ``epoch`` in front of the body the
publisher encoded). Live listeners get the payload as plain JSON values, on every node alike; replayed
events carry it as ``msgspec.Raw``, as ``LocalBus``'s window does.

Local listeners get events through the pub/sub echo, never straight from ``publish``: the script runs
atomically, so a channel's messages leave Redis in sequence order and every subscriber connection reads them
in that order. Delivering directly would race with other nodes' events on the same stream (this node's
seq 7 before another node's seq 6) and with concurrent publishes here (their replies come back on different
pooled connections), and would need a reordering buffer. The price is one pub/sub hop, and a listener is
called after ``publish`` returns rather than during it.

One pub/sub connection and one reader task per bus; listeners are called by the reader (or by a loop
callback just after ``subscribe`` returns, never before). A channel is subscribed when its first local
listener comes and unsubscribed when the last goes. ``subscribe`` waits for Redis to confirm the SUBSCRIBE,
then reads the position and the replay in one script; the listener is held meanwhile (its live events
buffered), then gets only live events newer than that position. Every listener remembers the last
(epoch, seq) it was given and never gets an older or equal one of that epoch again, so neither the replay
boundary nor a reconnect can hand it a duplicate.

Reconnecting: when the pub/sub connection drops, the reader reconnects with backoff, subscribes again to
every channel with listeners, and holds those listeners while it reads each stream from their last
position. If the window still covers what they missed in the same epoch, they get those events first and
nothing is lost. Otherwise (Redis came back empty, so a new epoch; or more than ``window`` events went by)
nothing stale is delivered: the listeners move to the current position, and their next event shows a new
epoch or a jump in ``seq``, which is how they can tell (the browser client reloads on a new epoch).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import uuid
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from hub.events.bus import Listener, StreamEvent, SubscribeResult
from hub.events.redis_bus_listeners import Channel, Entry
from hub.events.redis_bus_wire import PUBLISH_SCRIPT, READ_SCRIPT, Body, live_decoder, replayed, text
from schema.errors import UnavailableError
from schema.wire import encode

log = logging.getLogger(__name__)

_MIN_BACKOFF = 0.1
_MAX_BACKOFF = 5.0


class BusUnavailableError(UnavailableError):
    """The event bus (Redis) cannot be reached."""

    code = "bus_unavailable"


class _RedisSubscription:
    __slots__ = ("_bus", "_key", "_name")

    def __init__(self, bus: RedisBus, name: str, key: int) -> None:
        self._bus = bus
        self._name = name
        self._key = key

    def close(self) -> None:
        self._bus._close(self._name, self._key)


class RedisBus:
    """Bus on Redis. The caller owns ``redis`` (``stop`` leaves it open); listeners must not block."""

    keepalive_seconds = 30.0  # an idle pub/sub connection is PINGed after this long, dropped if still silent
    confirm_seconds = 10.0  # how long ``subscribe`` waits for Redis to confirm a SUBSCRIBE

    def __init__(self, redis: Redis, *, window: int = 1000, prefix: str = "storehub:") -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self.prefix = prefix
        self.published = 0
        self.connection_id: int | None = None  # the pub/sub connection's CLIENT ID, for CLIENT LIST / KILL
        self._redis = redis
        self._epoch_key = f"{prefix}bus:epoch"
        self._publish = redis.register_script(PUBLISH_SCRIPT)
        self._read_script = redis.register_script(READ_SCRIPT)
        self._channels: dict[str, Channel] = {}
        self._dirty: set[str] = set()
        self._conn: AbstractConnection | None = None
        self._lock = asyncio.Lock()  # one writer at a time on the pub/sub connection
        self._reader: asyncio.Task[None] | None = None
        self._syncing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_key = 0
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._reader is not None:
            return
        try:
            self._conn = await self._open()
        except (RedisError, OSError) as exc:
            # The node still starts (``/readyz`` says Redis failed, so a load balancer keeps sockets away);
            # the reader connects as soon as Redis answers, and publishing raises until then.
            log.warning("bus: cannot reach Redis (%s); connecting in the background", exc)
        self._reader = asyncio.create_task(self._run(), name="redis-bus-reader")

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        tasks = [t for t in (self._reader, self._syncing, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for state in self._channels.values():  # subscribers still waiting see ``_stopped`` and give up
            for entry in state.entries.values():
                entry.closed = True
            if not state.ready.done():
                state.ready.set_result(None)
        self._channels.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect(nowait=True)

    # -- the port -------------------------------------------------------------------------------------------

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
        channel, seq_key, log_key = self._names(tenant_id, stream)
        body = encode(
            Body(
                tenant_id=tenant_id,
                stream=stream,
                event=event,
                event_id=event_id,
                transient=transient,
                payload=payload,
            )
        )
        args = (secrets.token_hex(8), self.window, channel, body, "1" if transient else "0")
        try:
            seq, epoch = await self._publish(keys=[self._epoch_key, seq_key, log_key], args=args)
        except (RedisError, OSError) as exc:
            raise BusUnavailableError("cannot publish on the event bus") from exc
        self.published += 1
        return StreamEvent(
            tenant_id=tenant_id,
            stream=stream,
            seq=int(seq),
            epoch=text(epoch),
            event=event,
            payload=payload,
            event_id=event_id,
            transient=transient,
        )

    async def subscribe(
        self,
        tenant_id: uuid.UUID,
        stream: str,
        listener: Listener,
        *,
        since: int | None = None,
        epoch: str | None = None,
    ) -> SubscribeResult:
        if self._reader is None or self._stopped:
            raise BusUnavailableError("the event bus is not running")
        names = self._names(tenant_id, stream)
        state = self._channels.get(names[0])
        if state is None:
            state = self._channels[names[0]] = Channel(tenant_id, stream, names)
        entry = Entry(listener)
        self._next_key += 1
        state.entries[self._next_key] = entry
        subscription = _RedisSubscription(self, state.name, self._next_key)
        try:
            if not state.on_wire:
                self._dirty.add(state.name)
                await self._sync()
            await self._confirmed(state)
            seq, current, missed, needs_resync = await self._read(names, since, epoch, raw=True)
        except BaseException:
            subscription.close()
            raise
        # Live from ``seq`` on, but only once the caller has the result in hand.
        asyncio.get_running_loop().call_soon(entry.release, [], (seq, current))
        return SubscribeResult(
            subscription=subscription, seq=seq, epoch=current, missed=missed, needs_resync=needs_resync
        )

    async def position(self, tenant_id: uuid.UUID, stream: str) -> tuple[int, str]:
        seq, epoch, _, _ = await self._read(self._names(tenant_id, stream), None, None, raw=True)
        return seq, epoch

    # -- internals ------------------------------------------------------------------------------------------

    def _names(self, tenant_id: uuid.UUID, stream: str) -> tuple[str, str, str]:
        channel = f"{self.prefix}bus:{tenant_id}:{stream}"
        return channel, f"{channel}:seq", f"{channel}:log"

    async def _read(
        self, names: tuple[str, str, str], since: int | None, epoch: str | None, *, raw: bool
    ) -> tuple[int, str, list[StreamEvent], bool]:
        """Position, epoch, events after ``since`` (``raw``: payloads as ``msgspec.Raw``), needs_resync."""
        keys = [self._epoch_key, names[1], names[2]]
        args = (secrets.token_hex(8), "" if since is None else since, epoch or "")
        try:
            seq_, epoch_, entries = await self._read_script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise BusUnavailableError("cannot read the event bus") from exc
        seq, current = int(seq_), text(epoch_)
        if since is None:
            return seq, current, [], False
        if epoch != current or since > seq or since < 0:
            return seq, current, [], True
        if since == seq:
            return seq, current, [], False
        decode = replayed if raw else live_decoder.decode
        missed = [decode(fields[1]) for _id, fields in entries]
        if len(missed) != seq - since or missed[0].seq != since + 1:  # trimmed past ``since``
            return seq, current, [], True
        return seq, current, missed, False

    async def _confirmed(self, state: Channel) -> None:
        try:
            async with asyncio.timeout(self.confirm_seconds):
                await asyncio.shield(state.ready)
        except TimeoutError:
            raise BusUnavailableError("Redis did not confirm the subscription") from None
        if self._stopped:
            raise BusUnavailableError("the event bus stopped")

    def _close(self, name: str, key: int) -> None:
        state = self._channels.get(name)
        entry = state.entries.pop(key, None) if state is not None else None
        if state is None or entry is None:
            return
        entry.closed = True
        if not state.entries and not self._stopped:
            self._dirty.add(name)
            if self._syncing is None or self._syncing.done():
                self._syncing = asyncio.get_running_loop().create_task(self._sync_all())

    async def _sync_all(self) -> None:
        while self._dirty:
            await self._sync()

    async def _sync(self) -> None:
        """Bring the connection's subscriptions in line with the listeners of the channels marked dirty."""
        async with self._lock:
            dirty, self._dirty = self._dirty, set()
            conn = self._conn
            if conn is None or not conn.is_connected:
                return  # the reader subscribes every channel with listeners when it reconnects
            subscribe: list[str] = []
            unsubscribe: list[str] = []
            for name in dirty:
                state = self._channels.get(name)
                if state is None:
                    continue
                if state.entries and not state.on_wire:
                    state.on_wire = True
                    if state.ready.done() or state.ready in state.acks:  # an earlier SUBSCRIBE's answer
                        state.ready = asyncio.get_running_loop().create_future()
                    state.acks.append(state.ready)
                    subscribe.append(name)
                elif not state.entries and state.on_wire:
                    state.on_wire = False
                    state.ready = asyncio.get_running_loop().create_future()  # done: subscribed, only
                    unsubscribe.append(name)
                elif not state.entries and not state.acks:
                    del self._channels[name]
            try:  # in this order: a SUBSCRIBE's confirmation then says the UNSUBSCRIBEs before it are done
                if unsubscribe:
                    await conn.send_command("UNSUBSCRIBE", *unsubscribe, check_health=False)
                if subscribe:
                    await conn.send_command("SUBSCRIBE", *subscribe, check_health=False)
            except (RedisError, OSError):
                log.debug("bus: (un)subscribe failed; the reader reconnects", exc_info=True)

    async def _open(self) -> AbstractConnection:
        conn: AbstractConnection = self._redis.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.connect()  # type: ignore[no-untyped-call]
            await conn.send_command("CLIENT", "ID", check_health=False)
            answer: int = await conn.read_response()
            self.connection_id = int(answer)
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        return conn

    async def _run(self) -> None:
        delay = _MIN_BACKOFF
        while True:
            conn = self._conn
            try:
                if conn is None:
                    conn = await self._reconnect()
                    delay = _MIN_BACKOFF
                await self._listen(conn)
            except (RedisError, OSError) as exc:
                log.warning("bus: pub/sub connection to Redis lost (%s); reconnecting in %.1fs", exc, delay)
            except Exception:
                log.exception("bus: pub/sub reader failed; reconnecting in %.1fs", delay)
            await self._drop()
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, _MAX_BACKOFF)

    async def _listen(self, conn: AbstractConnection) -> None:
        pinged = False
        while True:
            message = await conn.read_response(timeout=self.keepalive_seconds, push_request=True)
            if message is None:  # quiet for a while: make sure the connection is still there
                if pinged:
                    raise ConnectionError("Redis did not answer PING on the pub/sub connection")
                async with self._lock:
                    await conn.send_command("PING", check_health=False)
                pinged = True
                continue
            pinged = False
            self._handle(message)

    def _handle(self, message: Any) -> None:
        if not isinstance(message, list) or len(message) < 3:
            return  # PING's answer
        kind, name = text(message[0]), text(message[1])
        state = self._channels.get(name)
        if state is None:
            return
        if kind == "message":
            try:
                event = live_decoder.decode(message[2])
            except msgspec.DecodeError:
                log.exception("bus: undecodable message on %s", name)
                return
            if event.tenant_id != state.tenant_id or event.stream != state.stream:
                log.error("bus: message on %s is of %s %s", name, event.tenant_id, event.stream)
                return
            for entry in list(state.entries.values()):
                entry.offer(event)
        elif kind == "subscribe":
            if state.acks:
                ack = state.acks.popleft()
                if not ack.done():
                    ack.set_result(None)
        elif kind == "unsubscribe" and not state.entries and not state.on_wire and not state.acks:
            del self._channels[name]

    async def _drop(self) -> None:
        """Forget the lost connection: nothing is subscribed now, every channel waits for a new SUBSCRIBE."""
        async with self._lock:
            conn, self._conn = self._conn, None
            for name, state in list(self._channels.items()):
                state.on_wire = False
                state.acks.clear()
                if state.ready.done():
                    state.ready = asyncio.get_running_loop().create_future()
                if not state.entries:
                    del self._channels[name]
        if conn is not None:
            await conn.disconnect(nowait=True)

    async def _reconnect(self) -> AbstractConnection:
        conn = await self._open()
        async with self._lock:
            self._conn = conn
            self._dirty.update(self._channels)
        # Listeners that were live are held (nothing read from the new connection yet) and resumed from
        # where they were; those still subscribing carry on with their own ``subscribe``.
        resumes: list[tuple[Channel, list[Entry]]] = []
        for state in self._channels.values():
            live = [e for e in state.entries.values() if e.held is None]
            for entry in live:
                entry.held = []
            if live:
                resumes.append((state, live))
        await self._sync()
        log.info("bus: reconnected to Redis; resuming %d streams", len(resumes))
        for state, entries in resumes:
            task = asyncio.get_running_loop().create_task(self._resume(state, entries))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return conn

    async def _resume(self, state: Channel, entries: list[Entry]) -> None:
        replay: list[StreamEvent] = []
        position: tuple[int, str] | None = None
        try:
            await self._confirmed(state)
            epochs = {e.epoch for e in entries}
            since = min(e.seq for e in entries) if len(epochs) == 1 else None
            names = (state.name, state.seq_key, state.log_key)
            seq, epoch, replay, lost = await self._read(names, since, epochs.pop(), raw=False)
            position = (seq, epoch)
            if lost:
                log.warning("bus: events on %s lost while disconnected (now %s #%d)", state.name, epoch, seq)
        except Exception:  # the listeners go live where they are; a jump in seq will show any gap
            log.warning("bus: could not resume %s after reconnecting", state.name, exc_info=True)
        for entry in entries:
            entry.release(replay, position)
