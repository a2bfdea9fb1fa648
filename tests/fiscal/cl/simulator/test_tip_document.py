"""A restaurant's tip (propina) stays out of the tax document: the signed DTE's MntTotal is the sale's total,
not what the tenders paid with the tip on top."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select

from actors.checkout import PricedLine, commit_sale
from actors.sales.lines import cart_line
from actors.sales.settlement import settle
from actors.sales.totals import cart_totals
from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.pipeline import ClPipeline
from fiscal.cl.verify import verify_file
from hub.db import Database
from schema.messages.till import Tender
from schema.models import FiscalDocument, Sale
from tests.fiscal.cl.simulator.test_pipeline import Shop, open_shop, pipeline_for

__all__ = ["pipeline_for"]  # a fixture, used by name


async def test_the_tip_is_not_in_the_boleta(
    sqlite_db: Database,
    authority: DemoAuthority,
    pipeline_for: Callable[[Shop], ClPipeline],
) -> None:
    shop = await open_shop(sqlite_db, authority)
    priced = [
        (cart_line(1, shop.products[0], 2000), "cl_iva"),
        (cart_line(2, shop.products[1], 1000), "cl_iva"),
    ]
    totals = cart_totals(priced)
    tip = totals.total // 10
    settlement = settle(totals.total, [Tender(kind="card", amount=totals.total + tip)], "CLP", tip=tip)
    receipt = await commit_sale(
        sqlite_db, shop.context, uuid.uuid4().hex, [PricedLine(line, tax) for line, tax in priced],
        totals.taxes, settlement, 39,
    )  # fmt: skip
    assert (receipt.total, receipt.tip) == (2 * 1090 + 2490, 467)
    pipeline = pipeline_for(shop)
    assert await pipeline.sign_due() == 1
    async with sqlite_db.tenant(shop.tenant_id) as session:
        sale = await session.get(Sale, (shop.tenant_id, receipt.sale_id))
        xml = (
            await session.execute(select(FiscalDocument.xml).where(FiscalDocument.sale_id == receipt.sale_id))
        ).scalar_one()
    assert sale is not None and (sale.total, sale.tip) == (4670, 467)
    assert xml is not None and verify_file(xml, schemas=None, authority_keys=None).ok
    assert b"<MntTotal>4670</MntTotal>" in xml
    assert b"5137" not in xml  # total + tip appears nowhere on the document
