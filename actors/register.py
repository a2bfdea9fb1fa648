"""RegisterActor: one per till. Owns the cart, the latest scale reading and the till's open cash session.

The cart is the till's working state: every change is pushed live to every socket of the register
(``CartChanged`` on ``register:<id>``); the till is a view of it. State-changing commands are idempotent on
the client's command id: a repeated id gets the first answer, a refusal included. Completing a sale is one
database transaction (``actors.checkout``); the cart is cleared only after it committed, and a checkout
resent after a restart finds its sale in the database.

Registers are never passivated (an idle till keeps its cart). Embedded, a crash or a hub restart loses the
cart: the new incarnation announces its empty cart on the register stream so no till shows a stale one.
With several hub nodes the cart, the cash session and the scale's reading are shared through
``deps.registers`` (``actors.register_state``): each change is stored with a version check, so the
register's actors on different nodes (a till on one, its customer display on another, or a till that
moved when its node died) work on one cart.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from actors.approval import PinGuard, buyer_of
from actors.cash import NoCashSessionError, close_session, current_session, move_cash, open_session
from actors.catalog_ref import CatalogRef, SellingRules
from actors.checkout import PricedLine, SaleContext, commit_sale, find_sale
from actors.deps import ActorDeps
from actors.register_state import APPLIED_KEPT, SavedLine, SavedState, SharedReading, StateLink
from actors.returns import commit_return
from actors.runtime import Actor
from actors.sales.lines import cart_line, require_whole_units
from actors.sales.scale_barcodes import parse as parse_scale_barcode
from actors.sales.settlement import settle
from actors.sales.totals import cart_totals
from hub.auth.principal import Principal
from schema.errors import (
    NotFoundError,
    PermissionDeniedError,
    StorehubError,
    UnavailableError,
    ValidationError,
)
from schema.messages.catalog import ProductView
from schema.messages.till import (
    AddItem,
    CartLine,
    CartView,
    CashMovement,
    Checkout,
    ClearCart,
    CloseCashSession,
    DiscountLine,
    GetCart,
    OpenCashSession,
    RemoveLine,
    ReturnSale,
    ScaleReading,
    SetQuantity,
)
from schema.models import Register, Store, Tenant
from schema.models.identity import Role

log = logging.getLogger("actors.register")

SCALE_MAX_AGE_SECONDS = 2.0
# A till resends only the commands whose replies it lost, and those are the register's latest: the answers
# remembered per register need not go far back. Each is a whole cart, and 500 a register (100,000 carts
# on a 200-till hub) made every full garbage collection walk them.
REMEMBERED_ANSWERS = 64
# Tries of one cart change against a shared state that other nodes keep changing meanwhile.
SWAP_ATTEMPTS = 5


class ScaleStaleError(ValidationError):
    """No recent reading from the scale (more than 2 seconds old, or none)."""

    code = "scale_stale"


class ScaleUnstableError(ValidationError):
    """The scale is still moving: wait for a stable weight."""

    code = "scale_unstable"


class ScaleEmptyError(ValidationError):
    """The scale reads nothing (or less than zero)."""

    code = "scale_empty"


class EmptyCartError(ValidationError):
    """The cart is empty."""

    code = "empty_cart"


@dataclass(frozen=True, slots=True)
class TillCommand:
    """An authorized command for a register: the wire payload, who sent it and its client id."""

    payload: Any
    principal: Principal
    command_id: str | None


@dataclass(slots=True)
class _Line:
    product: ProductView
    quantity: int
    discount_percent: int = 0
    fixed_total: int | None = None  # price-embedded scale barcodes charge the printed price


def register_address(tenant_id: uuid.UUID, register_id: uuid.UUID) -> str:
    return f"register/{tenant_id}/{register_id}"


class RegisterActor(Actor):
    def __init__(
        self,
        tenant_id: uuid.UUID,
        register_id: uuid.UUID,
        deps: ActorDeps,
        catalog_source: Callable[[], Awaitable[CatalogRef]],
    ) -> None:
        self.tenant_id = tenant_id
        self.register_id = register_id
        self.deps = deps
        self.catalog_source = catalog_source
        self.catalog: CatalogRef | None = None
        # The tenant's selling rules (stock policy, scale labels, discount limit), read from the catalog
        # reference before every command, so a change made at /api/v1/settings applies from the next one.
        self.rules = SellingRules()
        self.lines: OrderedDict[int, _Line] = OrderedDict()
        self.next_line_id = 1
        self.version = 0
        self.reading: tuple[ScaleReading, float] | None = None
        self.answers: OrderedDict[str, Any] = OrderedDict()
        self.applied: list[str] = []  # the latest command ids applied to the cart, shared with other nodes
        self.shared = StateLink(deps.registers, tenant_id, register_id)
        self.pins = PinGuard()  # wrong manager PINs typed at this till

    async def on_start(self) -> None:
        async with self.deps.db.tenant(self.tenant_id) as session:
            register = await session.get(Register, (self.tenant_id, self.register_id))
            if register is None:
                raise NotFoundError("register not found", register_id=str(self.register_id))
            store = await session.get(Store, (self.tenant_id, register.store_id))
            tenant = (await session.execute(select(Tenant))).scalar_one()
        assert store is not None
        self.store_id, self.warehouse_id = store.id, store.warehouse_id
        self.currency = tenant.currency
        # The shared cart, when other nodes keep one; the cash session is the database's.
        saved = await self.shared.stored()
        if saved is not None:
            self._adopt(saved)
        self.session_id = await current_session(self.deps.db, self.tenant_id, self.register_id)
        # Embedded, the cart lives in memory: after a crash restart it is empty, and every till is told so.
        await self._publish("CartChanged", self._view())

    async def receive(self, message: object) -> object:
        if not isinstance(message, TillCommand):
            raise ValidationError(f"RegisterActor cannot handle {type(message).__name__}")
        if message.command_id is not None and message.command_id in self.answers:
            first = self.answers[message.command_id]
            if isinstance(first, StorehubError):
                raise first
            return first
        if self.catalog is None or self.catalog.stale:
            self.catalog = await self.catalog_source()
        self.rules = self.catalog.rules()
        remember = message.command_id is not None and not isinstance(message.payload, GetCart | ScaleReading)
        try:
            answer = await self._handle(message)
        except StorehubError as exc:  # a refusal is an answer too: the same id gets it again
            if remember:
                self._remember(message.command_id, exc)
            raise
        if remember:
            self._remember(message.command_id, answer)
        return answer

    def _remember(self, command_id: str | None, answer: Any) -> None:
        assert command_id is not None
        self.answers[command_id] = answer
        while len(self.answers) > REMEMBERED_ANSWERS:
            self.answers.popitem(last=False)

    async def _handle(self, message: TillCommand) -> Any:
        principal = message.principal
        match message.payload:
            case ScaleReading() as reading:
                await self._keep_reading(reading)
                return {"ok": True}
            case GetCart():
                await self._refreshed()
                return self._view()
            case OpenCashSession(float_amount=amount):
                view = await open_session(
                    self.deps.db, self.tenant_id, self.register_id, amount, principal.user_id
                )

                def opened() -> None:
                    self.session_id = view.session_id

                await self._change(opened, message.command_id, announce=False)
                return view
            case CashMovement(direction=direction, amount=amount, reason=reason):
                return await move_cash(
                    self.deps.db,
                    self.tenant_id,
                    self.register_id,
                    direction,
                    amount,
                    reason,
                    principal.user_id,
                )
            case CloseCashSession(counted=counted):
                report = await close_session(
                    self.deps.db,
                    self.tenant_id,
                    self.register_id,
                    {k: v for k, v in counted.items()},
                    principal.user_id,
                )

                def closed() -> None:
                    self.session_id = None

                await self._change(closed, message.command_id)
                self.deps.printable(self.tenant_id, self.register_id, "zreport", report.session_id)
                return report
            case Checkout() as checkout:
                return await self._checkout(checkout, principal, message.command_id)
            case ReturnSale() as give_back:
                return await self._return(give_back, principal, message.command_id)
        payload = message.payload

        async def apply() -> None:
            self._require_session()
            match payload:
                case AddItem() as add:
                    await self._add(add)
                case SetQuantity(line_id=line_id, quantity=quantity):
                    line = self._line(line_id)
                    if line.fixed_total is not None or line.product.unit == "kg":
                        raise ValidationError(
                            "the quantity of a weighed item comes from the scale or its label"
                        )
                    _check_whole_units(line.product, quantity)
                    line.quantity = quantity
                case RemoveLine(line_id=line_id):
                    self._line(line_id)
                    del self.lines[line_id]
                case DiscountLine(line_id=line_id, percent=percent):
                    limit = self.rules.max_cashier_discount
                    if percent > limit and not principal.is_at_least(Role.MANAGER):
                        raise PermissionDeniedError(f"discounts above {limit}% need a manager", limit=limit)
                    self._line(line_id).discount_percent = percent
                case ClearCart():
                    self.lines.clear()
                case other:
                    raise ValidationError(f"RegisterActor cannot handle {type(other).__name__}")

        return await self._change(apply, message.command_id)

    def _require_session(self) -> uuid.UUID:
        if self.session_id is None:
            raise NoCashSessionError("open the cash session (abrir caja) first")
        return self.session_id

    def _sale_context(self, principal: Principal) -> SaleContext:
        """Where and by whom a sale or credit note is made; needs the open cash session."""
        return SaleContext(
            tenant_id=self.tenant_id,
            register_id=self.register_id,
            store_id=self.store_id,
            warehouse_id=self.warehouse_id,
            cash_session_id=self._require_session(),
            user_id=principal.user_id,
            block_negative_stock=self.rules.block_negative_stock,
        )

    def _line(self, line_id: int) -> _Line:
        line = self.lines.get(line_id)
        if line is None:
            raise NotFoundError("no such line in the cart", line_id=line_id)
        return line

    async def _add(self, add: AddItem) -> None:
        if (add.code is None) == (add.product_id is None):
            raise ValidationError("give either a code or a product_id")
        assert self.catalog is not None
        index = self.catalog.current()
        fixed_total: int | None = None
        quantity = add.quantity
        from_label = False
        if add.code is not None:
            code = add.code.strip()
            scale_code = parse_scale_barcode(code, self.rules.scale)
            if scale_code is not None:
                product = index.by_code(scale_code.plu)
                if product is None or product.unit != "kg":
                    raise NotFoundError(f"no weighed product with PLU {scale_code.plu}", code=code)
                from_label = True
                if scale_code.kind == "weight":
                    quantity = scale_code.value
                else:
                    fixed_total = scale_code.value
                    quantity = max(1, scale_code.value * 1000 // max(product.price, 1))
            else:
                found = index.by_code(code)
                if found is None:
                    raise NotFoundError(f"no product with code {code}", code=code)
                product = found
        else:
            assert add.product_id is not None
            found = index.get(add.product_id)
            if found is None:
                raise NotFoundError("no such product", product_id=str(add.product_id))
            product = found
        if product.unit == "kg" and not from_label:
            if add.quantity is not None:
                raise ValidationError("weighed items take their weight from the scale")
            quantity = await self._weigh()
        if quantity is None:
            quantity = 1000
        _check_whole_units(product, quantity)
        for line in self.lines.values():
            if line.product.id == product.id and product.unit != "kg" and line.discount_percent == 0:
                line.quantity += quantity
                return
        self.lines[self.next_line_id] = _Line(product, quantity, fixed_total=fixed_total)
        self.next_line_id += 1

    async def _keep_reading(self, reading: ScaleReading) -> None:
        # A reading the agent kept while the hub was unreachable is as old as it says, not fresh.
        age = max(0.0, time.time() - reading.at_ms / 1000) if reading.at_ms else 0.0
        self.reading = (reading, time.monotonic() - age)
        await self.shared.put_reading(SharedReading(reading, time.time() - age))  # a till elsewhere weighs
        await self._publish("ScaleWeight", reading, transient=True)

    async def _weigh(self) -> int:
        if self.reading is None or time.monotonic() - self.reading[1] > SCALE_MAX_AGE_SECONDS:
            shared = await self.shared.reading()  # kept by the node the scale's agent talks to
            if shared is not None:
                self.reading = (shared.reading, time.monotonic() - max(0.0, time.time() - shared.taken_at))
        if self.reading is None or time.monotonic() - self.reading[1] > SCALE_MAX_AGE_SECONDS:
            raise ScaleStaleError("no recent weight from the scale")
        reading = self.reading[0]
        if not reading.stable:
            raise ScaleUnstableError("the scale is not stable yet")
        if reading.grams <= 0:
            raise ScaleEmptyError("put the item on the scale")
        return reading.grams

    def _cart_lines(self) -> list[tuple[CartLine, str]]:
        priced = []
        for line_id, line in self.lines.items():
            view = cart_line(line_id, line.product, line.quantity, line.discount_percent)
            if line.fixed_total is not None:
                discount = line.fixed_total * line.discount_percent // 100
                view = CartLine(
                    line_id=view.line_id, product_id=view.product_id, sku=view.sku, name=view.name,
                    unit=view.unit, quantity=view.quantity, unit_price=view.unit_price,
                    discount_percent=view.discount_percent, total=line.fixed_total - discount,
                )  # fmt: skip
            priced.append((view, line.product.tax_class))
        return priced

    def _view(self) -> CartView:
        priced = self._cart_lines()
        totals = cart_totals(priced)
        return CartView(
            register_id=self.register_id,
            lines=[line for line, _ in priced],
            total=totals.total,
            taxes=totals.taxes,
            version=self.version,
            session_open=self.session_id is not None,
        )

    async def _change(
        self, apply: Callable[[], Awaitable[None] | None], command_id: str | None, *, announce: bool = True
    ) -> CartView:
        """Apply a change to the cart (or session), store it where other nodes see it, announce it.

        Embedded, the store takes everything: one pass. Shared, a stored state newer than ours (another
        node changed the register) is taken and the change applied again on it; a refusal on our copy is
        checked against the stored state the same way."""
        for _ in range(SWAP_ATTEMPTS):
            if command_id is not None and command_id in self.applied:
                return self._view()  # applied through another node; its answer was lost with that node
            before = self._saved()
            try:
                result = apply()
                if result is not None:
                    await result
            except StorehubError:
                self._adopt(before)
                if await self._refreshed():
                    continue
                raise
            if command_id is not None:
                self.applied = [*self.applied[-(APPLIED_KEPT - 1) :], command_id]
            self.version += 1
            newer = await self.shared.swap(before.version, self._saved()) if self.shared.shared else None
            if newer is None:
                view = self._view()
                if announce:
                    await self._publish("CartChanged", view)
                return view
            self._adopt(newer)
        raise UnavailableError("the cart kept changing on another hub node: try again")

    def _saved(self) -> SavedState:
        lines = [
            SavedLine(line_id, line.product, line.quantity, line.discount_percent, line.fixed_total)
            for line_id, line in self.lines.items()
        ]
        return SavedState(self.version, self.next_line_id, lines, self.session_id, list(self.applied))

    def _adopt(self, saved: SavedState) -> None:
        self.lines = OrderedDict(
            (line.line_id, _Line(line.product, line.quantity, line.discount_percent, line.fixed_total))
            for line in saved.lines
        )
        self.version, self.next_line_id = saved.version, saved.next_line_id
        self.session_id, self.applied = saved.session_id, list(saved.applied)

    async def _refreshed(self) -> bool:
        """Take the shared state if it is newer than ours (another node changed the register)."""
        if self.shared.unsynced:
            return False  # ours has changes the store has not: it is the one to keep
        saved = await self.shared.stored()
        if saved is None or saved.version == self.version:
            return False
        self._adopt(saved)
        return True

    async def _publish(self, event: str, payload: Any, *, transient: bool = False) -> None:
        """Push a change to the register's screens. The bus being away (Redis, when scaled) must not stop
        the sale: the command's own answer carries the cart; the other screens catch up on the next change."""
        stream = f"register:{self.register_id}"
        try:
            await self.deps.bus.publish(self.tenant_id, stream, event, payload, transient=transient)
        except UnavailableError as exc:
            log.warning("register %s: %s not pushed live: %s", self.register_id, event, exc)

    async def _checkout(self, checkout: Checkout, principal: Principal, command_id: str | None) -> Any:
        if command_id is None:
            raise ValidationError("a checkout needs a command id (it makes resending safe)")
        await self._refreshed()  # the lines may have been scanned through another node
        if not self.lines:  # resent after a hub restart emptied the cart?
            made = await find_sale(self.deps.db, self.tenant_id, self.register_id, command_id)
            if made is not None:
                return made
            raise EmptyCartError("the cart is empty")
        ctx = self._sale_context(principal)
        buyer = buyer_of(checkout.doc_type, checkout.buyer)
        priced = self._cart_lines()
        totals = cart_totals(priced)
        settlement = settle(totals.total, checkout.tenders, self.currency)
        receipt = await commit_sale(
            self.deps.db,
            ctx,
            command_id,
            [PricedLine(line, tax_class) for line, tax_class in priced],
            totals.taxes,
            settlement,
            checkout.doc_type,
            buyer=buyer,
        )
        self.deps.documents_made(self.tenant_id)
        self.deps.printable(self.tenant_id, self.register_id, "receipt", receipt.sale_id)
        await self._change(lambda: self.lines.clear(), None)
        return receipt

    async def _return(self, request: ReturnSale, principal: Principal, command_id: str | None) -> Any:
        if command_id is None:
            raise ValidationError("a return needs a command id (it makes resending safe)")
        ctx = self._sale_context(principal)
        approved_by = await self.pins.approve(
            self.deps.db, self.tenant_id, principal, request.approver, request.pin
        )
        wanted: dict[int, int] | None = None
        if request.lines is not None:
            wanted = {}
            for line in request.lines:
                wanted[line.line_no] = wanted.get(line.line_no, 0) + line.quantity
        credit = await commit_return(
            self.deps.db, ctx, command_id, request.sale_id, wanted, request.reason, request.refund,
            approved_by, self.currency,
        )  # fmt: skip
        self.deps.documents_made(self.tenant_id)
        self.deps.printable(self.tenant_id, self.register_id, "receipt", credit.sale_id)
        return credit


def _check_whole_units(product: ProductView, quantity: int) -> None:
    require_whole_units(product.unit, quantity, f"{product.name} is sold by whole units")
