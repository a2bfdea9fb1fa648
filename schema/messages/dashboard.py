"""The owner's live dashboard: the snapshot ``dashboard.get`` answers and the ``DashboardChanged`` event.

Wire type -> payload struct (owners and managers; cashiers and kitchen staff get ``forbidden``):

    dashboard.get   GetDashboard   reply DashboardView

A client follows the ``tenant`` stream and asks ``dashboard.get`` when it (re)subscribes without a resume
(live.js calls that a reset). The snapshot carries ``seq``/``epoch``: the ``tenant`` stream position of the
last ``DashboardChanged`` published before it (the snapshot holds at least that much). Events with a higher
``seq`` are applied on top of it, also those that overtook the reply on the socket; lower ones are older
and dropped.

``DashboardChanged`` (on ``tenant``, at most ~5 a second per tenant) carries only the sections that changed,
each whole: a client replaces the sections that are present and keeps the others. ``reset`` means the
hub rebuilt its figures (a restart, midnight in the tenant's time zone): ask ``dashboard.get`` again.

Money is integer minor units of ``currency``; quantities thousandths of the unit. ``total`` is tax
included; credit notes count negatively (they are stored negated), so every figure is net of returns.
``net`` is without tax, ``margin`` = ``net`` - ``cost`` (cost of goods at the weighted-average cost, PPP).
A product's or category's ``net`` is taken on its day's gross per tax class; the day's ``net`` is the sum
of what the documents state. Both are exact integers and may differ by rounding (a peso per document).

Kitchen ticket times (``kitchen``, one row per kitchen station, today's tickets by when they were opened):
every change of a kitchen ticket also writes ``KitchenTicketTimed`` on ``tenant`` (besides the whole ticket
on ``kitchen:<station_id>``), a few hundred bytes with the ticket's state and times only. Durations are
whole seconds: preparation is opened -> ready, to serve is opened -> served.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from schema.wire import Message


class GetDashboard(Message, frozen=True, kw_only=True):
    pass


class Totals(Message, frozen=True, kw_only=True):
    count: int = 0  # sales (tickets); credit notes are counted apart
    returns: int = 0  # credit notes
    sales_total: int = 0  # what the sales came to (>= 0)
    returns_total: int = 0  # what the credit notes gave back (<= 0)
    total: int = 0  # sales_total + returns_total, tax included
    net: int = 0
    tax: int = 0
    cost: int = 0
    margin: int = 0  # net - cost
    average: int = 0  # average ticket: sales_total / count, rounded half up


class RegisterTotals(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    name: str
    total: int = 0
    count: int = 0
    returns: int = 0


class HourSeries(Message, frozen=True, kw_only=True):
    """Totals per local hour (index 0 = 00:00-00:59) of today and of the same weekday a week earlier."""

    today: list[int]
    last_week: list[int]
    last_week_day: str  # YYYY-MM-DD


class ProductTotals(Message, frozen=True, kw_only=True):
    product_id: uuid.UUID
    name: str
    sku: str = ""
    unit: str = "unit"  # "unit" or "kg"
    quantity: int = 0  # thousandths
    total: int = 0
    net: int = 0
    cost: int = 0
    margin: int = 0


class CategoryTotals(Message, frozen=True, kw_only=True):
    category_id: uuid.UUID | None  # None: products without a category
    name: str
    total: int = 0
    net: int = 0
    cost: int = 0
    margin: int = 0


class LowStockItem(Message, frozen=True, kw_only=True):
    warehouse_id: uuid.UUID
    warehouse: str
    product_id: uuid.UUID
    sku: str
    name: str
    quantity: int  # thousandths
    min_stock: int


class Rejection(Message, frozen=True, kw_only=True):
    document_id: uuid.UUID
    sale_id: uuid.UUID
    doc_type: int
    folio: int | None = None
    reason: str = ""
    authority_state: str = ""


class FiscalSummary(Message, frozen=True, kw_only=True):
    counts: dict[str, int] = {}  # today's documents by state (pending, signed, sent, accepted...)
    rejections: list[Rejection] = []  # the latest rejections, newest first (any day)


class OpenCash(Message, frozen=True, kw_only=True):
    session_id: uuid.UUID
    register_id: uuid.UUID
    register: str
    opened_at: str
    float_amount: int


class DeviceState(Message, frozen=True, kw_only=True):
    device_id: uuid.UUID
    kind: str
    name: str
    register_id: uuid.UUID | None = None
    connected: bool = False  # its agent is connected (to any hub node)
    online: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False
    error: bool = False
    detail: str = ""
    held: int = 0  # print jobs the printer holds (no paper, cover open)
    waiting: int = 0  # print jobs queued or sent, not printed yet
    failed_today: int = 0


class KitchenTicketTimed(Message, frozen=True, kw_only=True):
    """Event on ``tenant``: a kitchen ticket opened or changed state (written with the change itself).

    ``rev`` is the station's change number of this change: of two events of one ticket the higher ``rev``
    is the later state, so a redelivered or overtaken event never undoes a newer one.
    """

    ticket_id: uuid.UUID
    station_id: uuid.UUID
    station_name: str = ""
    store_id: uuid.UUID | None = None
    state: str = "new"  # new, in_progress, ready, served
    rev: int = 0
    created_at: datetime
    ready_at: datetime | None = None
    served_at: datetime | None = None


class KitchenStationTimes(Message, frozen=True, kw_only=True):
    """A kitchen station's tickets opened today: what is open now and how long tickets took."""

    station_id: uuid.UUID
    store_id: uuid.UUID | None = None
    name: str
    open: int = 0  # not served yet
    ready_waiting: int = 0  # of those, ready and waiting to be taken to the table
    oldest_open_at: str | None = None  # when the oldest open ticket was opened (its age ticks on screen)
    served: int = 0
    prep_count: int = 0  # tickets that reached ready: the preparation times are theirs
    prep_avg_s: int = 0  # opened -> ready, rounded half up
    prep_max_s: int = 0
    serve_avg_s: int = 0  # opened -> served, over the served tickets
    serve_max_s: int = 0


class DashboardView(Message, frozen=True, kw_only=True):
    day: str  # YYYY-MM-DD in the tenant's time zone
    timezone: str
    currency: str
    seq: int = 0  # the tenant stream position this snapshot includes
    epoch: str = ""
    totals: Totals = Totals()
    registers: list[RegisterTotals] = []
    hours: HourSeries
    top_products: list[ProductTotals] = []
    top_categories: list[CategoryTotals] = []
    low_stock: list[LowStockItem] = []
    low_stock_count: int = 0  # the list shows the most urgent ones only
    fiscal: FiscalSummary = FiscalSummary()
    cash_sessions: list[OpenCash] = []
    devices: list[DeviceState] = []
    kitchen: list[KitchenStationTimes] = []
    server_time: str = ""  # the hub's clock when it answered, so ages on screen do not depend on the phone's


class DashboardChanged(Message, frozen=True, kw_only=True, omit_defaults=True):
    """The sections that changed since the previous event, each whole; absent ones did not change (they are
    left out of the JSON, not sent as null: a sale's event stays around 2 kB)."""

    day: str
    reset: bool = False
    totals: Totals | None = None
    registers: list[RegisterTotals] | None = None
    hours: HourSeries | None = None
    top_products: list[ProductTotals] | None = None
    top_categories: list[CategoryTotals] | None = None
    low_stock: list[LowStockItem] | None = None
    low_stock_count: int | None = None
    fiscal: FiscalSummary | None = None
    cash_sessions: list[OpenCash] | None = None
    devices: list[DeviceState] | None = None
    kitchen: list[KitchenStationTimes] | None = None
