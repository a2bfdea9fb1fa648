"""KitchenActor: one per kitchen station. Owns the station's open tickets and numbers its changes.

A ticket and its items move new -> in_progress -> ready -> served. ``bump`` moves the whole ticket one step
(bumping a ready ticket serves it: it leaves the screen, its row keeps ``served_at`` for the dashboards);
``item_done`` makes one item ready (the first one starts the ticket, the last one makes it ready);
``recall`` brings the station's last served ticket back as ready.

Each change is one transaction (``actors.kitchen_tickets``) that takes the station's next ``rev`` and writes
the ``KitchenTicketChanged`` outbox event; the actor's memory changes only after the commit. Everything is
in the database, so ``on_start`` rebuilds the station after a crash, a restart or passivation, and the
answer to ``GetState`` (the open tickets at ``rev`` and the stream's current ``seq``) is exact: every event
up to ``seq`` is in it, and the events after ``seq`` either are (their rev is not above ``rev``) or come next.

Bump, recall and item_done are idempotent on the client's command id: a KDS that lost a reply resends the
command with the same id, and a second bump must not serve a ticket that was only meant to be ready.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.exc import IntegrityError

from actors.deps import ActorDeps
from actors.kitchen_tickets import (
    RoutedItem,
    current_rev,
    insert_ticket,
    last_served,
    load_station,
    order_ticket,
    route_order,
    save_thresholds,
    save_ticket,
    stream_of,
)
from actors.runtime import Actor, ActorRef, ActorSystem, Props
from schema.errors import ConflictError, NotFoundError, StorehubError, ValidationError
from schema.messages.kitchen import (
    BumpTicket,
    ItemDone,
    KitchenItemView,
    KitchenOrder,
    KitchenTicketView,
    OrderRouted,
    RecallTicket,
    StationState,
)

REMEMBERED_ANSWERS = 500
RECALL_WINDOW = timedelta(hours=12)  # a ticket served longer ago than this is not brought back


class NothingToRecallError(NotFoundError):
    """The station has served no ticket recently: there is nothing to bring back."""

    code = "nothing_to_recall"


def kitchen_address(tenant_id: uuid.UUID, station_id: uuid.UUID) -> str:
    return f"kitchen/{tenant_id}/{station_id}"


def kitchen_ref(
    system: ActorSystem, deps: ActorDeps, tenant_id: uuid.UUID, station_id: uuid.UUID
) -> ActorRef:
    """The station's actor, started if needed. The caller has checked the station is the tenant's."""
    return system.ref(
        kitchen_address(tenant_id, station_id),
        Props(lambda: KitchenActor(tenant_id, station_id, deps), kind="KitchenActor"),
    )


async def dispatch_order(
    system: ActorSystem, deps: ActorDeps, tenant_id: uuid.UUID, order: KitchenOrder, ask_timeout: float
) -> OrderRouted:
    """Route an order item by item (``route_order``) and have each station's actor open its ticket.

    The one way an order reaches the kitchen: ``kitchen.order`` from a till and a restaurant tab's send
    both come here. The stations work independently, so an order is not atomic across them; it is
    idempotent on ``order_id`` instead: sent again, a station that has its ticket answers with it, so a
    resend completes a half-delivered order and never cooks anything twice. The caller has checked the store.
    """
    routed = await route_order(deps.db, tenant_id, order.store_id, order.items)
    opened: list[Opened] = await asyncio.gather(
        *(
            kitchen_ref(system, deps, tenant_id, station_id).ask(
                OpenTicket(order, tuple(items)), timeout=ask_timeout
            )
            for station_id, items in routed
        )
    )
    return OrderRouted(
        order_id=order.order_id,
        tickets=[o.ticket for o in opened],
        repeated=not any(o.created for o in opened),
    )


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """This station's part of an order (already routed)."""

    order: KitchenOrder
    items: tuple[RoutedItem, ...]


@dataclass(frozen=True, slots=True)
class Opened:
    ticket: KitchenTicketView
    created: bool  # False: the order had sent this station its ticket before


@dataclass(frozen=True, slots=True)
class StationCommand:
    """An authorized bump, recall or item_done, with who sent it and the client's command id."""

    payload: BumpTicket | RecallTicket | ItemDone
    sender: str
    command_id: str | None


