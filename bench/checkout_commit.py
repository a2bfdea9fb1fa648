"""The cost of committing one sale (``actors.checkout.commit_sale``) on Postgres, without the network.

    python bench/checkout_commit.py --sales 2000 --lines 3 --concurrency 1

Each sale is a card sale of ``--lines`` random products from a fresh bench database (the same one
``bench/till_load.py`` makes). ``--concurrency`` sales are committed at once from one event loop, as a hub
node does for that many registers. The baseline is the smallest tenant transaction (``SELECT 1`` inside
``Database.tenant``) measured in the same run; the portable SQLAlchemy path (``commit_sale_portable``,
SQLite's path) is measured in the same run too, for comparison. Prints p50/p99/max per commit, commits
per second, the statements SQLAlchemy built per commit, and the process CPU time per commit; the last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
from till_load import drop_database, percentile, prepare_database  # noqa: E402


async def _timed(work: Any, count: int, concurrency: int) -> tuple[list[float], float, float]:
    """Run ``work(i)`` ``count`` times, ``concurrency`` at a time; per-call ms, wall s, CPU s."""
    times: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            await work(i)
            times.append((time.perf_counter() - started) * 1000)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return times, time.perf_counter() - wall, time.process_time() - cpu


def _summary(times: list[float], wall: float, cpu: float) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(percentile(times, 99), 3),
        "max_ms": round(max(times), 3),
        "per_s": round(len(times) / wall, 1),
        "cpu_ms_each": round(cpu / len(times) * 1000, 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sales", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--registers", type=int, default=8)
    parser.add_argument(
        "--pg", default=os.environ.get("STOREHUB_BENCH_PG", "postgresql://postgres@127.0.0.1/test")
    )
    args = parser.parse_args()

    from sqlalchemy import event, select, text

    from actors.checkout import PricedLine, SaleContext, commit_sale, commit_sale_portable
    from actors.sales.lines import cart_line
    from actors.sales.settlement import settle
    from actors.sales.totals import cart_totals
    from hub.db import Database
    from schema.messages.catalog import ProductView
    from schema.messages.till import Tender
    from schema.models import CashSession, Product, Register, Store

    url, _token, _registers, _barcodes = await prepare_database(args.pg, args.registers)
    db = Database(url)
    statements = 0

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    tenant_id = await db.tenant_id_by_slug("bench")
    assert tenant_id is not None
    contexts: list[SaleContext] = []
    async with db.tenant(tenant_id) as session:
        store = (await session.execute(select(Store))).scalars().one()
        products = [
            ProductView(
                id=p.id,
                sku=p.sku,
                name=p.name,
                price=p.price,
                unit=p.unit,
                tax_class=p.tax_class,
                weighable=p.unit == "kg",
            )
            for p in (await session.execute(select(Product))).scalars()
        ]
        for register in (await session.execute(select(Register))).scalars():
            cash = CashSession(register_id=register.id, opened_by=None, float_amount=0)
            session.add(cash)
            await session.flush()
            contexts.append(
                SaleContext(
                    tenant_id=tenant_id,
                    register_id=register.id,
                    store_id=store.id,
                    warehouse_id=store.warehouse_id,
                    cash_session_id=cash.id,
                    user_id=None,
                    block_negative_stock=False,
                )
            )
    rng = random.Random(7)

    async def baseline(_: int) -> None:
        async with db.tenant(tenant_id) as session:
            await session.execute(text("SELECT 1"))

    def sale_with(commit: Any) -> Any:
        async def sale(i: int) -> None:
            picked = rng.sample(products, args.lines)
            priced = [
                (cart_line(n, p, 1000 * rng.randint(1, 3)), p.tax_class) for n, p in enumerate(picked, 1)
            ]
            totals = cart_totals(priced)
            settlement = settle(totals.total, [Tender(kind="card", amount=totals.total)], "CLP")
            lines = [PricedLine(line, tax_class) for line, tax_class in priced]
            await commit(
                db, contexts[i % len(contexts)], uuid.uuid4().hex, lines, totals.taxes, settlement, 39
            )

        return sale

    await _timed(sale_with(commit_sale), 100, 1)  # warm the pool, statement caches and the planner
    await _timed(sale_with(commit_sale_portable), 100, 1)
    await _timed(baseline, 100, 1)
    results: dict[str, Any] = {"sales": args.sales, "lines": args.lines, "concurrency": args.concurrency}
    times, wall, cpu = await _timed(baseline, args.sales, args.concurrency)
    results["baseline"] = _summary(times, wall, cpu)
    for name, commit in (("portable", commit_sale_portable), ("commit", commit_sale)):
        statements = 0
        times, wall, cpu = await _timed(sale_with(commit), args.sales, args.concurrency)
        built = round(statements / args.sales, 1)
        results[name] = _summary(times, wall, cpu) | {"sqlalchemy_statements_each": built}
    await db.dispose()
    await drop_database(args.pg, url)
    for name in ("baseline", "portable", "commit"):
        figures = results[name]
        print(
            f"{name:9} p50 {figures['p50_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
            f"max {figures['max_ms']:7.2f} ms  {figures['per_s']:8.1f}/s  "
            f"cpu {figures['cpu_ms_each']:.2f} ms each"
        )
    print(
        "statements built by SQLAlchemy per commit: "
        f"portable {results['portable']['sqlalchemy_statements_each']}, "
        f"commit {results['commit']['sqlalchemy_statements_each']}"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
