"""The kitchen's hot path on Postgres in few round trips: routing an order and writing a station's ticket.

``actors.kitchen_tickets`` calls these on Postgres; they do what its portable code does (same routing, same
rows, same events), each with ONE statement on the driver connection instead of three to six built by
SQLAlchemy. An order reaches its kitchen screens only after both, so each round trip saved is time a cook
waits less, and under a fan-out to hundreds of screens every round trip also waits its turn on the loop.

* ``route_rows``: the store's stations in order, and each wanted product's name, category and routed
  station, in one query.
* ``write_ticket``: the station's next ``rev`` (``UPDATE ... RETURNING`` on its settings row, which holds
  the row's lock to the commit, as the portable path does), the ticket, its items and its two outbox events
  (``KitchenTicketChanged`` on the station's stream, ``KitchenTicketTimed`` on ``tenant``), whose payloads
  get the rev from the same statement. The items' foreign key to the ticket is checked at the statement's
  end, when both exist.
* ``write_change``: a bump, item_done or recall: the rev, the ticket's state and times, the items whose state
  changed and the two events, also in one statement.

Row-level security applies as on any statement (the transaction runs as ``storehub_app`` with the tenant
set); every statement also names the tenant. A constraint violation is raised as SQLAlchemy's
``IntegrityError``, as the portable path raises it, so callers handle one exception.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import msgspec
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import WrittenEvent, outbox_written
from schema.ids import uuid7
from schema.messages.dashboard import KitchenTicketTimed
from schema.messages.kitchen import KitchenTicketView

T = TypeVar("T")

_ROUTE = """
SELECT s.ids, p.id, p.name, r.station_id
FROM (SELECT coalesce(array_agg(id ORDER BY code, id), '{}') AS ids
      FROM kitchen_stations WHERE tenant_id = $1 AND store_id = $2) AS s
LEFT JOIN products p ON p.tenant_id = $1 AND p.id = ANY($3::uuid[])
LEFT JOIN kitchen_routes r ON r.tenant_id = $1 AND r.store_id = $2 AND r.category_id = p.category_id
"""

# $1 tenant, $2 station, $3 now, $4..$5 the two events' ids, $6..$7 their payloads (rev stamped here).
_EVENTS = """
events AS (
    INSERT INTO outbox (tenant_id, id, stream, event, payload, created_at, published_at)
    SELECT $1, e.id, e.stream, e.event, jsonb_set(e.payload::jsonb, '{rev}', to_jsonb(rev.value))::json, $3,
           NULL
    FROM rev, unnest(ARRAY[$4::uuid, $5::uuid], ARRAY[$8::text, 'tenant'],
                     ARRAY[$9::text, $10::text], ARRAY[$6::text, $7::text]) AS e(id, stream, event, payload)
    RETURNING 1
)
"""

_WRITE_TICKET = f"""
WITH rev AS (
    UPDATE kitchen_settings SET rev = rev + 1 WHERE tenant_id = $1 AND station_id = $2
    RETURNING rev AS value
), ticket AS (
    INSERT INTO kitchen_tickets (tenant_id, id, station_id, store_id, order_id, table_label, server, course,
                                 note, state, rev, created_at, started_at, ready_at, served_at)
    SELECT $1, $11, $2, $12, $13, $14, $15, $16, $17, 'new', rev.value, $18, NULL, NULL, NULL FROM rev
    RETURNING id
), items AS (
    INSERT INTO kitchen_items (tenant_id, ticket_id, line_no, product_id, name, quantity, modifiers, note,
                               state)
    SELECT $1, ticket.id, i.line_no, i.product_id, i.name, i.quantity, i.modifiers::json, i.note, 'new'
    FROM ticket, unnest($19::bigint[], $20::uuid[], $21::text[], $22::bigint[], $23::text[], $24::text[])
                 AS i(line_no, product_id, name, quantity, modifiers, note)
    RETURNING 1
), {_EVENTS}
SELECT value FROM rev
"""  # noqa: S608 - built from constants only, no input in the text

_WRITE_CHANGE = f"""
WITH rev AS (
    UPDATE kitchen_settings SET rev = rev + 1
    WHERE tenant_id = $1 AND station_id = $2
      AND EXISTS (SELECT 1 FROM kitchen_tickets WHERE tenant_id = $1 AND id = $11)
    RETURNING rev AS value
), ticket AS (
    UPDATE kitchen_tickets t SET state = $12, rev = rev.value, started_at = $13, ready_at = $14,
                                 served_at = $15
    FROM rev WHERE t.tenant_id = $1 AND t.id = $11
    RETURNING t.id
), items AS (
    UPDATE kitchen_items k SET state = c.state
    FROM ticket, unnest($16::bigint[], $17::text[]) AS c(line_no, state)
    WHERE k.tenant_id = $1 AND k.ticket_id = ticket.id AND k.line_no = c.line_no
    RETURNING 1
), {_EVENTS}
SELECT value FROM rev
"""  # noqa: S608 - built from constants only, no input in the text


async def _driver(session: AsyncSession) -> Any:
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    return driver


async def _translated(statement: str, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except asyncpg.IntegrityConstraintViolationError as exc:  # as the portable path raises it
        raise IntegrityError(statement, None, exc) from exc


# Per product found: its name and the station its category is routed to (None: no route).
ProductRoutes = dict[uuid.UUID, tuple[str, uuid.UUID | None]]


async def route_rows(
    session: AsyncSession, tenant_id: uuid.UUID, store_id: uuid.UUID, product_ids: list[uuid.UUID]
) -> tuple[list[uuid.UUID], ProductRoutes]:
    """The store's stations (by code) and, per product found, its name and routed station."""
    driver = await _driver(session)
    rows = await driver.fetch(_ROUTE, tenant_id, store_id, product_ids)
    stations = list(rows[0]["ids"])  # the aggregate always gives one row
    products = {row["id"]: (row["name"], row["station_id"]) for row in rows if row["id"] is not None}
    return stations, products


