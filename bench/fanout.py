"""Fan-out of a sale to many live screens: sale -> every socket notified.

    python bench/fanout.py --sockets 500 --sales 100      # starts a hub on a fresh Postgres database
    python bench/fanout.py --sockets 500 --kds-share 0    # dashboards only
    python bench/fanout.py --sockets 1000 --nodes 2       # two scaled hub nodes sharing Redis

N live screens on one hub node: owner dashboards following the tenant's stream (``tenant``) and, for
``--kds-share`` of them (half by default), kitchen displays following a station (``kitchen:<id>``). One till
works in rounds, one every ``--interval`` seconds: a scan, a kitchen order for it (``kitchen.order``), a card
checkout. Each dashboard's ``SaleCompleted`` is timed from the moment the till sent the checkout, each KDS's
``KitchenTicketChanged`` from the moment it sent the order, so the figures include committing the change and
publishing its event. Figures: p50 / p99 / max over every (round, socket) delivery and over each round's
*last* socket, for both kinds together and apart, and from the till's answer (the sale committed) to the
last dashboard.

``--nodes N`` (N >= 2) starts N hub nodes in the scaled mode, sharing the database and Redis (the bus
between them): the till works on node 1 and the screens are spread over every node, so most of them hear of
the sale through Redis.

As in a shop, the tenant's hub signs every sale's boleta and submits it to a SII simulator started
beside it while the load runs (``--fiscal on``, ``bench/bench_fiscal.py``); the JSON line counts the
documents by state.

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

from bench import bench_fiscal  # noqa: E402
from bench.till_load import (  # noqa: E402
    add_fiscal_runner,
    drop_database,
    free_port,
    percentile,
    prepare_database,
    start_server,
    start_servers,
    summary,
    wait_http,
)


async def screen_tokens(db_url: str) -> tuple[str, str, str, str]:
    """An owner's token, a kitchen user's token, a kitchen station and the store it belongs to."""
    from sqlalchemy import select

    from hub.auth.tokens import bearer_token, digest, new_secret
    from hub.db import Database
    from schema.models import ApiToken, KitchenStation, Store, User

    db = Database(db_url)
    tenant_id = await db.tenant_id_by_slug("bench")
    assert tenant_id is not None
    tokens = []
    async with db.tenant(tenant_id) as session:
        store_id = (await session.execute(select(Store.id))).scalars().first()
        assert store_id is not None
        station = KitchenStation(id=uuid.uuid4(), store_id=store_id, code="hot", name="Cocina caliente")
        session.add(station)
        for role in ("owner", "kitchen"):
            secret = new_secret()
            user = User(id=uuid.uuid4(), username=role, display_name=role, role=role, password_hash="x")
            session.add(user)
            await session.flush()
            session.add(ApiToken(id=digest(secret), user_id=user.id, name="bench"))
            tokens.append(bearer_token("shk", tenant_id, secret))
    await db.dispose()
    return tokens[0], tokens[1], str(station.id), str(store_id)


def order_id(round_no: int) -> str:
    """The kitchen order of a round carries the round's number, so a screen can tell which it is."""
    return f"00000000-0000-4000-8000-{round_no:012d}"