@dataclass(frozen=True, slots=True)
class GetState:
    pass


@dataclass(frozen=True, slots=True)
class SetThresholds:
    warn_after_s: int
    late_after_s: int


# -- the state machine (pure) ----------------------------------------------------------------------------


def _items(ticket: KitchenTicketView, change: dict[str, str]) -> list[KitchenItemView]:
    """The ticket's items with each state in ``change`` replaced by its mapped state."""
    return [
        msgspec.structs.replace(item, state=change[item.state]) if item.state in change else item
        for item in ticket.items
    ]


def bumped(ticket: KitchenTicketView, now: datetime) -> KitchenTicketView:
    match ticket.state:
        case "new":
            items = _items(ticket, {"new": "in_progress"})
            return msgspec.structs.replace(ticket, state="in_progress", started_at=now, items=items)
        case "in_progress":
            items = _items(ticket, {"new": "ready", "in_progress": "ready"})
            return msgspec.structs.replace(ticket, state="ready", ready_at=now, items=items)
        case "ready":
            items = _items(ticket, {"new": "served", "in_progress": "served", "ready": "served"})
            return msgspec.structs.replace(ticket, state="served", served_at=now, items=items)
    raise ConflictError("this ticket was served already", ticket_id=str(ticket.ticket_id))


def item_done(ticket: KitchenTicketView, item_id: int, now: datetime) -> KitchenTicketView:
    """The item ready; the ticket started (its other new items with it), and ready once all items are."""
    target = next((item for item in ticket.items if item.item_id == item_id), None)
    if target is None:
        raise NotFoundError("no such item on this ticket", item_id=item_id)
    if target.state in ("ready", "served"):  # done already (a second tap): nothing changes
        return ticket
    items = [
        msgspec.structs.replace(item, state="ready" if item.item_id == item_id else "in_progress")
        if item.item_id == item_id or item.state == "new"
        else item
        for item in ticket.items
    ]
    started = ticket.started_at or now
    if all(item.state == "ready" for item in items):
        return msgspec.structs.replace(ticket, state="ready", started_at=started, ready_at=now, items=items)
    return msgspec.structs.replace(ticket, state="in_progress", started_at=started, items=items)


def recalled(ticket: KitchenTicketView) -> KitchenTicketView:
    items = _items(ticket, {"served": "ready"})
    return msgspec.structs.replace(ticket, state="ready", served_at=None, items=items)


# -- the actor ---------------------------------------------------------------------------------------------


