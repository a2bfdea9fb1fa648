"""Load of many tills on one hub: scan round trip, checkout latency, sales per second, errors.

    python bench/till_load.py --tills 200 --seconds 60           # starts a hub on a fresh Postgres database
    python bench/till_load.py --tills 50 --url ws://host:8000/ws --token shk_...  # an existing hub
    python bench/till_load.py --tills 200 --nodes 2              # one node, then two, in the same run

Each simulated till opens its cash session, then scans one barcode per second (``cart.add``) and checks
out about every tenth scan (card, exact amount), over its own WebSocket. The baseline is a bare Litestar
WebSocket echo served by uvicorn, driven the same way in the same run. The last line printed is one JSON
object with every figure, so runs can be compared.

As in a shop, the tenant's hub signs every sale's boleta and submits it to a SII simulator started
beside it while the load runs (``--fiscal on``, ``bench/bench_fiscal.py``); the JSON line counts the
documents by state.

``--nodes N`` (N >= 2) starts N hub nodes in the scaled mode (sharing the database and Redis, the bus between
them) and runs the same load twice in the same run: every till on node 1, then the tills spread over the N
nodes. It prints both sets of figures and the ratio of their sales per second. ``--scan-interval`` below one
second pushes the load toward what the machine can take, which is what the comparison is about.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bench_fiscal  # noqa: E402


@dataclass
class Figures:
    scan_ms: list[float] = field(default_factory=list)
    checkout_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sales: int = 0

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_http(url: str, process: subprocess.Popen[bytes], limit: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + limit
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


# -- the hub under test --------------------------------------------------------------------------------


async def prepare_database(
    admin_url: str, tills: int, fiscal: bool = False
) -> tuple[str, str, list[str], list[str]]:
    """A fresh database with one tenant, ``tills`` registers, 500 stocked products and a cashier token;
    with ``fiscal``, the tenant's fiscal setup too (``bench.bench_fiscal``: its boletas get signed)."""
    import asyncpg

    from hub.admin import create_tenant
    from hub.auth.tokens import bearer_token, digest, new_secret
    from hub.db import Database
    from schema.barcodes import make_ean13
    from schema.migrate import upgrade
    from schema.models import ApiToken, FolioRange, Product, ProductBarcode, Register, StockLevel, User

    name = f"storehub_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = admin_url.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    made = await create_tenant(db, slug="bench", name="Bench", country="CL", tax_id=bench_fiscal.TAX_ID)
    registers = [str(made.register_id)]
    barcodes = []
    secret = new_secret()
    async with db.tenant(made.tenant_id) as session:
        for n in range(2, tills + 1):
            register = Register(id=uuid.uuid4(), store_id=made.store_id, code=str(n), name=f"Caja {n}")
            session.add(register)
            registers.append(str(register.id))
        for n in range(1, 501):
            product = Product(
                id=uuid.uuid4(), sku=f"{n:05d}", name=f"Producto {n}", search_name=f"producto {n}",
                price=500 + 10 * n, tax_class="cl_iva",
            )  # fmt: skip
            session.add(product)
            code = make_ean13(f"780{n:09d}")
            barcodes.append(code)
            session.add(ProductBarcode(barcode=code, product_id=product.id))
            session.add(StockLevel(warehouse_id=made.warehouse_id, product_id=product.id, quantity=10**9,
                                   avg_cost=300 * 10_000))  # fmt: skip
        if not fiscal:  # folios without a CAF: sales get them, nothing can be signed
            session.add(FolioRange(doc_type=39, first_folio=1, last_folio=10**7, next_folio=1))
        user = User(
            id=uuid.uuid4(), username="bench", display_name="Bench", role="cashier", password_hash="x"
        )
        session.add(user)
        await session.flush()
        session.add(ApiToken(id=digest(secret), user_id=user.id, name="bench"))
    await db.dispose()
    if fiscal:
        await bench_fiscal.make_ready(url, made.tenant_id)
    return url, bearer_token("shk", made.tenant_id, secret), registers, barcodes


