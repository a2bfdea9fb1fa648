"""The dashboard's kitchen ticket times as pure code over its state (see ``actors.dashboard_totals``).

Two keys of the state::

    kitchen          {station_id: {name, store_id, open: {ticket_id: opened at}, ready, served, prep_count,
                      prep_total, prep_max, serve_total, serve_max}}     today's tickets per station
    kitchen_tickets  {ticket_id: {station, rev, state, opened, prep, serve}}   what each ticket counts

A ticket counts on the day it was opened. Its change replaces what its earlier state counted: the earlier
record is taken away and the new one added, so sums and counts move by the difference and nothing looks at
the rest of the day. A maximum is recomputed over the station's tickets only when the ticket that held it
gives it up (a recalled ticket is no longer served), a few times a day at most. Durations are whole
seconds from opened: ``prep`` to ready, ``serve`` to served (only while served).

``actors.dashboard_totals.count_ticket`` decides whether a change counts (a higher ``rev`` than the one
counted, a ticket of today); this module only does the arithmetic, for it and for the rebuild.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def new_station(name: str = "", store_id: str | None = None) -> dict[str, Any]:
    """A kitchen station's entry with nothing counted yet."""
    return {"name": name, "store_id": store_id, "open": {}, "ready": 0, "served": 0, "prep_count": 0,
            "prep_total": 0, "prep_max": 0, "serve_total": 0, "serve_max": 0}  # fmt: skip


def _instant(value: Any) -> datetime | None:
    """An event's ISO text or a row's datetime (naive from SQLite: UTC) as an aware datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _seconds(start: datetime, end: datetime | None) -> int | None:
    # Whole seconds, never negative (two hub nodes' clocks may disagree by a moment).
    return None if end is None else max(0, (end - start) // timedelta(seconds=1))


def ticket_record(ticket: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(ticket id, what it counts) of a ``KitchenTicketTimed`` payload or a row's fields."""
    opened = _instant(ticket["created_at"])
    if opened is None:
        raise ValueError("a kitchen ticket without its created_at")
    state = str(ticket.get("state", "new"))
    served_at = _instant(ticket.get("served_at")) if state == "served" else None
    return str(ticket["ticket_id"]), {
        "station": str(ticket["station_id"]),
        "rev": int(ticket.get("rev", 0)),
        "state": state,
        "opened": opened.astimezone(UTC).isoformat(timespec="microseconds"),  # one format: they sort as text
        "prep": _seconds(opened, _instant(ticket.get("ready_at"))),
        "serve": _seconds(opened, served_at),
    }


def _contribute(station: dict[str, Any], ticket_id: str, record: dict[str, Any], sign: int) -> None:
    """Add (sign 1) or take away (sign -1) what one ticket counts at its station; maxima only grow here."""
    if record["state"] == "served":
        station["served"] += sign
        station["serve_total"] += sign * (record["serve"] or 0)
        if sign > 0:
            station["serve_max"] = max(station["serve_max"], record["serve"] or 0)
    elif sign > 0:
        station["open"][ticket_id] = record["opened"]
    else:
        station["open"].pop(ticket_id, None)
    if record["state"] == "ready":
        station["ready"] += sign
    if record["prep"] is not None:
        station["prep_count"] += sign
        station["prep_total"] += sign * record["prep"]
        if sign > 0:
            station["prep_max"] = max(station["prep_max"], record["prep"])


def replace_ticket(
    kitchen: dict[str, Any],
    tickets: dict[str, Any],
    ticket_id: str,
    record: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    """Count ``record`` for the ticket instead of what ``tickets`` holds for it (if anything)."""
    station_id = record["station"]
    station = kitchen.get(station_id)
    if station is None:
        station = kitchen[station_id] = new_station()
    if ticket.get("station_name"):
        station["name"] = str(ticket["station_name"])
    if ticket.get("store_id") and not station["store_id"]:
        station["store_id"] = str(ticket["store_id"])
    earlier = tickets.get(ticket_id)
    held: set[str] = set()  # maxima the earlier state held and this one gives up
    if earlier is not None:
        old_id = earlier["station"]
        old = kitchen.setdefault(old_id, new_station())
        _contribute(old, ticket_id, earlier, -1)
        held = {
            name for name in ("prep", "serve")
            if earlier[name] is not None and earlier[name] >= old[f"{name}_max"]
            and (old_id != station_id or record[name] is None or record[name] < earlier[name])
        }  # fmt: skip
    tickets[ticket_id] = record
    _contribute(station, ticket_id, record, 1)
    if held:
        for name in held:
            old[f"{name}_max"] = max(
                (t[name] for t in tickets.values() if t["station"] == old_id and t[name] is not None),
                default=0,
            )