class KitchenActor(Actor):
    def __init__(self, tenant_id: uuid.UUID, station_id: uuid.UUID, deps: ActorDeps) -> None:
        self.tenant_id = tenant_id
        self.station_id = station_id
        self.deps = deps
        self.tickets: dict[uuid.UUID, KitchenTicketView] = {}
        self.answers: OrderedDict[tuple[str, str], Any] = OrderedDict()

    async def on_start(self) -> None:
        await self._load()

    async def _load(self) -> None:
        self.station, tickets, self.rev = await load_station(self.deps.db, self.tenant_id, self.station_id)
        self.tickets = {t.ticket_id: t for t in tickets}

    async def receive(self, message: object) -> object:
        match message:
            case OpenTicket() as order:
                return await self._open(order)
            case StationCommand(command_id=str() as command_id) as command:
                key = (command.sender, command_id)
                if key in self.answers:
                    return self._repeat(key)
                try:
                    answer: Any = await self._command(command.payload)
                except StorehubError as exc:
                    answer = exc
                self.answers[key] = answer
                if len(self.answers) > REMEMBERED_ANSWERS:
                    self.answers.popitem(last=False)
                return self._repeat(key)
            case StationCommand() as command:
                return await self._command(command.payload)
            case GetState():
                return await self._state()
            case SetThresholds(warn_after_s=warn, late_after_s=late):
                if not 0 < warn < late:
                    raise ValidationError("the red threshold must come after the yellow one")
                view = await save_thresholds(self.deps.db, self.tenant_id, self.station, warn, late)
                if await self._applied(view.rev):
                    self.station = view
                return view
        raise ValidationError(f"KitchenActor cannot handle {type(message).__name__}")

    def _repeat(self, key: tuple[str, str]) -> Any:
        answer = self.answers[key]
        if isinstance(answer, StorehubError):
            raise answer
        return answer

    async def _command(self, payload: BumpTicket | RecallTicket | ItemDone) -> KitchenTicketView:
        now = datetime.now(UTC)
        match payload:
            case BumpTicket(ticket_id=ticket_id):
                before = self._open_ticket(ticket_id)
                return await self._save(before, bumped(before, now))
            case ItemDone(ticket_id=ticket_id, item_id=item_id):
                before = self._open_ticket(ticket_id)
                after = item_done(before, item_id, now)
                return before if after == before else await self._save(before, after)
            case RecallTicket():
                served = await last_served(self.deps.db, self.tenant_id, self.station_id, now - RECALL_WINDOW)
                if served is None:
                    raise NothingToRecallError("no ticket was served recently at this station")
                return await self._save(served, recalled(served))

    def _open_ticket(self, ticket_id: uuid.UUID) -> KitchenTicketView:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:  # served, of another station or tenant, or never was
            raise NotFoundError("no open ticket with that id at this station", ticket_id=str(ticket_id))
        return ticket

    async def _save(self, before: KitchenTicketView, after: KitchenTicketView) -> KitchenTicketView:
        saved = await save_ticket(self.deps.db, self.tenant_id, self.station, before, after)
        if await self._applied(saved.rev):
            if saved.state == "served":
                self.tickets.pop(saved.ticket_id, None)
            else:
                self.tickets[saved.ticket_id] = saved
        return saved

    async def _applied(self, rev: int) -> bool:
        """Take the committed change's rev. If it is not the next one, someone else (another hub node)
        changed the station meanwhile: memory is stale, so the station is reloaded (change included)."""
        if rev == self.rev + 1:
            self.rev = rev
            return True
        await self._load()
        return False

    async def _open(self, order: OpenTicket) -> Opened:
        existing = next((t for t in self.tickets.values() if t.order_id == order.order.order_id), None)
        if existing is not None:
            return Opened(existing, created=False)
        # Not open here: most likely new, so insert it at once; an order sent before (served since, or taken
        # by another node) is found by the unique constraint on (order, station) instead of a lookup first.
        spec = order.order
        ticket = KitchenTicketView(
            ticket_id=uuid.uuid4(),
            station_id=self.station_id,
            order_id=spec.order_id,
            table=spec.table,
            server=spec.server,
            course=spec.course,
            note=spec.note,
            items=[
                KitchenItemView(
                    item_id=n,
                    product_id=item.product_id,
                    name=item.name,
                    quantity=item.quantity,
                    modifiers=list(item.modifiers),
                    note=item.note,
                )
                for n, item in enumerate(order.items, start=1)
            ],
            created_at=datetime.now(UTC),
        )
        try:
            saved = await insert_ticket(self.deps.db, self.tenant_id, self.station, ticket)
        except IntegrityError:  # sent before, or another hub node took it for this station a moment ago
            found = await order_ticket(self.deps.db, self.tenant_id, self.station_id, spec.order_id)
            if found is None:  # not the order's constraint: the station itself is gone
                raise NotFoundError("kitchen station not found", station_id=str(self.station_id)) from None
            return Opened(found, created=False)
        if await self._applied(saved.rev):
            self.tickets[saved.ticket_id] = saved
        return Opened(saved, created=True)

    async def _state(self) -> StationState:
        stream = stream_of(self.station_id)
        # The stream's position now; nothing changes the station here while this message is handled, but
        # another hub node may have: if the database's rev moved past ours, reload, so the state holds every
        # change up to ``seq`` (events are published after their commit).
        seq, epoch = await self.deps.bus.position(self.tenant_id, stream)
        if await current_rev(self.deps.db, self.tenant_id, self.station_id) != self.rev:
            await self._load()
        return StationState(
            station=self.station,
            tickets=sorted(self.tickets.values(), key=lambda t: (t.created_at, str(t.ticket_id))),
            rev=self.rev,
            stream=stream,
            seq=seq,
            epoch=epoch,
            server_time=datetime.now(UTC),
        )
