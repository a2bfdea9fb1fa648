"""DashboardActor: one per tenant, the owner dashboard's live figures, kept from the tenant's events.

* ``on_start`` first follows the ``tenant`` stream (events queue in the mailbox from then on), then rebuilds
  today's state from the database with a few aggregate queries (``actors.dashboard_load``), then handles
  the queued events: those the rebuild already counted are skipped by sale id (``actors.dashboard_totals``).
  Nothing committed in between is lost, nothing is counted twice.
* Each event changes a few numbers; a sale event is first enriched with what its payload lacks (cost, tax
  classes, categories, current stock) by one query of that sale. Nothing recomputes the day per sale.
* Changes go out as ``DashboardChanged`` on the same ``tenant`` stream, coalesced: the first change after a
  quiet spell at once, then at most one every ``min_interval`` (0.2 s) with every section that changed
  meanwhile. The actor's own events are not consumed again (the listener keeps only the events it applies).
* ``dashboard.get`` (``GetDashboard``) answers the snapshot with the stream position it holds (the last
  ``DashboardChanged`` published or event applied): a client applies the later events on top of it.
* With several hub nodes, each runs the tenant's actor for its own screens, but only the holder of the
  tenant's publisher lease (``hub.events.publisher_lease``) publishes ``DashboardChanged``: one frame per
  change on every screen, whichever node it is on. A rebuild reads the status of a device whose agent is
  connected to another node from the status that node shares (``hub.device_presence``), and every
  ``refresh_seconds`` the devices shown connected are looked up again: a node killed without a word
  publishes no ``DeviceStatusChanged``, its shared statuses only expire.
* At midnight in the tenant's time zone (a timer, and a check before each message) it rebuilds for the
  new day and publishes ``reset``, as it does after every start (what a previous instance had not yet
  published is otherwise lost to the clients). A mailbox overflow (events dropped) also rebuilds.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from actors.dashboard_load import count_event, load_state, show_status
from actors.dashboard_totals import (
    KITCHEN_EVENT,
    SALE_EVENTS,
    changes,
    day_bounds,
    local_day,
    snapshot,
)
from actors.device import GetDeviceStatus, device_address
from actors.runtime import Actor, ActorDeadError, ActorRef, ActorSystem, MailboxFull, Props
from hub.db import Database
from hub.device_presence import DevicePresence
from hub.events.bus import Bus, Listener, StreamEvent, SubscribeResult, Subscription
from hub.events.publisher_lease import Claim, PublisherLease, SoleNode
from schema.errors import StorehubError, ValidationError
from schema.ids import utc_iso
from schema.messages.dashboard import GetDashboard
from schema.messages.devices import DeviceStatusView

log = logging.getLogger("actors.dashboard")

STREAM = "tenant"
EVENT = "DashboardChanged"
# The events that move the dashboard; everything else on the stream (our own DashboardChanged too) is
# dropped by the listener, before it costs a mailbox slot.
FOLLOWED = SALE_EVENTS | {
    "FiscalDocumentChanged",
    "LowStock",
    "StockReceived",
    "CashSessionOpened",
    "CashSessionClosed",
    "DeviceStatusChanged",
    "PrintJobChanged",
    KITCHEN_EVENT,
}
MAILBOX = 10_000


def dashboard_address(tenant_id: uuid.UUID) -> str:
    return f"dashboard/{tenant_id}"


@dataclass(frozen=True, slots=True)
class _Event:
    event: StreamEvent


@dataclass(frozen=True, slots=True)
class _Flush:
    pass


@dataclass(frozen=True, slots=True)
class _Sweep:
    """Time to look up the devices shown connected again (several nodes)."""


@dataclass(frozen=True, slots=True)
class _Tick:
    """Midnight in the tenant's zone (or a moment after): time to roll over."""


