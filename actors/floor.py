"""FloorActor: one per restaurant store. Orders the store's tab commands, remembers their answers, and
delivers what the tabs send to the kitchen.

The state is the database's: every command is one transaction (``actors.floor_tabs``, ``actors.floor_pay``)
that takes the store's next floor ``rev`` and checks the tab under that lock, so nothing here depends on the
actor being unique across hub nodes; the actor gives a store's commands an order, answers a resent command
id with its first answer (a till that lost the reply to ``tab.add`` must not add twice; ``tab.pay`` is also
idempotent in the database, as ``checkout`` is), and keeps the kitchen deliveries that failed to try them
again at the next send or fire. When it starts (before its first command), it delivers the orders of open tabs
that no station has.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import select

from actors.approval import PinGuard, buyer_of
from actors.cash import NoCashSessionError, current_session
from actors.checkout import SaleContext, commit_sale, find_sale
from actors.deps import ActorDeps
from actors.floor_kitchen import mark_sent, undelivered_orders
from actors.floor_pay import paid_hook, plan_payment
from actors.floor_tabs import (
    add_item,
    close_tab,
    current_tab,
    merge_tabs,
    move_tab,
    open_tab,
    remove_item,
    set_quantity,
    void_item,
)
from actors.floor_views import read_floor
from actors.kitchen import dispatch_order
from actors.runtime import Actor, ActorRef, ActorSystem, Props
from hub.auth.principal import Principal
from hub.db import Database
from schema.errors import NotFoundError, StorehubError, ValidationError
from schema.messages.kitchen import KitchenOrder
from schema.messages.restaurant import (
    AddToTab,
    CloseTab,
    FireCourse,
    FloorState,
    GetFloor,
    GetTab,
    MergeTabs,
    MoveTab,
    OpenTab,
    PayTab,
    PrebillQueued,
    PrintPrebill,
    RemoveTabItem,
    SendTab,
    SetTabQuantity,
    TabView,
    VoidTabItem,
    floor_stream,
)
from schema.messages.till import SaleReceipt
from schema.models import Device, Register, Store, Tenant

log = logging.getLogger("actors.floor")

REMEMBERED_ANSWERS = 500
DELIVERY_ATTEMPTS = 20  # a kitchen order that failed this many times is given up (and logged)


def floor_address(tenant_id: uuid.UUID, store_id: uuid.UUID) -> str:
    return f"floor/{tenant_id}/{store_id}"


def floor_ref(
    system: ActorSystem, deps: ActorDeps, tenant_id: uuid.UUID, store_id: uuid.UUID, ask_timeout: float
) -> ActorRef:
    """The store's floor actor, started if needed. The caller has checked the store is the tenant's and a
    restaurant."""
    return system.ref(
        floor_address(tenant_id, store_id),
        Props(lambda: FloorActor(tenant_id, store_id, deps, ask_timeout), kind="FloorActor"),
    )


@dataclass(frozen=True, slots=True)
class FloorCommand:
    """An authorized restaurant command, with who sent it and the client's command id."""

    payload: Any
    principal: Principal
    command_id: str | None


