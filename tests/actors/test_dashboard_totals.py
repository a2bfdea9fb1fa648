"""The dashboard's pure aggregation: sales and credit notes, idempotency, the day's edges, the other sections,
and a property: any list of sale and return events, repeated and shuffled, gives what a straightforward
recomputation over the distinct documents gives, also over a table that stores copies (as faust does)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, MutableMapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.dashboard_totals import (
    HOURS,
    UnenrichedSaleError,
    apply,
    changes,
    day_bounds,
    hour_starts,
    new_state,
    snapshot,
)
from actors.sales.taxes import net_of_tax, tax_breakdown, tax_rate
from schema.money import round_half_up

TZ = ZoneInfo("America/Santiago")
DAY = date(2025, 3, 3)  # a Monday; Santiago is UTC-3 until April 6
REGISTERS = [str(uuid.UUID(int=i + 1)) for i in range(3)]
PRODUCTS = [str(uuid.UUID(int=100 + i)) for i in range(5)]
CATEGORIES = [str(uuid.UUID(int=200)), None]


def at(hour: int, minute: int = 0, day: date = DAY) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(UTC).isoformat()


def document(
    lines: list[tuple[int, str, int, int, int]],
    *,
    kind: str = "sale",
    register: int = 0,
    when: str | None = None,
    sale_id: str | None = None,
) -> dict[str, Any]:
    """An enriched SaleCompleted/SaleReturned payload; lines are (product, tax class, qty, total, cost),
    given positive and negated for a credit note, as returns.py stores them."""
    sign = -1 if kind == "return" else 1
    taxes = [
        {"tax_class": t.tax_class, "rate_percent": t.rate_percent, "gross": sign * t.gross,
         "net": sign * t.net, "tax": sign * t.tax}
        for t in tax_breakdown([(tax_class, total) for _, tax_class, _, total, _ in lines])
    ]  # fmt: skip
    payload_lines = [
        {"line_id": n, "product_id": PRODUCTS[p], "name": f"Producto {p}", "sku": f"{p:05d}",
         "quantity": sign * qty, "total": sign * total, "cost": sign * cost, "tax_class": tax_class,
         "category_id": CATEGORIES[p % 2], "category": "Lácteos" if p % 2 == 0 else ""}
        for n, (p, tax_class, qty, total, cost) in enumerate(lines, start=1)
    ]  # fmt: skip
    return {
        "sale_id": sale_id or str(uuid.uuid4()), "register_id": REGISTERS[register], "kind": kind,
        "created_at": when or at(12), "total": sign * sum(line[3] for line in lines), "taxes": taxes,
        "lines": payload_lines, "cost": sign * sum(line[4] for line in lines),
        "register_name": f"Caja {register + 1}",
    }  # fmt: skip


def event_of(doc: dict[str, Any]) -> str:
    return "SaleReturned" if doc["kind"] == "return" else "SaleCompleted"


def fresh() -> dict[str, Any]:
    return new_state(DAY, timezone="America/Santiago", currency="CLP")


def test_a_sale_and_its_credit_note() -> None:
    state = fresh()
    sale = document([(0, "cl_iva", 2000, 2380, 1200), (1, "cl_exempt", 1000, 500, 300)], when=at(9, 30))
    assert apply(state, "SaleCompleted", sale, TZ) >= {"totals", "registers", "hours", "products"}
    credit = document([(0, "cl_iva", 1000, 1190, 600)], kind="return", when=at(17, 5))
    apply(state, "SaleReturned", credit, TZ)
    view = snapshot(state)
    t = view.totals
    # IVA 19 % on 2,380: net 2,000; exempt 500: net 500. The credit note takes back 1,000 net + 190 IVA.
    assert (t.count, t.returns, t.sales_total, t.returns_total, t.total) == (1, 1, 2880, -1190, 1690)
    assert (t.net, t.tax, t.cost, t.margin) == (2500 - 1000, 380 - 190, 900, 600)
    assert t.average == 2880  # the average ticket is over sales; returns count apart
    assert view.hours.today[9] == 2880 and view.hours.today[17] == -1190 and sum(view.hours.today) == 1690
    milk = next(p for p in view.top_products if p.product_id == uuid.UUID(PRODUCTS[0]))
    assert (milk.quantity, milk.total, milk.net, milk.cost, milk.margin) == (1000, 1190, 1000, 600, 400)
    dairy = next(c for c in view.top_categories if c.name == "Lácteos")
    assert (dairy.total, dairy.net, dairy.cost) == (1190, 1000, 600)
    [register] = view.registers
    assert (register.name, register.total, register.count, register.returns) == ("Caja 1", 1690, 1, 1)
    assert view.fiscal.counts == {"pending": 2}


def test_a_redelivered_event_counts_once() -> None:
    state = fresh()
    sale = document([(0, "cl_iva", 1000, 1190, 600)])
    assert apply(state, "SaleCompleted", sale, TZ)
    before = snapshot(state)
    assert apply(state, "SaleCompleted", sale, TZ) == set()
    assert apply(state, "SaleCompleted", {**sale, "total": 999_999}, TZ) == set()  # the id decides
    assert snapshot(state) == before


def test_yesterday_is_closed_and_the_first_sale_of_a_new_day_starts_it() -> None:
    state = fresh()
    apply(state, "SaleCompleted", document([(0, "cl_iva", 1000, 1190, 600)], when=at(10)), TZ)
    late = document([(0, "cl_iva", 1000, 5000, 600)], when=at(23, 59, DAY - timedelta(days=1)))
    assert apply(state, "SaleCompleted", late, TZ) == set()
    # 23:30 in Santiago is already tomorrow in UTC, and still today here.
    apply(state, "SaleCompleted", document([(0, "cl_iva", 1000, 100, 0)], when=at(23, 30)), TZ)
    assert snapshot(state).hours.today[23] == 100
    week_later = DAY + timedelta(days=7)
    apply(state, "SaleCompleted", document([(1, "cl_iva", 1000, 700, 0)], when=at(8, 0, week_later)), TZ)
    view = snapshot(state)
    assert view.day == week_later.isoformat() and view.totals.total == 700 and view.totals.count == 1
    assert view.hours.last_week_day == DAY.isoformat()
    assert view.hours.last_week[10] == 1190 and view.hours.last_week[23] == 100
    assert view.registers[0].total == 700  # the register is kept, its figures start again


def test_day_bounds_and_hours_follow_the_zone_across_daylight_saving() -> None:
    start, end = day_bounds(DAY, TZ)
    assert (start.hour, end - start) == (3, timedelta(hours=24))
    spring = date(2024, 9, 8)  # Chile: 00:00 jumps to 01:00
    assert len(hour_starts(spring, TZ)) == 23 and hour_starts(spring, TZ)[0][1] == 1
    autumn = date(2024, 4, 6)  # Chile: 24:00 goes back to 23:00, the day has 25 hours
    start, end = day_bounds(autumn, TZ)
    assert end - start == timedelta(hours=25)
    assert [h for _, h in hour_starts(autumn, TZ)] == list(range(HOURS))
    assert hour_starts(autumn, TZ)[-1] == (end - timedelta(hours=2), 23)


def test_fiscal_states_only_move_forward_and_rejections_are_listed() -> None:
    state = fresh()
    sale = document([(0, "cl_iva", 1000, 1190, 600)])
    apply(state, "SaleCompleted", sale, TZ)
    doc = {"document_id": str(uuid.uuid4()), "sale_id": sale["sale_id"], "doc_type": 39, "folio": 7}
    apply(state, "FiscalDocumentChanged", doc | {"status": "signed", "reason": ""}, TZ)
    apply(state, "FiscalDocumentChanged", doc | {"status": "rejected", "reason": "firma inválida"}, TZ)
    assert apply(state, "FiscalDocumentChanged", doc | {"status": "sent", "reason": ""}, TZ) == set()
    view = snapshot(state)
    assert view.fiscal.counts == {"rejected": 1}
    assert [(r.folio, r.reason) for r in view.fiscal.rejections] == [(7, "firma inválida")]
    for n in range(15):  # older documents' rejections: listed (newest first), bounded, counts unchanged
        other = {"document_id": str(uuid.uuid4()), "sale_id": str(uuid.uuid4()), "doc_type": 39, "folio": n}
        apply(state, "FiscalDocumentChanged", other | {"status": "rejected", "reason": f"r{n}"}, TZ)
    view = snapshot(state)
    assert [r.folio for r in view.fiscal.rejections] == list(range(14, 4, -1))
    assert view.fiscal.counts == {"rejected": 1}


def test_cash_sessions_devices_and_low_stock() -> None:
    state = fresh()
    session = {
        "session_id": str(uuid.uuid4()),
        "register_id": REGISTERS[0],
        "opened_at": at(8),
        "float_amount": 20000,
    }
    apply(state, "CashSessionClosed", session | {"sales_total": 0}, TZ)
    assert apply(state, "CashSessionOpened", session, TZ) == set()  # late: it is closed already
    apply(state, "CashSessionOpened", session | {"session_id": str(uuid.uuid4())}, TZ)
    assert [c.float_amount for c in snapshot(state).cash_sessions] == [20000]

    printer = str(uuid.uuid4())
    status = {"device_id": printer, "kind": "printer", "name": "Impresora", "register_id": REGISTERS[0],
              "connected": True, "online": True, "paper_out": True}  # fmt: skip
    apply(state, "DeviceStatusChanged", status, TZ)
    for n, job_state in enumerate(["held", "held", "queued", "failed"]):
        apply(
            state,
            "PrintJobChanged",
            {"job_id": str(uuid.UUID(int=n)), "device_id": printer, "state": job_state},
            TZ,
        )
    apply(
        state,
        "PrintJobChanged",
        {"job_id": str(uuid.UUID(int=1)), "device_id": printer, "state": "printed"},
        TZ,
    )
    [device] = snapshot(state).devices
    assert (device.paper_out, device.held, device.waiting, device.failed_today) == (True, 1, 1, 1)

    warehouse = str(uuid.uuid4())
    low = {"warehouse_id": warehouse, "product_id": PRODUCTS[0], "sku": "1", "name": "Leche",
           "quantity": 2000, "min_stock": 5000}  # fmt: skip
    apply(state, "LowStock", low, TZ)
    assert [(i.name, i.quantity) for i in snapshot(state).low_stock] == [("Leche", 2000)]
    received = {"warehouse_id": warehouse, "levels": [{"product_id": PRODUCTS[0], "quantity": 12000}]}
    assert apply(state, "StockReceived", received, TZ) == {"low_stock"}
    assert snapshot(state).low_stock == [] and snapshot(state).low_stock_count == 0


def test_a_sale_without_its_costs_and_tax_classes_is_refused() -> None:
    sale = document([(0, "cl_iva", 1000, 1190, 600)])
    for line in sale["lines"]:
        del line["tax_class"]
    with pytest.raises(UnenrichedSaleError):
        apply(fresh(), "SaleCompleted", sale, TZ)


def test_changes_carry_only_the_sections_asked_for() -> None:
    state = fresh()
    changed = apply(state, "SaleCompleted", document([(0, "cl_iva", 1000, 1190, 600)]), TZ)
    change = changes(state, changed)
    assert change.totals is not None and change.top_products is not None
    assert change.devices is None and change.cash_sessions is None and change.low_stock is None


# -- the property ------------------------------------------------------------------------------------


class CopyingTable(MutableMapping[str, Any]):
    """Stores every value serialised, hands out copies: mutating a value read from it changes nothing."""

    def __init__(self, initial: dict[str, Any]) -> None:
        self.data = {k: json.dumps(v) for k, v in initial.items()}

    def __getitem__(self, key: str) -> Any:
        return json.loads(self.data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = json.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


LINE = st.tuples(
    st.integers(0, len(PRODUCTS) - 1),
    st.sampled_from(["cl_iva", "cl_exempt", "ec_iva15"]),
    st.integers(1, 5).map(lambda n: n * 1000),
    st.integers(0, 200_000),
    st.integers(0, 100_000),
)
DOC = st.builds(
    lambda lines, kind, register, hour, minute, yesterday: document(
        lines, kind=kind, register=register, when=at(hour, minute, DAY - timedelta(days=yesterday))
    ),
    st.lists(LINE, min_size=1, max_size=4),
    st.sampled_from(["sale", "sale", "return"]),
    st.integers(0, len(REGISTERS) - 1),
    st.integers(0, 23),
    st.integers(0, 59),
    st.sampled_from([0, 0, 0, 1]),
)


def recompute(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The day's figures from the distinct documents of the day, the obvious way."""
    today = [
        d
        for d in {d["sale_id"]: d for d in docs}.values()
        if d["created_at"] >= day_bounds(DAY, TZ)[0].isoformat()
    ]
    sales = [d for d in today if d["kind"] == "sale"]
    tax = sum(t["tax"] for d in today for t in d["taxes"])
    total = sum(d["total"] for d in today)
    cost = sum(d["cost"] for d in today)
    hours = [0] * HOURS
    for d in today:
        hours[datetime.fromisoformat(d["created_at"]).astimezone(TZ).hour] += d["total"]
    registers = {}
    for rid in {d["register_id"] for d in today}:
        mine = [d for d in today if d["register_id"] == rid]
        registers[rid] = (sum(d["total"] for d in mine), sum(1 for d in mine if d["kind"] == "sale"))
    products: dict[str, dict[str, Any]] = {}
    for line in (line for d in today for line in d["lines"]):
        p = products.setdefault(line["product_id"], {"gross": {}, "cost": 0, "quantity": 0})
        p["gross"][line["tax_class"]] = p["gross"].get(line["tax_class"], 0) + line["total"]
        p["cost"] += line["cost"]
        p["quantity"] += line["quantity"]
    figures = {
        pid: (p["quantity"], sum(p["gross"].values()),
              sum(net_of_tax(g, tax_rate(c)) for c, g in p["gross"].items()), p["cost"])
        for pid, p in products.items()
    }  # fmt: skip
    sales_total = sum(d["total"] for d in sales)
    return {
        "totals": (len(sales), len(today) - len(sales), sales_total, total, total - tax, tax, cost,
                   round_half_up(sales_total, len(sales)) if sales else 0),
        "hours": hours, "registers": registers, "products": figures, "documents": len(today),
    }  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(DOC, max_size=25), data=st.data())
