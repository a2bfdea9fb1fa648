"""The Redis bus's side of its local listeners (see ``hub.events.redis_bus``): what each was given last,
and what it holds back until its position is known; and the state of each subscribed channel."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque

from hub.events.bus import Listener, StreamEvent

log = logging.getLogger("hub.events.redis_bus")


class Entry:
    """One listener: the last (epoch, seq) it was given, and its buffer while it is held."""

    __slots__ = ("closed", "epoch", "held", "listener", "seq")

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.epoch: str | None = None
        self.seq = 0
        self.held: list[StreamEvent] | None = []  # held from the start: live once its position is known
        self.closed = False

    def offer(self, event: StreamEvent) -> None:
        if self.held is not None:
            if not event.transient:  # only the latest transient matters, and it is not known to be new
                self.held.append(event)
            return
        if not event.transient:
            if event.epoch == self.epoch and event.seq <= self.seq:
                return
            self.epoch, self.seq = event.epoch, event.seq  # another epoch: numbering began again, take it
        try:
            self.listener(event)
        except Exception:
            log.exception("bus listener failed on %s %s #%d", event.stream, event.event, event.seq)

    def release(self, replay: list[StreamEvent], position: tuple[int, str] | None) -> None:
        """Go live from ``position``: ``replay`` first, then what was held that is newer, once each."""
        if self.closed or self.held is None:
            return
        held, self.held = self.held, None
        for event in replay:
            self.offer(event)
        if position is not None:
            seq, epoch = position
            if epoch != self.epoch or seq > self.seq:
                self.epoch, self.seq = epoch, seq
            held = [e for e in held if e.epoch == epoch]  # another epoch is older than the position read
        for event in held:
            self.offer(event)


class Channel:
    """A stream this node has listeners on, and its pub/sub channel's state on the current connection."""

    __slots__ = ("acks", "entries", "log_key", "name", "on_wire", "ready", "seq_key", "stream", "tenant_id")

    def __init__(self, tenant_id: uuid.UUID, stream: str, names: tuple[str, str, str]) -> None:
        self.tenant_id = tenant_id
        self.stream = stream
        self.name, self.seq_key, self.log_key = names
        self.entries: dict[int, Entry] = {}
        self.on_wire = False  # SUBSCRIBE sent on the current connection (and no UNSUBSCRIBE since)
        # Done once the latest SUBSCRIBE is confirmed (and only while it holds: an UNSUBSCRIBE or a lost
        # connection replaces it); ``acks`` matches confirmations to SUBSCRIBEs in the order they were sent.
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks: deque[asyncio.Future[None]] = deque()
