"""The owner dashboard's figures as pure code over a mapping: ``apply`` one event, read a ``snapshot``.

Pure code over a ``MutableMapping[str, Any]`` so the same functions run in the hub's ``DashboardActor`` and
over a faust Table in ``storehub worker`` (``hub.worker.dashboards``). Values are JSON-like (dicts, lists,
ints, strings); ``apply`` reads each top-level value it needs once and assigns every one it read back at
the end, because a faust Table persists what is assigned, not what is mutated in place (its values are
copies).

Incremental: an event changes a few numbers (per line of its sale); nothing here looks at the whole day.
Idempotent: the ids of the sales and credit notes counted today are kept (with the state of their fiscal
document), so an event delivered twice (the outbox delivers at least once; a rebuild overlaps the live
stream) counts once. Only today's ids are kept: a new day starts an empty set.

Sale events must be *enriched* before ``apply``: a ``SaleReceipt`` carries neither the cost of goods nor the
lines' tax classes and categories, which margins need. ``actors.dashboard`` adds ``cost``, per line
``cost``, ``tax_class``, ``category_id`` and ``category``, the sale's ``register_name`` and, optionally,
``stock`` (the sold products' current levels, for the low-stock list).

State (keys of the mapping)::

    day, timezone, currency      "YYYY-MM-DD" in the tenant's zone, its IANA name, ISO 4217
    sales        {sale_id: state of its fiscal document}   today's counted documents
    fiscal       {state: count}                            today's documents by state
    totals       {count, returns, sales_total, returns_total, net, tax, cost}
    registers    {register_id: {name, total, count, returns}}
    hours        {"YYYY-MM-DD": [24 totals]}               today and up to a week back
    products     {product_id: {name, sku, unit, quantity, gross: {tax_class: total}, cost}}
    categories   {category_id or "": {name, gross: {tax_class: total}, cost}}
    warehouses   {warehouse_id: name}
    low_stock    {"<warehouse>:<product>": {warehouse_id, product_id, sku, name, quantity, min_stock}}
    rejections   [{document_id, sale_id, doc_type, folio, reason, authority_state}]   newest first
    cash         {session_id: {register_id, opened_at, float_amount}}                open sessions
    closed       {session_id: 1}     closed today: a late "opened" event must not bring one back
    devices      {device_id: {kind, name, register_id, connected, online, paper_out, paper_near_end,
                  cover_open, error, detail, jobs: {job_id: open state}, failed: {job_id: 1}}}
    kitchen, kitchen_tickets   today's kitchen tickets per station, and what each counts there
                               (``actors.dashboard_kitchen``)

Kitchen tickets (``KitchenTicketTimed``) count on the day they were opened. A ticket's change replaces what
its earlier state counted, and only if its ``rev`` (the station's change number) is higher than the one
counted: a redelivered event, or one the rebuild had already read, changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Final

from actors.dashboard_kitchen import new_station, replace_ticket, ticket_record
from actors.dashboard_view import HOURS, SECTIONS, State, changes, snapshot, totals_view
from actors.sales.taxes import tax_rate
from schema.errors import ValidationError

__all__ = [
    "HOURS", "KITCHEN_EVENT", "SECTIONS", "State", "apply", "cash_entry", "changes", "count_product",
    "count_sales", "count_ticket", "low_level", "new_device", "new_state", "new_station", "snapshot",
    "start_day", "totals_view",
]  # fmt: skip


MAX_REJECTIONS: Final = 10
HISTORY_DAYS: Final = 7  # hours kept back, for "the same weekday last week"
SALE_EVENTS: Final = frozenset({"SaleCompleted", "SaleReturned"})
KITCHEN_EVENT: Final = "KitchenTicketTimed"
# A document's state only moves forward; a late event (older than what a rebuild read) must not undo it.
_RANK: Final = {
    "pending": 0,
    "signed": 1,
    "sent": 2,
    "accepted": 3,
    "accepted_with_objections": 3,
    "rejected": 3,
}
_OPEN_JOBS: Final = frozenset({"queued", "sent", "held"})
# What a new day empties (stock, cash sessions, devices and rejections are not about one day).
_DAY_KEYS: Final = ("sales", "fiscal", "products", "categories", "closed", "kitchen_tickets")
_DEVICE: Final = {
    "kind": "printer", "name": "", "register_id": None, "connected": False, "online": False,
    "paper_out": False, "paper_near_end": False, "cover_open": False, "error": False, "detail": "",
}  # fmt: skip


class UnenrichedSaleError(ValidationError):
    """A sale event reached ``apply`` without the facts its margins need (cost and tax class per line)."""

    code = "unenriched_sale"


def new_device(**fields: Any) -> dict[str, Any]:
    """A device's entry: its status fields, its open print jobs and the jobs that failed today."""
    return {**_DEVICE, **fields, "jobs": {}, "failed": {}}