async def drop_database(admin_url: str, db_url: str | None) -> None:
    """Drop a database ``prepare_database`` made (each run makes a fresh one: without this they pile up)."""
    if db_url is None:
        return
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


def start_server(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # STOREHUB_BENCH_SERVER_LOG=path keeps the servers' stderr (probes, warnings) instead of dropping it.
    log_path = os.environ.get("STOREHUB_BENCH_SERVER_LOG")
    stderr = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )


# -- the simulated tills --------------------------------------------------------------------------------


class Till:
    def __init__(
        self,
        url: str,
        token: str,
        register: str,
        barcodes: list[str],
        figures: Figures,
        checkout_ratio: float,
    ) -> None:
        self.url, self.token, self.register = url, token, register
        self.barcodes, self.figures, self.checkout_ratio = barcodes, figures, checkout_ratio
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def call(self, socket: Any, type_: str, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        cid = uuid.uuid4().hex[:16]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[cid] = future
        started = time.perf_counter()
        await socket.send(json.dumps({"id": cid, "type": type_, "payload": payload}))
        answer = await asyncio.wait_for(future, 30)
        return answer, (time.perf_counter() - started) * 1000

    async def read(self, socket: Any) -> None:
        async for data in socket:
            frame = json.loads(data)
            future = self.pending.pop(frame.get("id") or "", None)
            if future is not None and not future.done():
                future.set_result(frame)

    async def run(self, until: float, rng: random.Random, measure_from: float, interval: float = 1.0) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with websockets.connect(self.url, additional_headers=headers, max_queue=None) as socket:
            await socket.recv()  # welcome
            reader = asyncio.create_task(self.read(socket))
            try:
                opened, _ = await self.call(
                    socket, "cash.open", {"register_id": self.register, "float_amount": 0}
                )
                if opened["type"] == "error" and opened["code"] != "cash_session_open":
                    self.figures.error(opened["code"])
                await asyncio.sleep(rng.random())  # spread the tills over the second
                total = 0
                while time.monotonic() < until:
                    tick = time.monotonic()
                    code = rng.choice(self.barcodes)
                    answer, ms = await self.call(
                        socket, "cart.add", {"register_id": self.register, "code": code}
                    )
                    measuring = time.monotonic() >= measure_from
                    if answer["type"] == "reply":
                        if measuring:
                            self.figures.scan_ms.append(ms)
                        total = answer["payload"]["total"]
                    else:
                        self.figures.error(answer["code"])
                    if rng.random() < self.checkout_ratio and total > 0:
                        tenders = [{"kind": "card", "amount": total}]
                        answer, ms = await self.call(
                            socket, "checkout", {"register_id": self.register, "tenders": tenders}
                        )
                        if answer["type"] == "reply":
                            if measuring:
                                self.figures.checkout_ms.append(ms)
                                self.figures.sales += 1
                            total = 0
                        else:
                            self.figures.error(answer["code"])
                    await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))
            finally:
                reader.cancel()


async def echo_client(url: str, until: float, rng: random.Random, figures: Figures) -> None:
    async with websockets.connect(url, max_queue=None) as socket:
        await asyncio.sleep(rng.random())
        payload = {"register_id": str(uuid.uuid4()), "code": "7800000000016"}
        frame = json.dumps({"id": "x" * 16, "type": "cart.add", "payload": payload})
        while time.monotonic() < until:
            tick = time.monotonic()
            started = time.perf_counter()
            await socket.send(frame)
            await socket.recv()
            figures.scan_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2) if values else float("nan"),
        "mean": round(statistics.fmean(values), 2) if values else float("nan"),
    }


def add_fiscal_runner(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fiscal-runner",
        choices=["auto", "hub", "process"],
        default="auto",
        help="where the hubs run the fiscal pipeline (STOREHUB_FISCAL_RUNNER; auto: a child process on "
        "Postgres)",
    )