def test_any_events_with_repeats_equal_a_recomputation(
    docs: list[dict[str, Any]], data: st.DataObject
) -> None:
    repeats = data.draw(st.lists(st.sampled_from(docs), max_size=15)) if docs else []
    events = data.draw(st.permutations(docs + repeats))
    plain, table = fresh(), CopyingTable(fresh())
    for doc in events:
        apply(plain, event_of(doc), doc, TZ)
        apply(table, event_of(doc), doc, TZ)
    view = snapshot(plain)
    assert snapshot(table) == view  # the same through a table of copies (faust's)
    expected = recompute(docs)
    t = view.totals
    assert (t.count, t.returns, t.sales_total, t.total, t.net, t.tax, t.cost, t.average) == expected["totals"]
    assert view.hours.today == expected["hours"]
    assert {str(r.register_id): (r.total, r.count) for r in view.registers} == expected["registers"]
    shown = {str(p.product_id): (p.quantity, p.total, p.net, p.cost) for p in view.top_products}
    assert shown == expected["products"]  # five products: all of them are in the top ten
    assert sum(view.fiscal.counts.values()) == expected["documents"]


# -- kitchen ticket times ------------------------------------------------------------------------------

STATIONS = [str(uuid.UUID(int=300 + i)) for i in range(2)]


