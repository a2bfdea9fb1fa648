"""The restaurant's protocol: the floor plan, an open tab ("cuenta") per table, and paying it.

Wire types (``type`` in the envelope) -> payload struct. Every command needs a cashier, manager or owner
(kitchen users get ``forbidden``) on a store the principal may use (another store: ``forbidden``; another
tenant's store, table or tab: ``not_found``), and a store in restaurant mode (else ``not_restaurant``):

    floor.get    GetFloor        reply FloorState     the plan, the open tab of each table, the modifiers
    tab.open     OpenTab         reply TabView        a table with an open tab: ``table_busy`` (its tab_id)
    tab.get      GetTab          reply TabView
    tab.add      AddToTab        reply TabView        product by id or code, modifiers, note, course, hold
    tab.set_qty  SetTabQuantity  reply TabView        unsent items only (a sent one: ``already_sent``)
    tab.remove   RemoveTabItem   reply TabView        unsent items only (a sent one: ``already_sent``)
    tab.void     VoidTabItem     reply TabView        sent items; a manager (by role, or username + PIN);
                                                      the item stays listed, not charged
    tab.send     SendTab         reply TabView        every unsent, not held, not voided item to the kitchen
    tab.fire     FireCourse      reply TabView        the course's unsent items (held ones too) to the kitchen
    tab.move     MoveTab         reply TabView        to a free table of the same store (busy: ``table_busy``)
    tab.merge    MergeTabs       reply TabView        (the tab merged into) items move with new line numbers;
                                                      the source tab ends ``merged``; into itself: ``invalid``
    tab.close    CloseTab        reply TabView        a tab with nothing left to pay (empty, all voided/paid)
    tab.pay      PayTab          reply SaleReceipt    (schema.messages.till, with ``tip`` and ``tab_id``)
    tab.prebill  PrintPrebill    reply PrebillQueued  the "precuenta" on the register's printer (``queued``
                                                      false: the register has none, nothing printed)

Sending: the items go to the kitchen as ``KitchenOrder``s (one per course, ``course`` "Curso N", the table's
name, the waiter who opened the tab), routed to stations exactly as ``kitchen.order`` is. The items are
marked sent first, then delivered; delivery is idempotent on the order id, and a failed delivery is retried
at the next send or fire and when the store's floor actor starts. A store without a kitchen station answers
``no_station`` and nothing is marked.

Paying (``tab.pay``) makes ONE sale with its fiscal document (boleta 39 or factura 33 with ``buyer``), like
``checkout``, and marks the paid items in the same transaction; the tab closes when nothing unpaid remains.
``items`` None pays every unpaid, not voided item; a list pays those (a ``quantity`` below the line's splits
the line: split by items, one sale per guest). ``parts`` > 1 splits equally: ``tenders`` then has exactly
``parts`` entries, the i-th covering its share of the total (total // parts, the remainder one unit each to
the first parts) plus its share of the tip, split the same way (a card exactly its share, cash at least it).
The tip (propina) is money on top: it is not in the sale's total nor in the tax document, it is printed on
the receipt, and the tenders pay it (so cash tips are expected in the drawer). Tenders must cover the total
plus the tip, with Ley 20.956 rounding on the cash part in CLP. Needs an open cash session on the register
(``no_cash_session``) of the tab's store. Idempotent on the envelope ``id`` as ``checkout`` is: a resend
returns the same sale.

Events on ``floor:<store_id>`` (cashiers and up bound to the store; kitchen users are refused):
``TabChanged`` (payload TabView) after every change of a tab, ``FloorChanged`` (payload FloorState, without
the stream position) after the plan, the tip percent or the modifiers changed. Each carries ``rev``: the
store's floor change number, gapless and increasing. A screen loads ``floor.get`` (the state at ``rev``, with
the stream's ``seq`` and ``epoch`` to subscribe from), then applies each event whose ``rev`` is the next one;
an event at or below its ``rev`` is already in what it shows, a jump means it missed one and must reload.
A floor screen places a TabChanged's tab on ``table_id`` while its status is ``open`` and removes it from the
plan otherwise (closed, merged); a tab screen applies the TabChanged of its ``tab_id``.

Error codes besides the gateway's (``invalid``, ``forbidden``, ``not_found``...): ``not_restaurant``,
``table_busy``, ``tab_closed`` (the tab is not open any more), ``already_sent``, ``already_paid``,
``tab_changed`` (the items to pay changed meanwhile: reload and retry), ``unpaid_items`` (close with items to
pay), ``no_station``, ``no_cash_session``, ``insufficient_tender``, ``card_exceeds_total``, ``rate_limited``
(too many wrong manager PINs) and the sales arithmetic's ``invalid_*``. Money is integer minor units;
quantities are integer thousandths of the unit (1 unit = 1000).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from schema.messages.catalog import Money
from schema.messages.till import Buyer, DocType, Tender
from schema.wire import Message

TabStatus = Literal["open", "closed", "merged"]
TableShape = Literal["square", "round"]
Quantity = Annotated[int, msgspec.Meta(gt=0, le=1_000_000)]  # up to a thousand units (as a kitchen order)
LineNo = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
Course = Annotated[int, msgspec.Meta(ge=1, le=5)]
Guests = Annotated[int, msgspec.Meta(ge=1, le=99)]
Note = Annotated[str, msgspec.Meta(max_length=200)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
MAX_MODIFIERS = 12  # per item, as a kitchen order item carries them
MAX_PARTS = 20

FLOOR_TAB_EVENT = "TabChanged"
FLOOR_EVENT = "FloorChanged"


def floor_stream(store_id: uuid.UUID) -> str:
    return f"floor:{store_id}"


# -- commands --------------------------------------------------------------------------------------------


class GetFloor(Message, frozen=True, kw_only=True):
    store_id: uuid.UUID


class OpenTab(Message, frozen=True, kw_only=True):
    table_id: uuid.UUID
    guests: Guests = 1


class GetTab(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID


class AddToTab(Message, frozen=True, kw_only=True):
    """Add a product (by id, or by barcode / SKU in ``code``: exactly one of them) with its modifiers.

    The line's unit price is the product's price plus the modifiers' ``price_delta``s (it may not go below
    zero). ``hold`` keeps the item out of ``tab.send`` until its course is fired.
    """

    tab_id: uuid.UUID
    product_id: uuid.UUID | None = None
    code: Code | None = None
    quantity: Quantity = 1000
    modifier_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=MAX_MODIFIERS)] = []
    note: Note = ""
    course: Course = 1
    hold: bool = False


class SetTabQuantity(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID
    n: LineNo
    quantity: Quantity


class RemoveTabItem(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID
    n: LineNo


class VoidTabItem(Message, frozen=True, kw_only=True):
    """Take back an item the kitchen already has: it stays on the tab, voided, and is not charged.

    Needs a manager: the sender's own role, or a manager's username and PIN typed at the till.
    """

    tab_id: uuid.UUID
    n: LineNo
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=200)]
    approver: Annotated[str, msgspec.Meta(min_length=2, max_length=60)] | None = None
    pin: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4,12}$")] | None = None


class SendTab(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID


class FireCourse(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID
    course: Course


class MoveTab(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID
    table_id: uuid.UUID


class MergeTabs(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID  # merged away: ends with status "merged"
    into_tab_id: uuid.UUID  # gets the items (and the guests)


class CloseTab(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID


class PayItem(Message, frozen=True, kw_only=True):
    n: LineNo  # the tab's line
    quantity: Quantity  # at most the line's; less splits the line (whole units for unit products)


class PayTab(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID
    register_id: uuid.UUID  # the till whose cash session takes the money (same store as the tab)
    items: Annotated[list[PayItem], msgspec.Meta(min_length=1, max_length=200)] | None = None
    parts: Annotated[int, msgspec.Meta(ge=1, le=MAX_PARTS)] = 1
    tenders: Annotated[list[Tender], msgspec.Meta(min_length=1, max_length=MAX_PARTS)]
    tip: Money = 0  # propina, on top of the total: not taxed, not on the tax document
    doc_type: DocType = 39
    buyer: Buyer | None = None  # required for a factura (33), refused on a boleta (39)


class PrintPrebill(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID
    register_id: uuid.UUID  # printed on this register's printer (nothing happens without one)


# -- what the hub answers and publishes ------------------------------------------------------------------


class ItemModifier(Message, frozen=True, kw_only=True):
    group: str  # "Punto"
    name: str  # "a punto"
    price_delta: int = 0  # added to the unit price (may be negative)


class TabItemView(Message, frozen=True, kw_only=True):
    n: int  # the line number within the tab (never reused)
    product_id: uuid.UUID
    name: str
    unit_price: int  # tax included: the product's price plus the modifiers' deltas
    quantity: int  # thousandths
    modifiers: list[ItemModifier] = []
    note: str = ""
    course: int = 1
    held: bool = False  # waits for tab.fire of its course
    sent: bool = False  # the kitchen has it
    voided: bool = False  # taken back: listed, not charged
    void_reason: str = ""
    paid: bool = False  # paid by a sale
    total: int  # unit_price x quantity, rounded half up
    added_at: datetime
    sent_at: datetime | None = None


class TabView(Message, frozen=True, kw_only=True):
    tab_id: uuid.UUID
    number: int  # sequential per tenant
    store_id: uuid.UUID
    table_id: uuid.UUID
    table_name: str
    status: TabStatus
    guests: int
    server: str = ""  # who opened the tab
    opened_at: datetime
    closed_at: datetime | None = None
    merged_into: uuid.UUID | None = None
    items: list[TabItemView] = []
    total: int = 0  # what is left to pay: items neither paid nor voided
    paid_total: int = 0
    tip_percent: int = 10
    suggested_tip: int = 0  # total x tip_percent / 100, rounded half up
    rev: int = 0  # the store's floor change number of this tab's last change


class TabSummary(Message, frozen=True, kw_only=True):
    """An open tab as the floor plan shows it on its table."""

    tab_id: uuid.UUID
    number: int
    guests: int
    server: str = ""
    opened_at: datetime
    total: int = 0  # left to pay
    paid_total: int = 0
    items: int = 0  # lines not voided
    unsent: int = 0  # lines not voided, not sent yet (held ones included)
    held: int = 0  # lines waiting for their course to be fired
    rev: int = 0


class FloorTableView(Message, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    seats: int
    x: int  # percent of the area's plan, 0..100, from the left
    y: int  # percent, from the top
    shape: TableShape = "square"
    tab: TabSummary | None = None  # its open tab


class FloorAreaView(Message, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    position: int
    tables: list[FloorTableView] = []  # active tables, by name


class ModifierView(Message, frozen=True, kw_only=True):
    id: uuid.UUID
    product_id: uuid.UUID
    group: str
    name: str
    price_delta: int = 0
    position: int = 0


class FloorState(Message, frozen=True, kw_only=True):
    """A store's floor exactly as it is at ``rev``; follow ``stream`` from ``seq`` (``epoch``) to keep it.

    In a ``FloorChanged`` event the stream position is left empty (the event frame carries it).
    """

    store_id: uuid.UUID
    areas: list[FloorAreaView]  # by position
    modifiers: list[ModifierView] = []  # of the tenant's products, by product, group and position
    tip_percent: int = 10  # the suggested tip (propina), percent of the total
    rev: int = 0
    stream: str = ""
    seq: int = 0
    epoch: str = ""
    server_time: datetime | None = None


class PrebillQueued(Message, frozen=True, kw_only=True):
    ok: bool = True
    queued: bool = True  # False: the register has no printer, so nothing was printed