class FloorActor(Actor):
    def __init__(
        self, tenant_id: uuid.UUID, store_id: uuid.UUID, deps: ActorDeps, ask_timeout: float
    ) -> None:
        self.tenant_id = tenant_id
        self.store_id = store_id
        self.deps = deps
        self.ask_timeout = ask_timeout
        self.answers: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.pending: dict[uuid.UUID, KitchenOrder] = {}  # kitchen orders whose delivery failed
        self.attempts: dict[uuid.UUID, int] = {}
        self.pins = PinGuard("this restaurant")

    async def on_start(self) -> None:
        async with self.deps.db.tenant(self.tenant_id) as session:
            store = await session.get(Store, (self.tenant_id, self.store_id))
        if store is None:
            raise NotFoundError("store not found", store_id=str(self.store_id))
        self.warehouse_id = store.warehouse_id
        # Orders marked sent whose delivery a crash or a restart cut short: before the first command.
        for order in await undelivered_orders(self.deps.db, self.tenant_id, self.store_id):
            self.pending.setdefault(order.order_id, order)
        await self._deliver()

    async def receive(self, message: object) -> object:
        match message:
            case FloorCommand(payload=GetFloor() | GetTab()) as command:
                return await self._read(command.payload)
            case FloorCommand(command_id=str() as command_id) as command:
                principal = command.principal
                key = (str(principal.user_id or principal.device_id), command_id)
                if key not in self.answers:
                    try:
                        answer: Any = await self._handle(command)
                    except StorehubError as exc:  # a refusal is an answer too: the same id gets it again
                        answer = exc
                    self.answers[key] = answer
                    if len(self.answers) > REMEMBERED_ANSWERS:
                        self.answers.popitem(last=False)
                answer = self.answers[key]
                if isinstance(answer, StorehubError):
                    raise answer
                return answer
            case FloorCommand() as command:
                return await self._handle(command)
        raise ValidationError(f"FloorActor cannot handle {type(message).__name__}")

    async def _read(self, payload: GetFloor | GetTab) -> FloorState | TabView:
        db, tenant_id, store_id = self.deps.db, self.tenant_id, self.store_id
        if isinstance(payload, GetTab):
            return await current_tab(db, tenant_id, store_id, payload.tab_id)
        stream = floor_stream(store_id)
        # The stream's position first, then the floor: every event up to ``seq`` is in what is read, and
        # every later one either is too (its rev is not above the state's) or comes next.
        seq, epoch = await self.deps.bus.position(tenant_id, stream)
        async with db.tenant(tenant_id) as session:
            state = await read_floor(session, store_id)
        return msgspec.structs.replace(
            state, stream=stream, seq=seq, epoch=epoch, server_time=datetime.now(UTC)
        )

    async def _handle(self, command: FloorCommand) -> Any:
        db, tenant_id, store_id = self.deps.db, self.tenant_id, self.store_id
        principal, user_id = command.principal, command.principal.user_id
        match command.payload:
            case OpenTab(table_id=table_id, guests=guests):
                return await open_tab(db, tenant_id, store_id, table_id, guests, user_id)
            case AddToTab() as add:
                return await add_item(db, tenant_id, store_id, add, user_id)
            case SetTabQuantity(tab_id=tab_id, n=n, quantity=quantity):
                return await set_quantity(db, tenant_id, store_id, tab_id, n, quantity)
            case RemoveTabItem(tab_id=tab_id, n=n):
                return await remove_item(db, tenant_id, store_id, tab_id, n)
            case VoidTabItem() as void:
                approved_by = await self.pins.approve(
                    db, tenant_id, principal, void.approver, void.pin, what="a void"
                )
                return await void_item(db, tenant_id, store_id, void.tab_id, void.n, void.reason, approved_by)
            case SendTab(tab_id=tab_id):
                return await self._send(tab_id, None)
            case FireCourse(tab_id=tab_id, course=course):
                return await self._send(tab_id, course)
            case MoveTab(tab_id=tab_id, table_id=table_id):
                return await move_tab(db, tenant_id, store_id, tab_id, table_id)
            case MergeTabs(tab_id=tab_id, into_tab_id=into_tab_id):
                return await merge_tabs(db, tenant_id, store_id, tab_id, into_tab_id)
            case CloseTab(tab_id=tab_id):
                return await close_tab(db, tenant_id, store_id, tab_id)
            case PayTab() as pay:
                return await self._pay(pay, principal, command.command_id)
            case PrintPrebill(tab_id=tab_id, register_id=register_id):
                await self._register(register_id)
                await current_tab(db, tenant_id, store_id, tab_id)  # of this store, or not found
                if not await _has_printer(db, tenant_id, register_id):
                    return PrebillQueued(queued=False)
                self.deps.printable(tenant_id, register_id, "prebill", tab_id)
                return PrebillQueued()
        raise ValidationError(f"FloorActor cannot handle {type(command.payload).__name__}")

    # -- the kitchen ------------------------------------------------------------------------------------

    async def _send(self, tab_id: uuid.UUID, course: int | None) -> TabView:
        view, orders = await mark_sent(self.deps.db, self.tenant_id, self.store_id, tab_id, course)
        for order in orders:
            self.pending[order.order_id] = order
        await self._deliver()
        return view

    async def _deliver(self) -> None:
        """Deliver every pending order; one that fails stays pending (the items are marked sent already)."""
        for order_id, order in list(self.pending.items()):
            try:
                await dispatch_order(self.system, self.deps, self.tenant_id, order, self.ask_timeout)
            except Exception:
                attempts = self.attempts[order_id] = self.attempts.get(order_id, 0) + 1
                if attempts >= DELIVERY_ATTEMPTS:
                    log.exception("kitchen order %s given up after %d attempts", order_id, attempts)
                    self.pending.pop(order_id, None)
                    self.attempts.pop(order_id, None)
                else:
                    log.warning("kitchen order %s not delivered; will retry", order_id, exc_info=True)
                continue
            self.pending.pop(order_id, None)
            self.attempts.pop(order_id, None)

    # -- paying -----------------------------------------------------------------------------------------

    async def _register(self, register_id: uuid.UUID) -> Register:
        async with self.deps.db.tenant(self.tenant_id) as session:
            register = await session.get(Register, (self.tenant_id, register_id))
        if register is None:
            raise NotFoundError("register not found", register_id=str(register_id))
        if register.store_id != self.store_id:
            raise ValidationError("that register is not in this tab's store", register_id=str(register_id))
        return register

    async def _pay(self, pay: PayTab, principal: Principal, command_id: str | None) -> SaleReceipt:
        if command_id is None:
            raise ValidationError("a payment needs a command id (it makes resending safe)")
        db, tenant_id = self.deps.db, self.tenant_id
        await self._register(pay.register_id)
        made = await find_sale(db, tenant_id, pay.register_id, command_id)
        if made is not None:  # resent after its reply was lost (or after a restart): the same sale
            return made
        cash_session = await current_session(db, tenant_id, pay.register_id)
        if cash_session is None:
            raise NoCashSessionError("open the cash session (abrir caja) of that register first")
        buyer = buyer_of(pay.doc_type, pay.buyer)
        async with db.tenant(tenant_id) as session:
            tenant = (await session.execute(select(Tenant))).scalar_one()
            plan = await plan_payment(session, self.store_id, pay, tenant.currency)
        ctx = SaleContext(
            tenant_id=tenant_id,
            register_id=pay.register_id,
            store_id=self.store_id,
            warehouse_id=self.warehouse_id,
            cash_session_id=cash_session,
            user_id=principal.user_id,
            block_negative_stock=tenant.stock_policy == "block",
        )
        receipt = await commit_sale(
            db, ctx, command_id, plan.lines, plan.taxes, plan.settlement, pay.doc_type, buyer=buyer,
            tab_id=pay.tab_id, hook=paid_hook(self.store_id, pay.tab_id, plan.picks),
        )  # fmt: skip
        self.deps.documents_made(tenant_id)
        self.deps.printable(tenant_id, pay.register_id, "receipt", receipt.sale_id)
        return receipt


async def _has_printer(db: Database, tenant_id: uuid.UUID, register_id: uuid.UUID) -> bool:
    """Whether a printer (not revoked) is bound to the register: a precuenta needs one."""
    async with db.tenant(tenant_id) as session:
        found = await session.execute(
            select(Device.id)
            .where(Device.register_id == register_id, Device.kind == "printer", Device.revoked_at.is_(None))
            .limit(1)
        )
        return found.first() is not None
