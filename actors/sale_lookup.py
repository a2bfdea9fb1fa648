"""Finding a sale to return (``sale.lookup``): read only, in one tenant transaction.

A sale is found by the number printed on its receipt (sales and credit notes are numbered apart, so a
number names a sale) or by its id, and only within the register's store: another store's sale, like
another tenant's, is not found. A credit note is found but refused as ``not_returnable``.

What each line has left to return is the rule ``actors.returns.commit_return`` enforces: what was sold
less what earlier credit notes of the sale gave back. That computation is inline in the return's own
transaction (under the original's row lock), so it is repeated here with one query over the credit
notes' lines. The answer is a snapshot: the return itself re-checks under the lock (``over_return``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import select

from actors.checkout import receipt_of
from actors.returns import NotReturnableError
from hub.db import Database
from schema.errors import NotFoundError, ValidationError
from schema.messages.till import ReturnableLine, ReturnableSale
from schema.models import Sale, SaleLine

_CREDIT_NOTE_LINES = (
    select(Sale.id, Sale.total, SaleLine.line_no, SaleLine.quantity)
    .join(SaleLine, (SaleLine.sale_id == Sale.id) & (SaleLine.tenant_id == Sale.tenant_id))
    .where(Sale.kind == "return")
)


async def returnable_sale(
    db: Database,
    tenant_id: uuid.UUID,
    store_id: uuid.UUID,
    *,
    number: int | None = None,
    sale_id: uuid.UUID | None = None,
) -> ReturnableSale:
    """The sale of ``store_id`` with that number or id, and what each of its lines has left to return."""
    if (number is None) == (sale_id is None):
        raise ValidationError("give either the sale's number or its id")
    if sale_id is not None:
        query = select(Sale).where(Sale.id == sale_id)
    else:
        query = select(Sale).where(Sale.kind == "sale", Sale.number == number)
    async with db.tenant(tenant_id) as session:
        sale = (await session.execute(query)).scalar_one_or_none()
        if sale is None or sale.store_id != store_id:  # another store's sale is not ours to show
            raise NotFoundError("sale not found", number=number, sale_id=str(sale_id) if sale_id else None)
        if sale.kind != "sale":
            raise NotReturnableError("a credit note cannot itself be returned", number=sale.number)
        receipt = await receipt_of(session, sale)
        returned: dict[int, int] = defaultdict(int)
        notes: dict[uuid.UUID, int] = {}
        for note_id, note_total, line_no, quantity in await session.execute(
            _CREDIT_NOTE_LINES.where(Sale.original_sale_id == sale.id)
        ):
            returned[line_no] -= quantity  # credit notes store negated quantities
            notes[note_id] = -note_total
    lines = [
        ReturnableLine(
            line_no=line.line_id,
            product_id=line.product_id,
            sku=line.sku,
            name=line.name,
            unit=line.unit,
            quantity=line.quantity,
            returned=returned[line.line_id],
            returnable=max(line.quantity - returned[line.line_id], 0),
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            total=line.total,
        )
        for line in receipt.lines
    ]
    return ReturnableSale(
        sale_id=sale.id,
        number=sale.number,
        kind="sale",
        register_id=sale.register_id,
        created_at=receipt.created_at,
        doc_type=sale.doc_type,
        folio=sale.folio,
        total=sale.total,
        rounding=sale.rounding,
        to_pay=sale.to_pay,
        tenders=receipt.tenders,
        lines=lines,
        returned_total=sum(notes.values()),
        credit_notes=len(notes),
        returnable=any(line.returnable > 0 for line in lines),
    )
