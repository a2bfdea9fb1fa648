"""Reading the dashboard's state (see ``actors.dashboard_totals``): the whole snapshot, or some sections.

Kept apart from the arithmetic of ``apply`` so each stays small; ``actors.dashboard_totals`` re-exports
``snapshot`` and ``changes``. A product's or category's ``net`` is computed here from its gross per tax class,
so the incremental state and one rebuilt from the database (which sums the same gross) agree to the peso.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from datetime import date, datetime, timedelta
from typing import Any, Final

import msgspec

from actors.sales.taxes import net_of_tax, tax_rate
from schema.messages.dashboard import (
    CategoryTotals,
    DashboardChanged,
    DashboardView,
    DeviceState,
    FiscalSummary,
    HourSeries,
    KitchenStationTimes,
    LowStockItem,
    OpenCash,
    ProductTotals,
    RegisterTotals,
    Totals,
)
from schema.money import round_half_up

State = MutableMapping[str, Any]

TOP: Final = 10
MAX_LOW_STOCK: Final = 50
HOURS: Final = 24


def _net(gross: dict[str, int]) -> int:
    return sum(net_of_tax(total, tax_rate(tax_class)) for tax_class, total in gross.items())


def totals_view(state: State) -> Totals:
    t = state["totals"]
    average = round_half_up(t["sales_total"], t["count"]) if t["count"] else 0
    total, margin = t["sales_total"] + t["returns_total"], t["net"] - t["cost"]
    return msgspec.convert(t | {"total": total, "margin": margin, "average": average}, Totals)


def _registers(state: State) -> list[RegisterTotals]:
    rows = [
        msgspec.convert(r | {"register_id": rid}, RegisterTotals) for rid, r in state["registers"].items()
    ]
    return sorted(rows, key=lambda r: (r.name, str(r.register_id)))


def _hours(state: State) -> HourSeries:
    before = (date.fromisoformat(state["day"]) - timedelta(days=7)).isoformat()
    hours = state["hours"]
    empty = [0] * HOURS
    return HourSeries(
        today=list(hours.get(state["day"], empty)),
        last_week=list(hours.get(before, empty)),
        last_week_day=before,
    )


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    net = _net(row["gross"])
    return {"name": row["name"], "total": sum(row["gross"].values()), "net": net, "cost": row["cost"],
            "margin": net - row["cost"]}  # fmt: skip


def _products(state: State) -> list[ProductTotals]:
    rows = [
        msgspec.convert(
            _figures(p) | {"product_id": pid, "sku": p["sku"], "unit": p["unit"], "quantity": p["quantity"]},
            ProductTotals,
        )
        for pid, p in state["products"].items()
    ]
    rows.sort(key=lambda r: (-r.total, r.name, str(r.product_id)))
    return rows[:TOP]


def _categories(state: State) -> list[CategoryTotals]:
    rows = [
        msgspec.convert(_figures(c) | {"category_id": cid or None}, CategoryTotals)
        for cid, c in state["categories"].items()
    ]
    rows.sort(key=lambda r: (-r.total, r.name))
    return rows[:TOP]


def _low_stock(state: State) -> list[LowStockItem]:
    names = state["warehouses"]
    # Most urgent first: the smallest share of the minimum left (an integer key, no floats).
    items = sorted(
        state["low_stock"].values(),
        key=lambda i: (i["quantity"] * 1000 // max(i["min_stock"], 1), i["name"], i["product_id"]),
    )
    return [
        msgspec.convert(i | {"warehouse": names.get(i["warehouse_id"], "")}, LowStockItem)
        for i in items[:MAX_LOW_STOCK]
    ]


def _fiscal(state: State) -> FiscalSummary:
    counts = {k: v for k, v in sorted(state["fiscal"].items()) if v}
    return msgspec.convert({"counts": counts, "rejections": state["rejections"]}, FiscalSummary)


def _cash(state: State) -> list[OpenCash]:
    registers = state["registers"]
    rows = [
        msgspec.convert(
            c | {"session_id": sid, "register": registers.get(c["register_id"], {}).get("name", "")}, OpenCash
        )
        for sid, c in state["cash"].items()
    ]
    return sorted(rows, key=lambda c: (c.opened_at, c.register))


def _devices(state: State) -> list[DeviceState]:
    rows = []
    for did, d in state["devices"].items():
        jobs, failed = d["jobs"].values(), d["failed"]
        fields = {k: v for k, v in d.items() if k not in ("jobs", "failed")}
        held = sum(1 for s in jobs if s == "held")
        extra = {"device_id": did, "held": held, "waiting": len(jobs) - held, "failed_today": len(failed)}
        rows.append(msgspec.convert(fields | extra, DeviceState))
    return sorted(rows, key=lambda d: (d.kind, d.name, str(d.device_id)))


def _average(total: int, n: int) -> int:
    return round_half_up(total, n) if n else 0


def _kitchen(state: State) -> list[KitchenStationTimes]:
    rows = []
    for sid, k in state["kitchen"].items():
        oldest = min(k["open"].values(), default=None)
        if oldest is not None:  # in milliseconds, which every browser's Date parses
            oldest = datetime.fromisoformat(oldest).isoformat(timespec="milliseconds")
        fields = {
            "station_id": sid, "store_id": k["store_id"], "name": k["name"], "open": len(k["open"]),
            "ready_waiting": k["ready"], "oldest_open_at": oldest, "served": k["served"],
            "prep_count": k["prep_count"], "prep_avg_s": _average(k["prep_total"], k["prep_count"]),
            "prep_max_s": k["prep_max"], "serve_avg_s": _average(k["serve_total"], k["served"]),
            "serve_max_s": k["serve_max"],
        }  # fmt: skip
        rows.append(msgspec.convert(fields, KitchenStationTimes))
    return sorted(rows, key=lambda k: (k.name, str(k.station_id)))


# Section name -> the DashboardChanged fields it fills.
_SECTIONS: Final[dict[str, Callable[[State], dict[str, Any]]]] = {
    "totals": lambda s: {"totals": totals_view(s)},
    "registers": lambda s: {"registers": _registers(s)},
    "hours": lambda s: {"hours": _hours(s)},
    "products": lambda s: {"top_products": _products(s)},
    "categories": lambda s: {"top_categories": _categories(s)},
    "low_stock": lambda s: {"low_stock": _low_stock(s), "low_stock_count": len(s["low_stock"])},
    "fiscal": lambda s: {"fiscal": _fiscal(s)},
    "cash": lambda s: {"cash_sessions": _cash(s)},
    "devices": lambda s: {"devices": _devices(s)},
    "kitchen": lambda s: {"kitchen": _kitchen(s)},
}


SECTIONS: Final = tuple(_SECTIONS)


def snapshot(state: State) -> DashboardView:
    fields: dict[str, Any] = {}
    for build in _SECTIONS.values():
        fields.update(build(state))
    return DashboardView(day=state["day"], timezone=state["timezone"], currency=state["currency"], **fields)


def changes(state: State, sections: Iterable[str], *, reset: bool = False) -> DashboardChanged:
    """A ``DashboardChanged`` carrying only ``sections`` (each whole)."""
    fields: dict[str, Any] = {}
    for section in sections:
        fields.update(_SECTIONS[section](state))
    return DashboardChanged(day=state["day"], reset=reset, **fields)