def start_hubs(
    db_url: str,
    nodes: int,
    redis_url: str | None,
    fiscal_runner: str = "auto",
    simulator_port: int | None = None,
) -> list[tuple[subprocess.Popen[bytes], int]]:
    """``nodes`` hub processes on one database; with ``redis_url`` they are scaled nodes sharing its bus.
    ``fiscal_runner``: where each runs the fiscal pipeline (``STOREHUB_FISCAL_RUNNER``); ``simulator_port``:
    the SII simulator they submit to (``bench.bench_fiscal``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")}
    env |= bench_fiscal.hub_env(simulator_port)
    env |= {"STOREHUB_DATABASE_URL": db_url, "STOREHUB_LOG_LEVEL": "WARNING", "STOREHUB_DB_POOL_SIZE": "20",
            "STOREHUB_FISCAL_RUNNER": fiscal_runner}  # fmt: skip
    if redis_url:
        env["STOREHUB_REDIS_URL"] = redis_url
    hubs = []
    for _ in range(nodes):
        port = free_port()
        hubs.append((start_server(["-m", "hub.cli", "serve", "--port", str(port)], env), port))
    return hubs


async def start_servers(
    db_url: str, args: argparse.Namespace, processes: list[subprocess.Popen[bytes]]
) -> list[tuple[subprocess.Popen[bytes], int]]:
    """The hubs of ``--nodes``, ``--fiscal-runner`` and ``--fiscal`` (with ``on``, the SII simulator they
    submit to, up and answering first); every process started goes into ``processes``, to be stopped."""
    simulator_port = None
    if args.fiscal == "on":
        simulator_port = free_port()
        simulator = bench_fiscal.start_simulator(start_server, simulator_port)
        processes.append(simulator)
        await wait_http(f"http://127.0.0.1:{simulator_port}/_sim/state", simulator)
    redis = args.redis if args.nodes > 1 else None
    hubs = start_hubs(db_url, args.nodes, redis, args.fiscal_runner, simulator_port)
    processes += [hub for hub, _ in hubs]
    return hubs


async def load(
    urls: list[str], token: str, registers: list[str], barcodes: list[str], args: argparse.Namespace
) -> tuple[Figures, float]:
    """The tills' load, till n on ``urls[n % len(urls)]``: figures after the warm-up, and its seconds."""
    figures = Figures()
    started = time.monotonic() + args.warmup  # actors start and caches fill before we measure
    until = started + args.seconds
    tills = [
        Till(
            urls[n % len(urls)], token, registers[n % len(registers)], barcodes, figures, args.checkout_ratio
        )
        for n in range(args.tills)
    ]
    await asyncio.gather(
        *(t.run(until, random.Random(n), started, args.scan_interval) for n, t in enumerate(tills))
    )
    return figures, time.monotonic() - started


def figures_of(figures: Figures, elapsed: float) -> dict[str, Any]:
    return {
        "seconds": round(elapsed, 1),
        "scan_ms": summary(figures.scan_ms),
        "checkout_ms": summary(figures.checkout_ms),
        "scans": len(figures.scan_ms),
        "sales": figures.sales,
        "sales_per_s": round(figures.sales / elapsed, 2),
        "errors": sum(figures.errors.values()),
        "error_codes": figures.errors,
    }


