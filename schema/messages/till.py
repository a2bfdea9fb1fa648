"""The till's protocol: cart, scale readings, checkout, cash sessions (commands), and what the hub answers.

Every command names its register. Commands that change state are idempotent on the envelope ``id``: the
register remembers the answer to each id it handled and a repeated id gets that first answer again (a
till that lost the reply to a checkout resends it and never makes a second sale).

Wire types (``type`` in the envelope) -> payload struct, minimum role cashier unless noted:

    cart.add        AddItem          reply CartView
    cart.set_qty    SetQuantity      reply CartView
    cart.remove     RemoveLine       reply CartView
    cart.discount   DiscountLine     reply CartView   (percent > max_cashier_discount needs manager)
    cart.clear      ClearCart        reply CartView
    cart.get        GetCart          reply CartView
    scale.reading   ScaleReading     reply {"ok": true}  (devices and users; the devices issue wires agents)
    catalog.search  SearchProducts   reply list[ProductView]
    checkout        Checkout         reply SaleReceipt  (doc_type 33 needs a buyer: RUT, razón social...)
    cash.open       OpenCashSession  reply CashSessionView
    cash.move       CashMovement     reply CashSessionView
    cash.close      CloseCashSession reply ZReport
    sale.return     ReturnSale       reply SaleReceipt (kind "return", doc_type 61, negated amounts)
    sale.lookup     LookupSale       reply ReturnableSale (read only: a sale of the register's store, by
                                     its printed number or its id, with what each line has left to return;
                                     another store's or tenant's sale is ``not_found``, a credit note
                                     ``not_returnable``)

Error codes besides the gateway's (``invalid``, ``forbidden``, ``not_found``...): ``no_cash_session``,
``cash_session_open``, ``empty_cart``, ``scale_stale``, ``scale_unstable``, ``scale_empty``,
``bad_barcode``, ``out_of_stock``, ``insufficient_tender``, ``card_exceeds_total``, ``over_return``,
``not_returnable`` and the
``invalid_*`` refinements of ``invalid`` raised by the sales arithmetic (``actors/sales/errors.py``).

Events on ``register:<id>``: ``CartChanged`` (payload CartView) after every cart change, ``SaleCompleted``
(payload SaleReceipt), ``SaleReturned`` (payload SaleReceipt of the credit note), ``ScaleWeight``
(payload ScaleReading). On ``tenant``: ``SaleCompleted``, ``SaleReturned``, ``LowStock``. Money is
integer minor units; quantities are integer thousandths of the unit (1 unit = 1000, 1 g of a product sold
by the kg = 1).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from schema.messages.catalog import Money
from schema.wire import Message

Quantity = Annotated[int, msgspec.Meta(gt=0, le=1_000_000_000)]  # up to a million units
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
TenderKind = Literal["cash", "card"]
DocType = Literal[39, 33]  # boleta, factura (SII codes; Ecuador maps 39 -> factura consumidor final)


class AddItem(Message, frozen=True, kw_only=True):
    """Add by barcode (incl. weight/price EAN-13), PLU/SKU, or product id (a search pick).

    For a weighable product without a weight barcode the quantity is the bound scale's latest stable
    reading (refused if unstable or older than 2 s); ``quantity`` is then not allowed.
    """

    register_id: uuid.UUID
    code: Code | None = None
    product_id: uuid.UUID | None = None
    quantity: Quantity | None = None  # default 1 unit (1000) for unit products


class SetQuantity(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    line_id: int
    quantity: Quantity


class RemoveLine(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    line_id: int


class DiscountLine(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    line_id: int
    percent: Percent


class ClearCart(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID


class GetCart(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID


class ScaleReading(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    grams: Annotated[int, msgspec.Meta(ge=-100_000, le=1_000_000)]
    stable: bool
    at_ms: int = 0  # hub time of the reading (ms since epoch); set by the hub when it arrives


class SearchProducts(Message, frozen=True, kw_only=True):
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


class Tender(Message, frozen=True, kw_only=True):
    kind: TenderKind
    amount: Money  # for cash: what the customer handed over


class Buyer(Message, frozen=True, kw_only=True):
    """The company a factura (33) is issued to, as SII requires it on the document."""

    rut: Annotated[str, msgspec.Meta(min_length=3, max_length=12)]  # 76.086.428-5 or 76086428-5
    razon_social: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    giro: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=70)]
    comuna: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    city: Annotated[str, msgspec.Meta(max_length=20)] = ""


class Checkout(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    tenders: Annotated[list[Tender], msgspec.Meta(min_length=1, max_length=8)]
    doc_type: DocType = 39
    buyer: Buyer | None = None  # required for a factura (33), refused on a boleta (39)


class ReturnLine(Message, frozen=True, kw_only=True):
    line_no: Annotated[int, msgspec.Meta(ge=1)]  # the line of the original sale
    quantity: Quantity


class ReturnSale(Message, frozen=True, kw_only=True):
    """Give back some (``lines``) or all (no ``lines``: a void) of a completed sale as a credit note (61).

    Needs a manager: the sender's own role, or a manager's username and PIN typed at the till.
    """

    register_id: uuid.UUID
    sale_id: uuid.UUID
    lines: Annotated[list[ReturnLine], msgspec.Meta(min_length=1, max_length=200)] | None = None
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=200)]
    refund: TenderKind = "cash"
    approver: Annotated[str, msgspec.Meta(min_length=2, max_length=60)] | None = None
    pin: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4,12}$")] | None = None


class LookupSale(Message, frozen=True, kw_only=True):
    """Find a sale to return: by the number printed on its receipt, or by its id (exactly one of them).

    ``number`` counts sales only (credit notes are numbered apart), so a number always names a sale; a
    credit note's id is answered ``not_returnable``.
    """

    register_id: uuid.UUID
    number: Annotated[int, msgspec.Meta(gt=0, le=10**12)] | None = None
    sale_id: uuid.UUID | None = None


class OpenCashSession(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    float_amount: Money


class CashMovement(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    direction: Literal["in", "out"]
    amount: Annotated[int, msgspec.Meta(gt=0, le=10**12)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class CloseCashSession(Message, frozen=True, kw_only=True):
    """A blind count: the cashier declares what is in the drawer (cash) and the card vouchers total."""

    register_id: uuid.UUID
    counted: dict[TenderKind, Money]


# -- replies and events -----------------------------------------------------------------------------


class CartLine(Message, frozen=True, kw_only=True):
    line_id: int
    product_id: uuid.UUID
    sku: str
    name: str
    unit: str  # "unit" or "kg"
    quantity: int  # thousandths
    unit_price: int  # per unit or per kg, tax included
    discount_percent: int = 0
    total: int  # after discount, tax included


class TaxLine(Message, frozen=True, kw_only=True):
    tax_class: str
    rate_percent: int
    gross: int
    net: int
    tax: int


class CartView(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    lines: list[CartLine] = []
    total: int = 0
    taxes: list[TaxLine] = []
    version: int = 0  # increases with every change; 0 again after the register restarted (cart lost)
    session_open: bool = False  # whether the register has an open cash session (else: open one first)


class TenderView(Message, frozen=True, kw_only=True):
    kind: TenderKind
    amount: int  # what was applied to the sale
    tendered: int  # what was handed over
    change: int = 0


class SaleReceipt(Message, frozen=True, kw_only=True):
    sale_id: uuid.UUID
    number: int  # sequential per tenant
    register_id: uuid.UUID
    doc_type: int
    folio: int | None  # None when no folio range was available (the fiscal document waits)
    lines: list[CartLine]
    taxes: list[TaxLine]
    total: int  # sum of lines
    rounding: int  # Ley 20.956 adjustment on the cash part (<= 0 or > 0), CLP only
    to_pay: int  # total + rounding
    tenders: list[TenderView]
    change: int
    created_at: str
    kind: Literal["sale", "return"] = "sale"  # a return (credit note) carries negated amounts
    original_sale_id: uuid.UUID | None = None
    reason: str = ""
    approved_by: uuid.UUID | None = None
    tip: int = 0  # propina paid on top (restaurant tabs): in the tenders, not in total, to_pay or taxes
    tab_id: uuid.UUID | None = None  # the restaurant tab this sale paid (some or all of)


class ReturnableLine(Message, frozen=True, kw_only=True):
    line_no: int  # the line of the sale: ReturnLine.line_no
    product_id: uuid.UUID
    sku: str
    name: str
    unit: str  # "unit" or "kg"
    quantity: int  # sold, thousandths
    returned: int  # already given back by earlier credit notes, thousandths (>= 0)
    returnable: int  # quantity - returned: the most a ReturnLine may still ask for
    unit_price: int
    discount_percent: int = 0
    total: int  # the line as sold, tax included (a partial return refunds it pro rata)


class ReturnableSale(Message, frozen=True, kw_only=True):
    """A sale as the returns screen needs it: what was sold and how much of each line is left to return."""

    sale_id: uuid.UUID
    number: int
    kind: Literal["sale", "return"] = "sale"
    register_id: uuid.UUID
    created_at: str
    doc_type: int
    folio: int | None
    total: int
    rounding: int
    to_pay: int
    tenders: list[TenderView]
    lines: list[ReturnableLine]
    returned_total: int = 0  # sum of the earlier credit notes' totals (>= 0)
    credit_notes: int = 0  # how many credit notes were already made for this sale
    returnable: bool = True  # whether any line has something left to return


class CashSessionView(Message, frozen=True, kw_only=True):
    session_id: uuid.UUID
    register_id: uuid.UUID
    opened_at: str
    float_amount: int
    cash_in: int = 0
    cash_out: int = 0
    expected: dict[str, int] = {}


class ZLine(Message, frozen=True, kw_only=True):
    tender: TenderKind
    expected: int
    counted: int
    difference: int


class ZReport(Message, frozen=True, kw_only=True):
    session_id: uuid.UUID
    register_id: uuid.UUID
    opened_at: str
    closed_at: str
    sales_count: int
    sales_total: int
    lines: list[ZLine]
    # Propinas: paid by the tenders on top of the sales (restaurant tabs), so inside each tender's expected
    # amount; said apart so the drawer's tips can be handed to the staff.
    tips: int = 0