def _events(
    stream: str, event: str, ticket: KitchenTicketView, timed_event: str, timed: KitchenTicketTimed
) -> tuple[list[Any], list[WrittenEvent]]:
    """The two events' statement arguments ($4..$10 of ``_EVENTS``), and their rows as they will be once
    the statement has stamped the rev (``ticket`` and ``timed`` carry it already)."""
    ids = [uuid7(), uuid7()]
    payloads = [msgspec.to_builtins(ticket), msgspec.to_builtins(timed)]
    written = [
        WrittenEvent(ids[0], stream, event, payloads[0]),
        WrittenEvent(ids[1], "tenant", timed_event, payloads[1]),
    ]
    encoded = [msgspec.json.encode(p).decode() for p in payloads]
    return [*ids, *encoded, stream, event, timed_event], written


async def write_ticket(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    store_id: uuid.UUID,
    ticket: KitchenTicketView,
    timed: KitchenTicketTimed,
    names: tuple[str, str, str],
    now: datetime,
) -> int | None:
    """Write a new ticket (``ticket`` and ``timed`` with the rev the caller expects; the statement stamps
    the real one into the events); ``names``: the station's stream, the ticket's event and the timed
    event. The rev, or None when the station has no settings row (nothing was written)."""
    driver = await _driver(session)
    args, written = _events(names[0], names[1], ticket, names[2], timed)
    items = ticket.items
    params = [
        tenant_id, ticket.station_id, now, *args,
        ticket.ticket_id, store_id, ticket.order_id, ticket.table, ticket.server, ticket.course, ticket.note,
        ticket.created_at,
        [i.item_id for i in items], [i.product_id for i in items], [i.name for i in items],
        [i.quantity for i in items], [msgspec.json.encode(i.modifiers).decode() for i in items],
        [i.note for i in items],
    ]  # fmt: skip
    rev = await _translated(_WRITE_TICKET, lambda: driver.fetchval(_WRITE_TICKET, *params))
    if rev is not None:
        _stamp(session, written, rev)
    return rev  # type: ignore[no-any-return]


async def write_change(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    before: KitchenTicketView,
    after: KitchenTicketView,
    timed: KitchenTicketTimed,
    names: tuple[str, str, str],
    now: datetime,
) -> int | None:
    """Write a ticket's new state, times and changed items; the rev, or None when the station has no
    settings row or the ticket is gone (nothing was written)."""
    driver = await _driver(session)
    args, written = _events(names[0], names[1], after, names[2], timed)
    was = {item.item_id: item.state for item in before.items}
    changed = [item for item in after.items if was.get(item.item_id) != item.state]
    params = [
        tenant_id, after.station_id, now, *args,
        after.ticket_id, after.state, after.started_at, after.ready_at, after.served_at,
        [i.item_id for i in changed], [i.state for i in changed],
    ]  # fmt: skip
    rev = await _translated(_WRITE_CHANGE, lambda: driver.fetchval(_WRITE_CHANGE, *params))
    if rev is not None:
        _stamp(session, written, rev)
    return rev  # type: ignore[no-any-return]


def _stamp(session: AsyncSession, written: list[WrittenEvent], rev: int) -> None:
    for item in written:
        item.payload["rev"] = rev
    outbox_written(session).extend(written)