def timed(
    ticket: int,
    rev: int,
    state: str,
    opened: str,
    *,
    ready: str | None = None,
    served: str | None = None,
    station: int = 0,
) -> dict[str, Any]:
    """A KitchenTicketTimed payload as the outbox carries it."""
    return {"ticket_id": str(uuid.UUID(int=1000 + ticket)), "station_id": STATIONS[station],
            "station_name": f"Estación {station}", "store_id": str(uuid.UUID(int=9)), "state": state,
            "rev": rev, "created_at": opened, "ready_at": ready, "served_at": served}  # fmt: skip


def test_kitchen_ticket_times_per_station() -> None:
    state = fresh()
    events = [
        timed(1, 1, "new", at(12)),
        timed(2, 2, "new", at(12, 5)),
        timed(1, 3, "in_progress", at(12)),
        timed(1, 4, "ready", at(12), ready=at(12, 10)),  # 10 minutes to prepare
        timed(1, 5, "served", at(12), ready=at(12, 10), served=at(12, 12)),
        timed(2, 6, "ready", at(12, 5), ready=at(12, 25)),  # 20 minutes, and waiting at the pass
        timed(3, 7, "new", at(12, 30)),
        timed(4, 1, "new", at(12, 1), station=1),
    ]
    for event in events:
        assert apply(state, "KitchenTicketTimed", event, TZ) == {"kitchen"}
    hot, cold = snapshot(state).kitchen
    assert (hot.name, hot.open, hot.ready_waiting, hot.served, hot.prep_count) == ("Estación 0", 2, 1, 1, 2)
    assert (hot.prep_avg_s, hot.prep_max_s, hot.serve_avg_s, hot.serve_max_s) == (900, 1200, 720, 720)
    assert hot.oldest_open_at == datetime.fromisoformat(at(12, 5)).isoformat(timespec="milliseconds")
    assert (cold.open, cold.served, cold.prep_avg_s) == (1, 0, 0)
    # The change carries the kitchen and nothing else.
    change = changes(state, {"kitchen"})
    assert change.kitchen is not None and change.totals is None