def low_level(level: dict[str, Any]) -> dict[str, Any]:
    """A low-stock entry from an event's or a query's fields."""
    return {
        "warehouse_id": str(level["warehouse_id"]), "product_id": str(level["product_id"]),
        "sku": str(level.get("sku", "")), "name": str(level.get("name", "")),
        "quantity": int(level["quantity"]), "min_stock": int(level["min_stock"]),
    }  # fmt: skip


def _empty_totals() -> dict[str, int]:
    return {"count": 0, "returns": 0, "sales_total": 0, "returns_total": 0, "net": 0, "tax": 0, "cost": 0}


def new_state(day: date, *, timezone: str = "UTC", currency: str = "CLP") -> dict[str, Any]:
    state: dict[str, Any] = {
        key: {} for key in (*_DAY_KEYS, "registers", "warehouses", "low_stock", "cash", "devices", "kitchen")
    }
    state.update(day=day.isoformat(), timezone=timezone, currency=currency, totals=_empty_totals())
    state.update(hours={day.isoformat(): [0] * HOURS}, rejections=[])
    return state


def start_day(state: State, day: date) -> None:
    """A new day: empty the day's figures; keep names, stock, cash sessions, devices and a week of hours."""
    for key in _DAY_KEYS:
        state[key] = {}
    state["totals"] = _empty_totals()
    registers = state["registers"]
    for register in registers.values():
        register.update(total=0, count=0, returns=0)
    state["registers"] = registers
    oldest = (day - timedelta(days=HISTORY_DAYS)).isoformat()
    hours = {d: v for d, v in state["hours"].items() if oldest <= d < day.isoformat()}
    hours[day.isoformat()] = [0] * HOURS
    state["hours"] = hours
    for device in state["devices"].values():
        device["failed"] = {}
    state["devices"] = state["devices"]
    kitchen = state["kitchen"]
    for station_id, station in kitchen.items():
        kitchen[station_id] = new_station(station["name"], station["store_id"])
    state["kitchen"] = kitchen
    state["day"] = day.isoformat()


# -- time --------------------------------------------------------------------------------------------


