"""One authenticated socket: its outgoing queue, its subscriptions and the order of what it is sent.

Frames leave through a bounded queue drained by one writer task, so a bus listener never awaits. A client
too slow to drain its queue is disconnected (1013) and resumes from its last sequence number on reconnect;
it can never make the hub hold memory without bound.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actors.runtime import ActorRef
from hub.auth.principal import Principal
from hub.events.bus import Listener, StreamEvent, Subscription
from hub.gateway.direct import DirectWriter
from schema.wire import EventFrame, LiveFrame, ServerFrame, encode

if TYPE_CHECKING:
    from hub.services import Services

log = logging.getLogger("hub.gateway")

CLOSE_TOO_SLOW = 1013


@dataclass(slots=True)
class StreamFollow:
    """A subscription; events arriving while its replay is being queued wait in ``pending``."""

    subscription: Subscription | None = None
    ready: bool = False
    last_seq: int = 0
    epoch: str = ""  # of last_seq: a new epoch (the bus restarted empty) numbers from 1 again
    pending: list[StreamEvent] = field(default_factory=list)


class Connection:
    def __init__(self, principal: Principal, services: Services, *, queue_size: int) -> None:
        self.principal = principal
        self.services = services
        self.outgoing: asyncio.Queue[str | None] = asyncio.Queue(maxsize=queue_size)
        self.follows: dict[str, StreamFollow] = {}
        self.too_slow = asyncio.Event()
        self.registers: set[uuid.UUID] = set()  # registers this principal was found allowed to drive
        # Device agents: the devices accepted on this socket by agent.hello, and their actors.
        self.agent_devices: dict[uuid.UUID, ActorRef] = {}
        self.on_close: list[Callable[[], None]] = []
        self.close_code: tuple[int, str] | None = None  # set by disconnect(): the writer closes with it
        self.direct: DirectWriter | None = None  # frames straight to the transport, when the server allows
        self.writing = False  # the writer task is sending a frame it took from the queue

    def send(self, frame: ServerFrame | str) -> None:
        """Queue a frame (or its JSON text); if the client cannot keep up, mark it for disconnection instead
        of blocking."""
        if self.too_slow.is_set():
            return
        data = frame if isinstance(frame, str) else encode(frame).decode()
        direct = self.direct
        # Straight to the transport when nothing queued could be overtaken (hub.gateway.direct).
        if direct is not None and not self.writing and self.outgoing.empty() and direct.write(data):
            if direct.backed_up():
                self._too_slow()
                self.outgoing.put_nowait(None)  # wake the writer: it closes the socket (1013)
            return
        try:
            self.outgoing.put_nowait(data)
        except asyncio.QueueFull:
            self._too_slow()

    def _too_slow(self) -> None:
        log.warning("socket of tenant %s too slow; disconnecting", self.principal.tenant_id)
        self.too_slow.set()

    def listener(self, stream: str) -> Listener:
        def deliver(event: StreamEvent) -> None:
            follow = self.follows.get(stream)
            if follow is None:
                return
            if event.transient:
                if follow.ready:  # never replayed, so nothing to order it against
                    self.send(_live_text(event))
            elif not follow.ready:
                follow.pending.append(event)
            elif event.seq > follow.last_seq or event.epoch != follow.epoch:
                follow.last_seq, follow.epoch = event.seq, event.epoch
                self.send(_event_text(event))

        return deliver

    def start_follow(self, stream: str) -> StreamFollow:
        self.stop_follow(stream)
        follow = self.follows[stream] = StreamFollow()
        return follow

    def finish_replay(self, follow: StreamFollow, replay: list[StreamEvent], start: int, epoch: str) -> None:
        """Queue the missed events, then whatever arrived meanwhile, each exactly once and in order; an event
        of another epoch than the subscription's always goes out: the client sees the new epoch, resyncs."""
        follow.last_seq, follow.epoch = start, epoch
        for event in [*replay, *follow.pending]:
            if event.seq > follow.last_seq or event.epoch != follow.epoch:
                follow.last_seq, follow.epoch = event.seq, event.epoch
                self.send(_event_text(event))
        follow.pending.clear()
        follow.ready = True

    def stop_follow(self, stream: str) -> bool:
        follow = self.follows.pop(stream, None)
        if follow is None:
            return False
        if follow.subscription is not None:
            follow.subscription.close()
        return True

    def disconnect(self, code: int, reason: str) -> None:
        """Close the socket from the hub's side (a revoked device): the writer sends the close frame."""
        self.close_code = (code, reason)
        while not self.outgoing.empty():  # nothing queued matters any more, and None must fit
            self.outgoing.get_nowait()
        self.outgoing.put_nowait(None)

    def close(self) -> None:
        for stream in list(self.follows):
            self.stop_follow(stream)
        hooks, self.on_close = self.on_close, []
        for hook in hooks:
            try:
                hook()
            except Exception:
                log.exception("a socket close hook failed")


# The frame of one event is the same for every socket following its stream: encode it once, not once per
# socket (a sale reaches hundreds of dashboards). Keyed by the event object; the bus hands every listener the
# same one, synchronously, so a small cache of the latest events is enough.
_TEXT_CACHE: OrderedDict[int, tuple[StreamEvent, str]] = OrderedDict()
_TEXT_CACHE_SIZE = 64


def _cached(event: StreamEvent, make: Callable[[StreamEvent], ServerFrame]) -> str:
    key = id(event)
    hit = _TEXT_CACHE.get(key)
    if hit is not None and hit[0] is event:  # same object, not a recycled id
        return hit[1]
    text = encode(make(event)).decode()
    _TEXT_CACHE[key] = (event, text)
    if len(_TEXT_CACHE) > _TEXT_CACHE_SIZE:
        _TEXT_CACHE.popitem(last=False)
    return text


def _event_text(event: StreamEvent) -> str:
    return _cached(
        event,
        lambda e: EventFrame(stream=e.stream, seq=e.seq, epoch=e.epoch, event=e.event, payload=e.payload),
    )


def _live_text(event: StreamEvent) -> str:
    return _cached(event, lambda e: LiveFrame(stream=e.stream, event=e.event, payload=e.payload))