def show(title: str, result: dict[str, Any]) -> None:
    codes = result["error_codes"] or ""
    print(f"{title}: {result['seconds']} s, {result['scans']} scans, {result['sales']} sales "
          f"({result['sales_per_s']}/s), errors {result['errors']} {codes}")  # fmt: skip
    for label, key in (("scan round trip", "scan_ms"), ("checkout", "checkout_ms")):
        s = result[key]
        print(f"  {label:<16} p50 {s['p50']:8.2f} ms  p99 {s['p99']:8.2f} ms  max {s['max']:8.2f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tills", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5, help="seconds at the start not measured")
    parser.add_argument("--checkout-ratio", type=float, default=0.1, help="chance of a checkout after a scan")
    parser.add_argument("--scan-interval", type=float, default=1.0, help="seconds between a till's scans")
    parser.add_argument("--nodes", type=int, default=1, help="hub nodes (2+: scaled, compared with one)")
    add_fiscal_runner(parser)
    bench_fiscal.add_fiscal(parser)
    parser.add_argument(
        "--redis", default=os.environ.get("STOREHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--url", help="ws://.../ws of a running hub (needs --token and --registers)")
    parser.add_argument("--token")
    parser.add_argument("--registers", help="comma-separated register ids for --url")
    parser.add_argument("--barcodes", default="7800000000016", help="comma-separated barcodes for --url")
    parser.add_argument(
        "--pg",
        default=os.environ.get("STOREHUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    rng = random.Random(1)
    processes: list[subprocess.Popen[bytes]] = []
    runs: list[tuple[str, Figures, float]] = []
    db_url: str | None = None
    documents: dict[str, int] | None = None
    try:
        if args.url:
            urls, token = [args.url], args.token
            registers, barcodes = args.registers.split(","), args.barcodes.split(",")
        else:
            fiscal = args.fiscal == "on"
            db_url, token, registers, barcodes = await prepare_database(args.pg, args.tills, fiscal)
            hubs = await start_servers(db_url, args, processes)
            for hub, port in hubs:
                await wait_http(f"http://127.0.0.1:{port}/healthz", hub)
            urls = [f"ws://127.0.0.1:{port}/ws" for _, port in hubs]
        echo_port = free_port()
        echo = start_server(["-m", "uvicorn", "bench.echo_app:app", "--port", str(echo_port), "--log-level",
                             "warning", "--ws-per-message-deflate", "false"], dict(os.environ))  # fmt: skip
        processes.append(echo)
        await wait_http(f"http://127.0.0.1:{echo_port}/nothing", echo)

        # The load generator is the instrument: its own full collections would show up as the servers' tail.
        gc.collect()
        gc.freeze()
        baseline = Figures()
        until = time.monotonic() + min(args.seconds, 20)
        await asyncio.gather(*(echo_client(f"ws://127.0.0.1:{echo_port}/ws", until, rng, baseline)
                               for _ in range(args.tills)))  # fmt: skip

        if len(urls) > 1:
            runs.append(("one node", *await load(urls[:1], token, registers, barcodes, args)))
        runs.append(
            (
                f"{len(urls)} nodes" if len(urls) > 1 else "hub",
                *await load(urls, token, registers, barcodes, args),
            )
        )
        if db_url is not None:
            documents = await bench_fiscal.document_states(db_url)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        await drop_database(args.pg, db_url)

    _, figures, elapsed = runs[-1]
    result = {
        "tills": args.tills,
        "nodes": len(urls),
        "warmup_seconds": args.warmup,
        "scan_interval_s": args.scan_interval,
        "fiscal": "on" if args.fiscal == "on" and not args.url else "off",
        "fiscal_documents": documents,
        **figures_of(figures, elapsed),
        "echo_ms": summary(baseline.scan_ms),
        "scan_p99_vs_echo_p99": round(percentile(figures.scan_ms, 99) / percentile(baseline.scan_ms, 99), 2),
        "load_generator_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if len(runs) > 1:
        one = figures_of(runs[0][1], runs[0][2])
        result["one_node"] = one
        result["sales_per_s_vs_one_node"] = round(result["sales_per_s"] / max(one["sales_per_s"], 0.01), 2)
    print(f"tills {args.tills}, nodes {len(urls)}, fiscal {result['fiscal']}, documents {documents}")
    for title, run_figures, run_elapsed in runs:
        show(title, figures_of(run_figures, run_elapsed))
    s = result["echo_ms"]
    print(f"  {'echo baseline':<16} p50 {s['p50']:8.2f} ms  p99 {s['p99']:8.2f} ms  max {s['max']:8.2f} ms")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main())
