"""Fan-out of a sale to many live screens: sale -> every socket notified.

    python bench/fanout.py --sockets 500 --sales 100      # starts a hub on a fresh Postgres database

N owner-dashboard sockets follow the tenant's live stream (``tenant``) on one hub node; one till sells (a scan
and a card checkout every ``--interval`` seconds). For every sale, each socket's ``SaleCompleted`` arrival is
timed from the moment the till sent the checkout (so the figure includes committing the sale and the outbox
relay). Figures: p50 / p99 / max over every (sale, socket) delivery, over each sale's *last* socket, and from
the till's answer (the sale committed) to the last socket.

The baseline, measured in the same run: a bare Litestar WebSocket app served by uvicorn that forwards what
one socket sends to every connected socket (bench/echo_app.py ``/fan``), with the same number of sockets.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.till_load import (  # noqa: E402
    free_port,
    percentile,
    prepare_database,
    start_server,
    summary,
    wait_http,
)


async def owner_token(db_url: str) -> str:
    from sqlalchemy import select

    from hub.auth.tokens import bearer_token, digest, new_secret
    from hub.db import Database
    from schema.models import ApiToken, Tenant, User

    db = Database(db_url)
    secret = new_secret()
    tenant_id = await db.tenant_id_by_slug("bench")
    assert tenant_id is not None
    async with db.tenant(tenant_id) as session:
        assert (await session.execute(select(Tenant.id))).scalar_one() == tenant_id
        user = User(id=uuid.uuid4(), username="owner", display_name="Owner", role="owner", password_hash="x")
        session.add(user)
        await session.flush()
        session.add(ApiToken(id=digest(secret), user_id=user.id, name="bench"))
    await db.dispose()
    return bearer_token("shk", tenant_id, secret)


class Screen:
    """One live screen: records when each sale number arrived."""

    def __init__(self, arrivals: dict[int, list[float]]) -> None:
        self.arrivals = arrivals

    async def follow(self, url: str, token: str, ready: asyncio.Event, count: list[int], total: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with websockets.connect(url, additional_headers=headers, max_queue=None) as socket:
            await socket.recv()  # welcome
            await socket.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"stream": "tenant"}}))
            count[0] += 1
            if count[0] == total:
                ready.set()
            async for data in socket:
                now = time.perf_counter()
                frame = json.loads(data)
                if frame.get("event") == "SaleCompleted":
                    self.arrivals[frame["payload"]["number"]].append(now)


async def till(
    url: str, token: str, register: str, barcode: str, sales: int, interval: float
) -> tuple[dict[int, float], dict[int, float]]:
    """When each sale's checkout was sent, and when its answer (the sale committed) came back."""
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(url, additional_headers=headers, max_queue=None) as socket:
        await socket.recv()

        async def call(type_: str, payload: dict[str, Any]) -> dict[str, Any]:
            cid = uuid.uuid4().hex[:12]
            await socket.send(json.dumps({"id": cid, "type": type_, "payload": payload}))
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if frame.get("id") == cid:
                    return dict(frame)

        await call("cash.open", {"register_id": register, "float_amount": 0})
        for _ in range(sales):
            cart = (await call("cart.add", {"register_id": register, "code": barcode}))["payload"]
            started = time.perf_counter()
            tenders = [{"kind": "card", "amount": cart["total"]}]
            answer = await call("checkout", {"register_id": register, "tenders": tenders})
            if answer["type"] != "reply":
                raise RuntimeError(f"checkout refused: {answer}")
            sent[answer["payload"]["number"]] = started
            answered[answer["payload"]["number"]] = time.perf_counter()
            await asyncio.sleep(interval)
    return sent, answered