def local_day(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and the next one starts in ``tz`` (23 to 25 hours apart)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def hour_starts(day: date, tz: tzinfo) -> list[tuple[datetime, int]]:
    """(UTC instant, local hour) where each local hour of ``day`` begins, ascending.

    Walked in 15-minute steps because every zone's offset is a multiple of 15 minutes. When DST ends the
    repeated hour is one entry two hours long (both count as that hour); a skipped hour has no entry.
    """
    start, end = day_bounds(day, tz)
    points = [(start, start.astimezone(tz).hour)]
    moment = start + timedelta(minutes=15)
    while moment < end:
        hour = moment.astimezone(tz).hour
        if hour != points[-1][1]:
            points.append((moment, hour))
        moment += timedelta(minutes=15)
    return points


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- applying events ---------------------------------------------------------------------------------


class _Working(dict[str, Any]):
    """The top-level values one event reads, each fetched once from the table and all written back at the
    end: a table that keeps copies (faust serialises every value) then sees every change."""

    def __init__(self, table: State) -> None:
        super().__init__()
        self.table = table

    def __missing__(self, key: str) -> Any:
        value = self[key] = self.table[key]
        return value


def apply(state: State, event: str, payload: Any, tz: tzinfo) -> set[str]:
    """Apply one ``tenant`` stream event (payload as JSON builtins); returns the sections it changed."""
    work = _Working(state)
    if event in SALE_EVENTS:
        changed = _sale(work, payload, tz)
    elif event == "FiscalDocumentChanged":
        changed = _fiscal(work, payload)
    elif event in ("LowStock", "StockReceived"):
        changed = _stock(work, event, payload)
    elif event in ("CashSessionOpened", "CashSessionClosed"):
        changed = _cash(work, event, payload)
    elif event in ("DeviceStatusChanged", "PrintJobChanged"):
        changed = _device(work, event, payload)
    elif event == KITCHEN_EVENT:
        changed = count_ticket(work, payload, tz)
    else:
        return set()
    if changed:
        state.update(work)
    return changed


def count_sales(
    state: State, register_id: str, hour: int, kind: str, n: int, total: int, tax: int, cost: int
) -> None:
    """Add ``n`` documents of ``kind`` summing to ``total`` (tax included), ``tax`` and ``cost``.

    Shared by ``apply`` (one document) and the rebuild from the database (aggregates), so both add up the
    same way.
    """
    totals = state["totals"]
    if kind == "sale":
        totals["count"] += n
        totals["sales_total"] += total
    else:
        totals["returns"] += n
        totals["returns_total"] += total
    totals["net"] += total - tax
    totals["tax"] += tax
    totals["cost"] += cost
    register = state["registers"].setdefault(register_id, {"name": "", "total": 0, "count": 0, "returns": 0})
    register["total"] += total
    register["count" if kind == "sale" else "returns"] += n
    state["hours"].setdefault(state["day"], [0] * HOURS)[hour] += total


def count_product(
    state: State, product: dict[str, Any], tax_class: str, quantity: int, total: int, cost: int
) -> None:
    """Add to a product and its category; ``product`` has product_id, name, sku, category_id, category."""
    tax_rate(tax_class)  # an unknown class is an error, never a silent 0 %
    row = state["products"].setdefault(
        product["product_id"],
        {
            "name": product["name"],
            "sku": product.get("sku", ""),
            "unit": product.get("unit") or "unit",
            "quantity": 0,
            "gross": {},
            "cost": 0,
        },
    )
    row["quantity"] += quantity
    row["gross"][tax_class] = row["gross"].get(tax_class, 0) + total
    row["cost"] += cost
    category = state["categories"].setdefault(
        product.get("category_id") or "", {"name": product.get("category") or "", "gross": {}, "cost": 0}
    )
    category["gross"][tax_class] = category["gross"].get(tax_class, 0) + total
    category["cost"] += cost


def _sale(state: State, sale: dict[str, Any], tz: tzinfo) -> set[str]:
    sale_id = str(sale["sale_id"])
    if sale_id in state["sales"]:
        return set()  # counted already: a redelivery, or the rebuild read it from the database
    moment = _moment(sale["created_at"])
    day = local_day(moment, tz)
    changed = {"totals", "registers", "hours", "products", "categories", "fiscal"}
    if day.isoformat() < state["day"]:
        return set()  # yesterday's, delivered late: yesterday is closed
    if day.isoformat() > state["day"]:
        start_day(state, day)  # the first sale after midnight (the actor usually rolled over already)
        changed.update(SECTIONS)
    register_id = str(sale["register_id"])
    tax = sum(int(t["tax"]) for t in sale.get("taxes", ()))
    kind, total, cost = sale.get("kind", "sale"), int(sale["total"]), int(sale.get("cost", 0))
    count_sales(state, register_id, moment.astimezone(tz).hour, kind, 1, total, tax, cost)
    if sale.get("register_name"):
        state["registers"][register_id]["name"] = sale["register_name"]
    for line in sale.get("lines", ()):
        if "tax_class" not in line or "cost" not in line:
            raise UnenrichedSaleError(
                f"sale {sale_id} lacks its lines' tax classes and costs", sale_id=sale_id
            )
        product = {**line, "product_id": str(line["product_id"])}
        quantity, line_total = int(line["quantity"]), int(line["total"])
        count_product(state, product, line["tax_class"], quantity, line_total, int(line["cost"]))
    status = str(sale.get("fiscal_status", "pending"))
    state["sales"][sale_id] = status
    state["fiscal"][status] = state["fiscal"].get(status, 0) + 1
    if sale.get("stock"):
        for level in sale["stock"]:
            _set_level(state, level)
        changed.add("low_stock")
    return changed


def _fiscal(state: State, change: dict[str, Any]) -> set[str]:
    changed: set[str] = set()
    sale_id, status = str(change["sale_id"]), str(change["status"])
    old = state["sales"].get(sale_id)
    if old is not None and old != status and _RANK.get(status, 0) >= _RANK.get(old, 0):
        state["sales"][sale_id] = status
        counts = state["fiscal"]
        counts[old] = counts.get(old, 0) - 1
        if counts[old] <= 0:
            del counts[old]
        counts[status] = counts.get(status, 0) + 1
        changed.add("fiscal")
    if status == "rejected":
        document_id = str(change["document_id"])
        rejection = {
            "document_id": document_id, "sale_id": sale_id, "doc_type": int(change.get("doc_type", 0)),
            "folio": change.get("folio"), "reason": str(change.get("reason", "")),
            "authority_state": str(change.get("authority_state", "")),
        }  # fmt: skip
        earlier = [r for r in state["rejections"] if r["document_id"] != document_id]
        state["rejections"] = [rejection, *earlier][:MAX_REJECTIONS]
        changed.add("fiscal")
    return changed


def _set_level(state: State, level: dict[str, Any]) -> None:
    """A product's current level in a warehouse: listed while under its minimum, dropped once above."""
    key = f"{level['warehouse_id']}:{level['product_id']}"
    if int(level["quantity"]) < int(level["min_stock"]):
        state["low_stock"][key] = low_level(level)
    else:
        state["low_stock"].pop(key, None)


def _stock(state: State, event: str, payload: dict[str, Any]) -> set[str]:
    if event == "LowStock":
        _set_level(state, payload)
        return {"low_stock"}
    changed: set[str] = set()
    for level in payload.get("levels", ()):  # goods received: a listed product may be back above minimum
        listed = state["low_stock"].get(f"{payload['warehouse_id']}:{level['product_id']}")
        if listed is not None:
            _set_level(state, {**listed, "quantity": level["quantity"]})
            changed.add("low_stock")
    return changed


def cash_entry(register_id: object, opened_at: str, float_amount: int) -> dict[str, Any]:
    return {"register_id": str(register_id), "opened_at": opened_at, "float_amount": int(float_amount)}


def _cash(state: State, event: str, payload: dict[str, Any]) -> set[str]:
    session_id = str(payload["session_id"])
    if event == "CashSessionClosed":
        state["cash"].pop(session_id, None)
        state["closed"][session_id] = 1
        return {"cash"}
    if session_id in state["closed"]:
        return set()
    state["cash"][session_id] = cash_entry(
        payload["register_id"], payload["opened_at"], payload["float_amount"]
    )
    return {"cash"}


def _device(state: State, event: str, payload: dict[str, Any]) -> set[str]:
    device_id = str(payload["device_id"])
    device = state["devices"].get(device_id)
    if device is None:
        device = state["devices"][device_id] = new_device(kind=str(payload.get("kind", "printer")))
    if event == "DeviceStatusChanged":
        for name in _DEVICE:
            if name in payload:
                value = payload[name]
                device[name] = str(value) if name == "register_id" and value is not None else value
    else:
        job_id, job_state = str(payload["job_id"]), str(payload["state"])
        if job_state in _OPEN_JOBS:
            device["jobs"][job_id] = job_state
        else:
            device["jobs"].pop(job_id, None)
            if job_state == "failed":
                device["failed"][job_id] = 1
    return {"devices"}


# -- kitchen tickets -------------------------------------------------------------------------------------


def count_ticket(state: State, ticket: dict[str, Any], tz: tzinfo) -> set[str]:
    """Count one kitchen ticket as it is now (a ``KitchenTicketTimed`` payload, or a row's fields with
    datetimes), replacing what an earlier state of it counted. Shared by ``apply`` and the rebuild from
    the database, so both count alike. Returns the sections it changed (none: not today's, or not newer)."""
    ticket_id, record = ticket_record(ticket)
    earlier = state["kitchen_tickets"].get(ticket_id)
    if earlier is not None and record["rev"] <= earlier["rev"]:
        return set()  # counted already, or older than what is counted
    day = local_day(_moment(record["opened"]), tz).isoformat()
    if day < state["day"]:
        return set()  # opened on an earlier day: not today's figure
    changed = {"kitchen"}
    if day > state["day"]:
        start_day(state, date.fromisoformat(day))
        changed.update(SECTIONS)
    replace_ticket(state["kitchen"], state["kitchen_tickets"], ticket_id, record, ticket)
    return changed