def test_a_kitchen_event_twice_or_late_counts_once() -> None:
    state = fresh()
    opened, ready, served = at(13), at(13, 8), at(13, 20)
    apply(state, "KitchenTicketTimed", timed(1, 1, "new", opened), TZ)
    apply(state, "KitchenTicketTimed", timed(1, 2, "ready", opened, ready=ready), TZ)
    served_event = timed(1, 3, "served", opened, ready=ready, served=served)
    apply(state, "KitchenTicketTimed", served_event, TZ)
    view = snapshot(state).kitchen
    assert apply(state, "KitchenTicketTimed", served_event, TZ) == set()  # redelivered
    assert apply(state, "KitchenTicketTimed", timed(1, 2, "ready", opened, ready=ready), TZ) == set()  # late
    assert apply(state, "KitchenTicketTimed", timed(1, 1, "new", opened), TZ) == set()
    assert snapshot(state).kitchen == view
    [station] = view
    assert (station.open, station.served, station.prep_avg_s, station.serve_avg_s) == (0, 1, 480, 1200)


def test_a_recalled_ticket_gives_up_its_serving_time_and_the_maximum_follows() -> None:
    state = fresh()
    quick = [timed(1, 1, "new", at(14)), timed(1, 2, "served", at(14), ready=at(14, 4), served=at(14, 5))]
    slow = [timed(2, 3, "new", at(14)), timed(2, 4, "served", at(14), ready=at(14, 30), served=at(14, 40))]
    for event in quick + slow:
        apply(state, "KitchenTicketTimed", event, TZ)
    assert snapshot(state).kitchen[0].serve_max_s == 2400
    apply(state, "KitchenTicketTimed", timed(2, 5, "ready", at(14), ready=at(14, 30)), TZ)  # recalled
    [station] = snapshot(state).kitchen
    assert (station.open, station.ready_waiting, station.served) == (1, 1, 1)
    assert (station.serve_max_s, station.serve_avg_s, station.prep_max_s) == (300, 300, 1800)
    apply(state, "KitchenTicketTimed", timed(2, 6, "served", at(14), ready=at(14, 30), served=at(14, 50)), TZ)
    assert snapshot(state).kitchen[0].serve_max_s == 3000