class Screen:
    """One live screen: an owner's dashboard (``tenant``) or a kitchen display (``kitchen:<id>``).

    Records when each round's event arrived: a dashboard times ``SaleCompleted`` by sale number, a KDS times
    ``KitchenTicketChanged`` by the order id. Other frames (``DashboardChanged``...) are not parsed: the
    load generator is the instrument, and parsing what it does not time would only slow it.
    """

    def __init__(self, stream: str, arrivals: dict[int, list[float]]) -> None:
        self.stream = stream
        self.kitchen = stream.startswith("kitchen:")
        self.marker = '"KitchenTicketChanged"' if self.kitchen else '"SaleCompleted"'
        self.arrivals = arrivals

    async def follow(self, url: str, token: str, ready: asyncio.Event, count: list[int], total: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with websockets.connect(url, additional_headers=headers, max_queue=None) as socket:
            await socket.recv()  # welcome
            subscribe = {"id": "s", "type": "subscribe", "payload": {"stream": self.stream}}
            await socket.send(json.dumps(subscribe))
            while json.loads(await socket.recv()).get("id") != "s":  # its answer: subscribed from here on
                pass
            count[0] += 1
            if count[0] == total:
                ready.set()
            async for data in socket:
                now = time.perf_counter()
                if self.marker not in data:
                    continue
                payload = json.loads(data)["payload"]
                if self.kitchen:
                    self.arrivals[int(payload["order_id"].rsplit("-", 1)[1])].append(now)
                else:
                    self.arrivals[payload["number"]].append(now)


class Rounds:
    """What the till sent and when: per round, the kitchen order and the checkout (by its sale number)."""

    def __init__(self) -> None:
        self.order_sent: dict[int, float] = {}
        self.sale_sent: dict[int, float] = {}  # by sale number
        self.sale_answered: dict[int, float] = {}
        self.order_answered: dict[int, float] = {}


async def till(
    url: str, token: str, register: str, barcode: str, sales: int, interval: float, store: str | None
) -> Rounds:
    """Each round: a scan, a kitchen order for it (when ``store`` has KDS screens), a card checkout."""
    rounds = Rounds()
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(url, additional_headers=headers, max_queue=None) as socket:
        await socket.recv()

        async def call(type_: str, payload: dict[str, Any]) -> dict[str, Any]:
            cid = uuid.uuid4().hex[:12]
            await socket.send(json.dumps({"id": cid, "type": type_, "payload": payload}))
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if frame.get("id") == cid:
                    if frame["type"] != "reply":
                        raise RuntimeError(f"{type_} refused: {frame}")
                    return dict(frame)

        await call("cash.open", {"register_id": register, "float_amount": 0})
        for n in range(1, sales + 1):
            cart = (await call("cart.add", {"register_id": register, "code": barcode}))["payload"]
            if store is not None:
                rounds.order_sent[n] = time.perf_counter()
                items = [{"product_id": cart["lines"][0]["product_id"]}]
                await call("kitchen.order", {"store_id": store, "order_id": order_id(n), "items": items})
                rounds.order_answered[n] = time.perf_counter()
            started = time.perf_counter()
            tenders = [{"kind": "card", "amount": cart["total"]}]
            answer = await call("checkout", {"register_id": register, "tenders": tenders})
            rounds.sale_sent[answer["payload"]["number"]] = started
            rounds.sale_answered[answer["payload"]["number"]] = time.perf_counter()
            await asyncio.sleep(interval)
    return rounds


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
    every: list[float] = []
    last: list[float] = []
    if sockets == 0:
        return every, last
    for key, started in sent.items():
        times = arrivals.get(key, [])
        if len(times) < sockets:
            raise RuntimeError(f"{key}: only {len(times)} of {sockets} sockets were notified")
        every += [(t - started) * 1000 for t in times]
        last.append((max(times) - started) * 1000)
    return every, last


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_of(pids: list[int]) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) in pids:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--sales", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between sales")
    parser.add_argument(
        "--kds-share", type=float, default=0.5, help="part of the sockets that are kitchen displays (0..1)"
    )
    parser.add_argument("--nodes", type=int, default=1, help="hub nodes (2+: scaled, sharing Redis)")
    add_fiscal_runner(parser)
    bench_fiscal.add_fiscal(parser)
    parser.add_argument(
        "--redis", default=os.environ.get("STOREHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("STOREHUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    processes: list[Any] = []
    db_url: str | None = None
    try:
        fiscal = args.fiscal == "on"
        db_url, cashier, registers, barcodes = await prepare_database(args.pg, 1, fiscal)
        owner, kitchen, station, store = await screen_tokens(db_url)
        kds_sockets = round(args.sockets * min(max(args.kds_share, 0.0), 1.0))
        dash_sockets = args.sockets - kds_sockets
        echo_port = free_port()
        hubs = await start_servers(db_url, args, processes)
        echo = start_server(["-m", "uvicorn", "bench.echo_app:app", "--port", str(echo_port), "--log-level",
                             "warning", "--ws-per-message-deflate", "false"], dict(os.environ))  # fmt: skip
        processes.append(echo)
        for hub, port in hubs:
            await wait_http(f"http://127.0.0.1:{port}/healthz", hub)
        await wait_http(f"http://127.0.0.1:{echo_port}/nothing", echo)
        urls = [f"ws://127.0.0.1:{port}/ws" for _, port in hubs]

        base_every, base_last = await baseline(
            f"ws://127.0.0.1:{echo_port}/fan", args.sockets, args.sales, args.interval
        )

        sale_arrivals: dict[int, list[float]] = defaultdict(list)
        order_arrivals: dict[int, list[float]] = defaultdict(list)
        ready, count = asyncio.Event(), [0]
        screens = [Screen("tenant", sale_arrivals) for _ in range(dash_sockets)]
        screens += [Screen(f"kitchen:{station}", order_arrivals) for _ in range(kds_sockets)]
        tasks = [
            asyncio.create_task(
                screen.follow(
                    urls[n % len(urls)], kitchen if screen.kitchen else owner, ready, count, args.sockets
                )
            )
            for n, screen in enumerate(screens)
        ]
        await asyncio.wait_for(ready.wait(), 120)  # every subscription answered
        hub_pids = [hub.pid for hub, _ in hubs]
        cpu_before = {pid: cpu_seconds(pid) for pid in hub_pids + children_of(hub_pids)}
        rounds = await till(
            urls[0],
            cashier,
            registers[0],
            barcodes[0],
            args.sales,
            args.interval,
            store if kds_sockets else None,
        )
        cpu = {pid: cpu_seconds(pid) - used for pid, used in cpu_before.items()}
        await asyncio.sleep(2)
        for task in tasks:
            task.cancel()
        documents = await bench_fiscal.document_states(db_url)
        sale_every, sale_last = deliveries(rounds.sale_sent, sale_arrivals, dash_sockets)
        order_every, order_last = deliveries(rounds.order_sent, order_arrivals, kds_sockets)
        # The events leave after the commit, like the answer: a socket may hear of the sale before the till.
        _, committed_last = deliveries(rounds.sale_answered, sale_arrivals, dash_sockets)
        _, order_answered_last = deliveries(rounds.order_answered, order_arrivals, kds_sockets)
        order_reply = [(rounds.order_answered[n] - rounds.order_sent[n]) * 1000 for n in rounds.order_sent]
        every, last = sale_every + order_every, sale_last + order_last
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        await drop_database(args.pg, db_url)

    result = {
        "nodes": args.nodes,
        "sockets": args.sockets,
        "dashboard_sockets": dash_sockets,
        "kds_sockets": kds_sockets,
        "sales": args.sales,
        "fiscal": args.fiscal,
        "fiscal_documents": documents,
        "fiscal_runner": args.fiscal_runner,
        # CPU seconds used while the sales ran: the hubs' own processes, and their children (the fiscal
        # pipeline's process, when it runs in one).
        "hub_cpu_s": round(sum(cpu[pid] for pid in hub_pids), 2),
        "hub_children_cpu_s": round(sum(used for pid, used in cpu.items() if pid not in hub_pids), 2),
        "to_socket_ms": summary(every),
        "to_last_socket_ms": summary(last),
        "sale_to_dashboard_ms": summary(sale_every),
        "sale_to_last_dashboard_ms": summary(sale_last),
        "order_to_kds_ms": summary(order_every),
        "order_to_last_kds_ms": summary(order_last),
        "committed_to_last_socket_ms": summary(committed_last),
        "order_reply_ms": summary(order_reply) if order_reply else None,
        "order_answered_to_last_kds_ms": summary(order_answered_last) if order_answered_last else None,
        "baseline_to_socket_ms": summary(base_every),
        "baseline_to_last_socket_ms": summary(base_last),
        "p99_vs_baseline_p99": round(percentile(every, 99) / percentile(base_every, 99), 2),
        "load_generator_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(f"fiscal {args.fiscal} ({args.fiscal_runner}), documents {documents}")
    for label, key in (
        ("any -> socket", "to_socket_ms"),
        ("any -> last socket", "to_last_socket_ms"),
        ("sale -> dashboard", "sale_to_dashboard_ms"),
        ("sale -> last dash", "sale_to_last_dashboard_ms"),
        ("order -> kds", "order_to_kds_ms"),
        ("order -> last kds", "order_to_last_kds_ms"),
        ("answer -> last dash", "committed_to_last_socket_ms"),
        ("order reply", "order_reply_ms"),
        ("order answer -> kds", "order_answered_to_last_kds_ms"),
        ("baseline -> socket", "baseline_to_socket_ms"),
        ("baseline -> last", "baseline_to_last_socket_ms"),
    ):
        s = result[key]
        if s is None:  # no kitchen displays in this run
            continue
        assert isinstance(s, dict)
        print(f"{label:<20} p50 {s['p50']:8.2f} ms  p99 {s['p99']:8.2f} ms  max {s['max']:8.2f} ms")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main())