class _Follower:
    """The bus listener: called synchronously inside ``publish``, so it only enqueues, never waits."""

    def __init__(self, ref: ActorRef) -> None:
        self.ref = ref
        self.overflowed = False
        self.subscription: Subscription | None = None

    def __call__(self, event: StreamEvent) -> None:
        if event.event not in FOLLOWED or event.transient:
            return
        try:
            self.ref.tell_nowait(_Event(event))
        except MailboxFull:
            self.overflowed = True  # the actor rebuilds from the database once it catches up
        except ActorDeadError:
            self.close()

    def close(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None


class Dashboards:
    """The per-tenant DashboardActors (started by the first ``dashboard.get``, kept while the hub runs)
    and what they share: the database, the bus, the clock and the devices' live state."""

    def __init__(
        self,
        actors: ActorSystem,
        db: Database,
        bus: Bus,
        *,
        min_interval: float = 0.2,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: PublisherLease | None = None,
        presence: DevicePresence | None = None,
    ) -> None:
        self.actors = actors
        self.db = db
        self.bus = bus
        self.lease: PublisherLease = lease or SoleNode()  # which node speaks for a tenant (several nodes)
        self.presence = presence  # the devices connected to other nodes (several nodes)
        self.min_interval = min_interval
        self.clock = clock
        self._followers: dict[uuid.UUID, _Follower] = {}

    def ref(self, tenant_id: uuid.UUID) -> ActorRef:
        return self.actors.ref(
            dashboard_address(tenant_id),
            Props(
                lambda: DashboardActor(tenant_id, self),
                kind="DashboardActor",
                idle_after=None,
                mailbox_size=MAILBOX,
            ),
        )

    async def follow(self, tenant_id: uuid.UUID, follower: _Follower) -> SubscribeResult:
        """Subscribe ``follower``; a previous instance's (a crash skips ``on_stop``) is closed first."""
        earlier = self._followers.pop(tenant_id, None)
        if earlier is not None:
            earlier.close()
        listener: Listener = follower
        result = await self.bus.subscribe(tenant_id, STREAM, listener)
        follower.subscription = result.subscription
        self._followers[tenant_id] = follower
        return result

    def unfollow(self, tenant_id: uuid.UUID, follower: _Follower) -> None:
        follower.close()
        if self._followers.get(tenant_id) is follower:
            del self._followers[tenant_id]

    async def device_status(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceStatusView | None:
        """A device's state from its actor here if its agent is connected here, else from the status
        another node shares; None: its agent is connected nowhere (as far as this node can tell)."""
        local = await self._local_status(tenant_id, device_id)
        if (local is not None and local.connected) or self.presence is None:
            return local
        return await self.presence.shared(tenant_id, device_id) or local

    async def _local_status(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceStatusView | None:
        ref = self.actors.lookup(device_address(tenant_id, device_id))
        if ref is None:
            return None
        try:
            view: DeviceStatusView = await ref.ask(GetDeviceStatus(), timeout=2.0)
        except StorehubError:
            return None
        return view


class DashboardActor(Actor):
    def __init__(self, tenant_id: uuid.UUID, service: Dashboards) -> None:
        self.tenant_id = tenant_id
        self.service = service
        self.state: dict[str, Any] = {}
        self.tz: tzinfo = UTC
        self.dirty: set[str] = set()
        self.position = 0  # tenant stream seq of our last DashboardChanged (or of the subscription)
        self.epoch = ""
        self.last_publish = 0.0
        self.flush_timer: asyncio.TimerHandle | None = None
        self.midnight_timer: asyncio.TimerHandle | None = None
        self.sweep_timer: asyncio.TimerHandle | None = None

    async def on_start(self) -> None:
        self.follower = _Follower(self.ref)
        result = await self.service.follow(self.tenant_id, self.follower)
        self.position, self.epoch = result.seq, result.epoch
        await self._rebuild()
        self._arm_sweep()

    async def on_stop(self) -> None:
        self.service.unfollow(self.tenant_id, self.follower)
        for timer in (self.flush_timer, self.midnight_timer, self.sweep_timer):
            if timer is not None:
                timer.cancel()

    async def receive(self, message: object) -> object:
        if (
            self.follower.overflowed
            or local_day(self.service.clock(), self.tz).isoformat() != self.state["day"]
        ):
            self.follower.overflowed = False
            await self._rebuild()
        match message:
            case _Event(event=event):
                await self._apply(event)
                return None
            case GetDashboard():
                # Not flushed first (asks must not raise the event rate): the snapshot may hold changes
                # still pending, and the event that carries them later has a higher seq, so a client
                # applies it on top; sections are whole, so applying them again changes nothing.
                return msgspec.structs.replace(
                    snapshot(self.state),
                    seq=self.position,
                    epoch=self.epoch,
                    server_time=utc_iso(self.service.clock()),
                )
            case _Flush():
                self.flush_timer = None
                await self._flush()
                return None
            case _Tick():
                return None  # the day check above did the work
            case _Sweep():
                await self._sweep()
                self._arm_sweep()
                return None
        raise ValidationError(f"DashboardActor cannot handle {type(message).__name__}")

    async def _rebuild(self) -> None:
        service = self.service
        self.state = await load_state(service.db, self.tenant_id, service.clock(), service.device_status)
        self.tz = ZoneInfo(self.state["timezone"])
        self.dirty.clear()
        self._arm_midnight()
        await self._publish(reset=True)

    def _arm_midnight(self) -> None:
        if self.midnight_timer is not None:
            self.midnight_timer.cancel()
        now = self.service.clock()
        _, end = day_bounds(local_day(now, self.tz), self.tz)
        # A moment past midnight, so the day check surely sees the new day.
        delay = (end - now).total_seconds() + 0.5
        loop = asyncio.get_running_loop()
        self.midnight_timer = loop.call_later(max(delay, 0.5), self._tell, _Tick())

    def _tell(self, message: object) -> None:
        try:
            self.ref.tell_nowait(message)
        except (MailboxFull, ActorDeadError):
            log.debug("dashboard %s: could not queue %s", self.tenant_id, type(message).__name__)

    async def _apply(self, event: StreamEvent) -> None:
        # The figures now hold the stream up to this event: a snapshot answered from here on says so, even on
        # a node that does not publish (its position would otherwise stay where it subscribed).
        if event.seq > self.position or event.epoch != self.epoch:
            self.position, self.epoch = event.seq, event.epoch
        changed = await count_event(
            self.service.db, self.tenant_id, self.state, event.event, event.payload, self.tz
        )
        await self._changed(changed)

    def _arm_sweep(self) -> None:
        presence = self.service.presence
        if presence is None:
            return
        if self.sweep_timer is not None:
            self.sweep_timer.cancel()
        self.sweep_timer = asyncio.get_running_loop().call_later(presence.refresh_seconds, self._sweep_due)

    def _sweep_due(self) -> None:
        self.sweep_timer = None
        try:
            self.ref.tell_nowait(_Sweep())
        except MailboxFull:  # busy: the next period looks
            self._arm_sweep()
        except ActorDeadError:
            pass

    async def _sweep(self) -> None:
        """Show as gone the devices shown connected whose agent is connected nowhere any more."""
        changed: set[str] = set()
        for device_id, device in self.state["devices"].items():
            if not device["connected"]:
                continue
            view = await self.service.device_status(self.tenant_id, uuid.UUID(device_id))
            if view is None or not view.connected:
                show_status(device, view)
                changed = {"devices"}
        await self._changed(changed)

    async def _changed(self, changed: set[str]) -> None:
        if not changed:
            return
        self.dirty |= changed
        if self.flush_timer is not None:
            return  # a flush is due: it takes these sections along
        wait = self.last_publish + self.service.min_interval - time.monotonic()
        if wait <= 0:
            await self._flush()
        else:
            self.flush_timer = asyncio.get_running_loop().call_later(wait, self._tell, _Flush())

    async def _flush(self) -> None:
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None
        if self.dirty:
            await self._publish()

    async def _publish(self, *, reset: bool = False) -> None:
        claim = await self.service.lease.claim(self.tenant_id)
        if claim is Claim.OTHER:  # another hub node speaks for this tenant; its figures are ours
            self.dirty.clear()
            return
        reset = reset or claim is Claim.TAKEN  # screens so far had another node's figures: send them all
        change = changes(self.state, () if reset else self.dirty, reset=reset)
        self.dirty.clear()
        published = await self.service.bus.publish(self.tenant_id, STREAM, EVENT, change)
        self.position, self.epoch = published.seq, published.epoch
        self.last_publish = time.monotonic()