def test_kitchen_tickets_of_an_earlier_day_do_not_count_and_a_new_day_starts_empty() -> None:
    state = fresh()
    yesterday = DAY - timedelta(days=1)
    assert apply(state, "KitchenTicketTimed", timed(1, 1, "new", at(23, 50, yesterday)), TZ) == set()
    apply(state, "KitchenTicketTimed", timed(2, 2, "new", at(22)), TZ)
    assert snapshot(state).kitchen[0].open == 1
    tomorrow = timed(3, 3, "new", at(0, 10, DAY + timedelta(days=1)))
    assert "totals" in apply(state, "KitchenTicketTimed", tomorrow, TZ)  # a new day: every section
    [station] = snapshot(state).kitchen
    assert (station.open, station.oldest_open_at is not None) == (1, True)  # today's ticket only


# The property: random ticket lives, their events delivered with repeats and in any order.

LIFE = st.tuples(
    st.integers(0, len(STATIONS) - 1),
    st.integers(8 * 60, 22 * 60),  # opened at this minute of the day
    st.lists(st.integers(0, 40 * 60), min_size=0, max_size=5),  # seconds between its changes
    st.sampled_from([0, 1, 2]),  # once served: not recalled, recalled (ready again), recalled and served
    st.sampled_from([0, 0, 0, 1]),  # days back
)
_STEPS = ["in_progress", "ready", "served"]