async def baseline(url: str, sockets: int, messages: int, interval: float) -> tuple[list[float], list[float]]:
    arrivals: dict[int, list[float]] = defaultdict(list)
    connections = [await websockets.connect(url, max_queue=None) for _ in range(sockets)]

    async def read(socket: Any) -> None:
        async for data in socket:
            arrivals[int(data)].append(time.perf_counter())

    readers = [asyncio.create_task(read(s)) for s in connections]
    sent: dict[int, float] = {}
    for n in range(messages):
        sent[n] = time.perf_counter()
        await connections[0].send(str(n))
        await asyncio.sleep(interval)
    await asyncio.sleep(1)
    for reader in readers:
        reader.cancel()
    for socket in connections:
        await socket.close()
    return deliveries(sent, arrivals, sockets)


def deliveries(
    sent: dict[int, float], arrivals: dict[int, list[float]], sockets: int
) -> tuple[list[float], list[float]]:
    every, last = [], []
    for key, started in sent.items():
        times = arrivals.get(key, [])
        if len(times) < sockets:
            raise RuntimeError(f"{key}: only {len(times)} of {sockets} sockets were notified")
        every += [(t - started) * 1000 for t in times]
        last.append((max(times) - started) * 1000)
    return every, last


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--sales", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between sales")
    parser.add_argument(
        "--pg",
        default=os.environ.get("STOREHUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    processes: list[Any] = []
    try:
        db_url, cashier, registers, barcodes = await prepare_database(args.pg, 1)
        owner = await owner_token(db_url)
        port, echo_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")}
        env |= {
            "STOREHUB_DATABASE_URL": db_url,
            "STOREHUB_LOG_LEVEL": "WARNING",
            "STOREHUB_DB_POOL_SIZE": "20",
        }
        hub = start_server(["-m", "hub.cli", "serve", "--port", str(port)], env)
        processes.append(hub)
        echo = start_server(["-m", "uvicorn", "bench.echo_app:app", "--port", str(echo_port), "--log-level",
                             "warning", "--ws-per-message-deflate", "false"], dict(os.environ))  # fmt: skip
        processes.append(echo)
        await wait_http(f"http://127.0.0.1:{port}/healthz", hub)
        await wait_http(f"http://127.0.0.1:{echo_port}/nothing", echo)

        base_every, base_last = await baseline(
            f"ws://127.0.0.1:{echo_port}/fan", args.sockets, args.sales, args.interval
        )

        url = f"ws://127.0.0.1:{port}/ws"
        arrivals: dict[int, list[float]] = defaultdict(list)
        ready, count = asyncio.Event(), [0]
        screens = [
            asyncio.create_task(Screen(arrivals).follow(url, owner, ready, count, args.sockets))
            for _ in range(args.sockets)
        ]
        await asyncio.wait_for(ready.wait(), 120)
        await asyncio.sleep(1)  # every subscription answered
        sent, answered = await till(url, cashier, registers[0], barcodes[0], args.sales, args.interval)
        await asyncio.sleep(2)
        for screen in screens:
            screen.cancel()
        every, last = deliveries(sent, arrivals, args.sockets)
        # The events leave after the commit, like the answer: a socket may hear of the sale before the till.
        _, committed_last = deliveries(answered, arrivals, args.sockets)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)

    result = {
        "sockets": args.sockets,
        "sales": args.sales,
        "sale_to_socket_ms": summary(every),
        "sale_to_last_socket_ms": summary(last),
        "committed_to_last_socket_ms": summary(committed_last),
        "baseline_to_socket_ms": summary(base_every),
        "baseline_to_last_socket_ms": summary(base_last),
        "p99_vs_baseline_p99": round(percentile(every, 99) / percentile(base_every, 99), 2),
        "load_generator_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    for label, key in (
        ("sale -> socket", "sale_to_socket_ms"),
        ("sale -> last socket", "sale_to_last_socket_ms"),
        ("answer -> last", "committed_to_last_socket_ms"),
        ("baseline -> socket", "baseline_to_socket_ms"),
        ("baseline -> last", "baseline_to_last_socket_ms"),
    ):
        s = result[key]
        assert isinstance(s, dict)
        print(f"{label:<20} p50 {s['p50']:8.2f} ms  p99 {s['p99']:8.2f} ms  max {s['max']:8.2f} ms")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main())
