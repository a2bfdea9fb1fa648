"""Committing a sale on Postgres in few round trips: the checkout's hot path for a hub in production.

``actors.checkout.commit_sale`` calls this on Postgres. It does what the portable path does (same stock
plan, same rows, same events) with four statements on the driver connection instead of sixteen built by
SQLAlchemy, which was most of a checkout's CPU time:

1. the advisory lock on (register, command id), so a resend racing its original waits for it;
2. the sale this command id already made, if any;
3. the stock rows of the sale's products with the product facts, locked in product order;
4. ONE statement with data-modifying CTEs writing everything else: stock levels and movements, the sale
   number (counter upsert), the folio, the sale with its lines and tenders, the pending fiscal document
   and the outbox events, whose payloads get the sale number and folio from the same statement.

The sale counter row is locked before the folio range (the folio CTE reads the counter CTE), the same
order as the portable path, and both are held only for that last statement and the commit. Foreign keys
between rows written by the one statement are checked at its end, when all of them exist. Row-level
security applies as on any statement: the transaction runs as ``storehub_app`` with the tenant set.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from actors.sale_plan import PricedLine, ProductFacts, SaleContext, plan_stock, tax_dict
from actors.sales.settlement import Settlement
from actors.stock import lock_levels
from hub.db import WrittenEvent, outbox_written
from schema.ids import uuid7
from schema.messages.till import SaleReceipt, TaxLine

CHILE = ZoneInfo("America/Santiago")  # CAFs expire by SII's calendar


def chile_today() -> date:
    return datetime.now(CHILE).date()


_ADVISORY_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
_MADE_BY_COMMAND = "SELECT id FROM sales WHERE tenant_id = $1 AND register_id = $2 AND command_id = $3"
_LOCK_STOCK = """
SELECT l.product_id, l.quantity, l.avg_cost, p.sku, p.name, p.min_stock
FROM stock_levels l JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id
WHERE l.tenant_id = $1 AND l.warehouse_id = $2 AND l.product_id = ANY($3::uuid[])
ORDER BY l.product_id
FOR UPDATE OF l
"""
_WRITE_SALE = """
WITH levels AS (
    UPDATE stock_levels l SET quantity = u.quantity, avg_cost = u.avg_cost, updated_at = $3
    FROM unnest($17::uuid[], $18::bigint[], $19::bigint[]) AS u(product_id, quantity, avg_cost)
    WHERE l.tenant_id = $1 AND l.warehouse_id = $2 AND l.product_id = u.product_id
    RETURNING l.product_id
), movements AS (
    INSERT INTO stock_movements (tenant_id, id, warehouse_id, product_id, kind, quantity, cost,
                                 avg_cost_after, quantity_after, ref_id, user_id, created_at)
    SELECT $1, m.id, $2, m.product_id, 'sale', -m.issued, m.cost, m.avg_cost, m.quantity, $4, $8, $3
    FROM unnest($20::uuid[], $17::uuid[], $21::bigint[], $22::bigint[], $19::bigint[], $18::bigint[])
         AS m(id, product_id, issued, cost, avg_cost, quantity)
    RETURNING 1
), number AS (
    INSERT INTO counters (tenant_id, name, value) VALUES ($1, 'sale', 1)
    ON CONFLICT (tenant_id, name) DO UPDATE SET value = counters.value + 1
    RETURNING value
), folio AS (
    UPDATE folio_ranges SET next_folio = next_folio + 1
    WHERE tenant_id = $1 AND next_folio <= last_folio AND (SELECT value FROM number) IS NOT NULL
      AND id = (SELECT id FROM folio_ranges r
                WHERE tenant_id = $1 AND doc_type = $10 AND next_folio <= last_folio
                  AND NOT EXISTS (SELECT 1 FROM caf_files c  -- an expired CAF's folios are refused by SII
                                  WHERE c.tenant_id = $1 AND c.folio_range_id = r.id AND c.expires <= $47)
                ORDER BY first_folio LIMIT 1)
    RETURNING next_folio - 1 AS folio
), sale AS (
    INSERT INTO sales (tenant_id, id, number, kind, original_sale_id, reason, approved_by, register_id,
                       store_id, cash_session_id, user_id, command_id, doc_type, folio, total, rounding,
                       to_pay, change, cost, taxes, created_at, buyer, tip, tab_id)
    SELECT $1, $4, number.value, 'sale', NULL, '', NULL, $5, $6, $7, $8, $9, $10, folio.folio, $11, $12,
           $13, $14, $15, $16::json, $3, $46::json, $48, $49::uuid
    FROM number LEFT JOIN folio ON true
    RETURNING number, folio
), lines AS (
    INSERT INTO sale_lines (tenant_id, sale_id, line_no, product_id, sku, name, unit, tax_class, quantity,
                            unit_price, discount_percent, total, cost)
    SELECT $1, $4, l.* FROM unnest($23::bigint[], $24::uuid[], $25::text[], $26::text[], $27::text[],
                                   $28::text[], $29::bigint[], $30::bigint[], $31::bigint[], $32::bigint[],
                                   $33::bigint[]) AS l
    RETURNING 1
), tenders AS (
    INSERT INTO sale_tenders (tenant_id, sale_id, n, kind, amount, tendered, change)
    SELECT $1, $4, t.*
    FROM unnest($34::bigint[], $35::text[], $36::bigint[], $37::bigint[], $38::bigint[]) AS t
    RETURNING 1
), document AS (
    INSERT INTO fiscal_documents (tenant_id, id, sale_id, doc_type, folio, status, reason, authority_state,
                                  attempts, next_attempt_at, created_at, updated_at)
    SELECT $1, $39, $4, $10, sale.folio, 'pending', CASE WHEN sale.folio IS NULL THEN $40 ELSE '' END, '',
           0, $3, $3, $3
    FROM sale
    RETURNING 1
), events AS (
    INSERT INTO outbox (tenant_id, id, stream, event, payload, created_at, published_at)
    SELECT $1, e.id, e.stream, e.event,
           CASE WHEN e.stamp
                THEN jsonb_set(jsonb_set(e.payload::jsonb, '{number}', to_jsonb(sale.number)),
                               '{folio}', coalesce(to_jsonb(sale.folio), 'null'::jsonb))::json
                ELSE e.payload::json END,
           $3, NULL
    FROM sale, unnest($41::uuid[], $42::text[], $43::text[], $44::text[], $45::bool[])
              AS e(id, stream, event, payload, stamp)
    RETURNING 1
)
SELECT number, folio FROM sale
"""


async def _facts(
    driver: Any, ctx: SaleContext, product_ids: list[uuid.UUID]
) -> dict[uuid.UUID, ProductFacts]:
    rows = await driver.fetch(_LOCK_STOCK, ctx.tenant_id, ctx.warehouse_id, product_ids)
    return {
        row["product_id"]: ProductFacts(
            row["quantity"], row["avg_cost"], row["sku"], row["name"], row["min_stock"]
        )
        for row in rows
    }


async def commit_sale_pg(
    session: AsyncSession,
    ctx: SaleContext,
    command_id: str,
    lines: list[PricedLine],
    taxes: list[TaxLine],
    settlement: Settlement,
    doc_type: int,
    buyer: dict[str, str] | None = None,
    tab_id: uuid.UUID | None = None,
) -> SaleReceipt | uuid.UUID:
    """The receipt of the new sale, or the id of the sale this command id already made."""
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.execute(_ADVISORY_LOCK, f"checkout:{ctx.register_id}:{command_id}")
    made = await driver.fetchval(_MADE_BY_COMMAND, ctx.tenant_id, ctx.register_id, command_id)
    if made is not None:
        return made  # type: ignore[no-any-return]
    product_ids = sorted({priced.line.product_id for priced in lines})
    facts = await _facts(driver, ctx, product_ids)
    if len(facts) < len(product_ids):  # a product never stocked here: create its row at zero, then lock
        await lock_levels(session, ctx.tenant_id, ctx.warehouse_id, product_ids)
        facts = await _facts(driver, ctx, product_ids)
    plan = plan_stock(ctx, lines, facts)
    sale_id, now = uuid7(), datetime.now(UTC)
    receipt = SaleReceipt(
        sale_id=sale_id,
        number=0,  # set by the statement, in the outbox payloads too
        register_id=ctx.register_id,
        doc_type=doc_type,
        folio=None,
        lines=[p.line for p in lines],
        taxes=taxes,
        total=settlement.total,
        rounding=settlement.rounding,
        to_pay=settlement.to_pay,
        tenders=settlement.tenders,
        change=settlement.change,
        created_at=now.isoformat(),
        tip=settlement.tip,
        tab_id=tab_id,
    )
    encoded = msgspec.json.encode(receipt).decode()
    events = [
        ("tenant", "SaleCompleted", encoded, True),
        (f"register:{ctx.register_id}", "SaleCompleted", encoded, True),
    ]
    events += [("tenant", "LowStock", msgspec.json.encode(e).decode(), False) for e in plan.low_stock]
    event_ids = [uuid7() for _ in events]
    sold = [p.line for p in lines]
    tenders = settlement.tenders
    row = await driver.fetchrow(
        _WRITE_SALE,
        ctx.tenant_id, ctx.warehouse_id, now, sale_id, ctx.register_id, ctx.store_id, ctx.cash_session_id,
        ctx.user_id, command_id, doc_type, settlement.total, settlement.rounding, settlement.to_pay,
        settlement.change, sum(plan.costs), msgspec.json.encode([tax_dict(t) for t in taxes]).decode(),
        # $17..$22: stock levels and movements, one per product
        plan.product_ids, plan.quantities, plan.avg_costs, [uuid7() for _ in plan.product_ids],
        plan.issued, plan.costs,
        # $23..$33: sale lines
        list(range(1, len(sold) + 1)), [x.product_id for x in sold], [x.sku for x in sold],
        [x.name for x in sold], [x.unit for x in sold], [p.tax_class for p in lines],
        [x.quantity for x in sold], [x.unit_price for x in sold], [x.discount_percent for x in sold],
        [x.total for x in sold], [plan.line_costs[x.line_id] for x in sold],
        # $34..$38: tenders
        list(range(1, len(tenders) + 1)), [t.kind for t in tenders], [t.amount for t in tenders],
        [t.tendered for t in tenders], [t.change for t in tenders],
        # $39, $40: the fiscal document
        uuid7(), f"no folios available for document type {doc_type}",
        # $41..$45: outbox events
        event_ids, [e[0] for e in events], [e[1] for e in events], [e[2] for e in events],
        [e[3] for e in events],
        # $46: a factura's buyer; $47: today in Chile, for CAF expiry; $48, $49: a restaurant tab's tip and id
        None if buyer is None else msgspec.json.encode(buyer).decode(),
        chile_today(), settlement.tip, tab_id,
    )  # fmt: skip
    made = msgspec.structs.replace(receipt, number=row["number"], folio=row["folio"])
    # What the statement stamped into the rows' payloads, so they are published as stored.
    stamped = msgspec.to_builtins(made)
    outbox_written(session).extend(
        WrittenEvent(event_id, stream, event, stamped if stamp else msgspec.json.decode(payload))
        for event_id, (stream, event, payload, stamp) in zip(event_ids, events, strict=True)
    )
    return made