def lives(specs: list[tuple[int, int, list[int], int, int]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every event of each ticket's life (revs from one counter, like a station's), and each last state."""
    events, last, rev = [], {}, 0
    for n, (station, minute, gaps, recall, back) in enumerate(specs):
        day = DAY - timedelta(days=back)
        opened = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=TZ).astimezone(UTC)
        moment, ready, served, state = opened, None, None, "new"
        steps = [*_STEPS[: len(gaps)], *(["recalled", "served"][:recall] if len(gaps) >= 3 else [])]
        for step in ["new", *steps]:
            rev += 1
            if step != "new":
                moment += timedelta(seconds=gaps[min(len(gaps) - 1, steps.index(step))] + 1)
            if step == "ready":
                ready = moment
            elif step == "served":
                served = moment
            elif step == "recalled":
                served, step = None, "ready"
            state = step
            times = {"ready": ready and ready.isoformat(), "served": served and served.isoformat()}
            event = timed(n, rev, state, opened.isoformat(), station=station, **times)
            events.append(event)
            last[event["ticket_id"]] = event
    return events, last


def kitchen_recompute(last: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Per station from each ticket's last state, the obvious way."""
    start, end = (d.isoformat() for d in day_bounds(DAY, TZ))
    out: dict[str, list[Any]] = {}
    for t in last.values():
        opened = datetime.fromisoformat(t["created_at"])
        if not start <= opened.isoformat() < end:
            continue
        s = out.setdefault(t["station_id"], [0, 0, 0, [], []])
        s[0] += t["state"] != "served"
        s[1] += t["state"] == "ready"
        s[2] += t["state"] == "served"
        if t["ready_at"]:
            s[3].append((datetime.fromisoformat(t["ready_at"]) - opened) // timedelta(seconds=1))
        if t["state"] == "served":
            s[4].append((datetime.fromisoformat(t["served_at"]) - opened) // timedelta(seconds=1))
    return {
        sid: (o, r, sv, round_half_up(sum(p), len(p)) if p else 0, max(p, default=0),
              round_half_up(sum(w), len(w)) if w else 0, max(w, default=0))
        for sid, (o, r, sv, p, w) in out.items()
    }  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(LIFE, max_size=12), data=st.data())
def test_any_kitchen_events_with_repeats_in_any_order_equal_each_tickets_last_state(
    specs: list[tuple[int, int, list[int], int, int]], data: st.DataObject
) -> None:
    events, last = lives(specs)
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    shuffled = data.draw(st.permutations(events + repeats))
    plain, table = fresh(), CopyingTable(fresh())
    for event in shuffled:
        apply(plain, "KitchenTicketTimed", event, TZ)
        apply(table, "KitchenTicketTimed", event, TZ)
    view = snapshot(plain).kitchen
    assert snapshot(table).kitchen == view
    shown = {
        str(k.station_id): (k.open, k.ready_waiting, k.served, k.prep_avg_s, k.prep_max_s, k.serve_avg_s,
                            k.serve_max_s)
        for k in view
    }  # fmt: skip
    assert shown == kitchen_recompute(last)
