"""Scale-out, end to end, without Docker: two hub nodes, a worker, Postgres, Redis and Kafka (Tansu).

Tills sell on node 1; an owner's dashboard and a kitchen display watch from node 2. Node 1 is killed with
SIGKILL in the middle of checkouts: the tills reconnect to node 2 and carry on, resending the checkout they
had in flight with the same command id. Then the worker is killed and restarted while sales go on.

What must hold: every acknowledged sale is stored exactly once and nothing unacknowledged is; every fiscal
document reaches a final state through the worker (hub nodes do not run the pipeline when scaled); node 2's
screens got node 1's events live; node 2's dashboard and the worker's aggregates equal the database.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select, update

from hub.auth.tokens import bearer_token, digest, new_secret
from hub.db import Database
from hub.seed.demo import seed_demo
from schema.migrate import upgrade
from schema.models import (
    ApiToken,
    FiscalDocument,
    KitchenStation,
    Product,
    ProductBarcode,
    Register,
    Sale,
    StockLevel,
    Store,
    User,
)
from tests.support.cluster import Proc, cluster_env, hub_node, sii_simulator, worker
from tests.support.postgres import create_database, drop_database, url_for

pytestmark = pytest.mark.timeout(600)

FINAL = {"accepted", "accepted_with_objections", "rejected"}
TILLS = 3


@dataclass
class Store_:
    tenant_id: uuid.UUID
    store_id: uuid.UUID
    station_id: uuid.UUID
    registers: list[uuid.UUID]
    barcodes: list[str]
    tokens: dict[str, str]


@dataclass
class Acks:
    sales: dict[str, int] = field(default_factory=dict)  # sale id -> number
    resent_found: int = 0  # checkouts resent after a failover that found their sale made
    resent_missing: int = 0  # ... that found it not made (sold again)

    def __post_init__(self) -> None:
        self.progress = asyncio.Condition()

    async def add(self, sale_id: str, number: int) -> None:
        async with self.progress:
            assert sale_id not in self.sales, "a sale acknowledged twice"
            self.sales[sale_id] = number
            self.progress.notify_all()

    async def wait_for(self, count: int, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout), self.progress:
            await self.progress.wait_for(lambda: len(self.sales) >= count)


class Lost(Exception):
    """The connection dropped while a command was in flight."""


class FailoverTill:
    """A till on node 1 that moves to node 2 when node 1 is gone, resending what it had in flight."""

    def __init__(self, urls: list[str], token: str, register: uuid.UUID, store: Store_, acks: Acks) -> None:
        self.urls, self.token, self.register = urls, token, str(register)
        self.store, self.acks = store, acks
        self.node = 0
        self.in_flight: tuple[str, dict[str, Any]] | None = None  # the checkout sent, not answered
        self.socket: Any = None
        self.made = 0

    async def call(self, type_: str, payload: dict[str, Any], cid: str | None = None) -> dict[str, Any]:
        cid = cid or uuid.uuid4().hex
        try:
            await self.socket.send(json.dumps({"id": cid, "type": type_, "payload": payload}))
            while True:
                frame = json.loads(await asyncio.wait_for(self.socket.recv(), 20))
                if frame.get("id") == cid:
                    return dict(frame)
        except (websockets.ConnectionClosed, OSError) as exc:
            raise Lost() from exc

    async def run(self, sales: int, stop: asyncio.Event) -> None:
        while self.made < sales and not stop.is_set():
            try:
                async with websockets.connect(
                    self.urls[self.node],
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=5,
                ) as socket:
                    self.socket = socket
                    await socket.recv()  # welcome
                    await self._sell(sales, stop)
            except (Lost, OSError, websockets.ConnectionClosed, websockets.InvalidStatus, TimeoutError):
                self.node = min(self.node + 1, len(self.urls) - 1)  # node 1 gone: go to node 2
                await asyncio.sleep(0.2)

    async def _sell(self, sales: int, stop: asyncio.Event) -> None:
        opened = await self.call("cash.open", {"register_id": self.register, "float_amount": 0})
        assert opened["type"] == "reply" or opened["code"] == "cash_session_open", opened
        if self.in_flight is not None:
            cid, payload = self.in_flight
            answer = await self.call("checkout", payload, cid)
            self.in_flight = None
            if answer["type"] == "reply":
                self.acks.resent_found += 1
                await self._made(answer)
            else:
                assert answer["code"] == "empty_cart", answer
                self.acks.resent_missing += 1
        while self.made < sales and not stop.is_set():
            cleared = await self.call("cart.clear", {"register_id": self.register})
            assert cleared["type"] == "reply", cleared
            cart: dict[str, Any] = {}
            for code in self.store.barcodes[:2]:
                answer = await self.call("cart.add", {"register_id": self.register, "code": code})
                assert answer["type"] == "reply", answer
                cart = answer["payload"]
            order = {
                "store_id": str(self.store.store_id),
                "order_id": str(uuid.uuid4()),
                "items": [{"product_id": cart["lines"][0]["product_id"]}],
            }
            routed = await self.call("kitchen.order", order)
            assert routed["type"] == "reply", routed
            payload = {"register_id": self.register, "tenders": [{"kind": "card", "amount": cart["total"]}]}
            cid = uuid.uuid4().hex
            self.in_flight = (cid, payload)
            answer = await self.call("checkout", payload, cid)
            self.in_flight = None
            assert answer["type"] == "reply", answer
            await self._made(answer)

    async def _made(self, answer: dict[str, Any]) -> None:
        self.made += 1
        await self.acks.add(answer["payload"]["sale_id"], answer["payload"]["number"])


class Screen:
    """A socket on node 2 that keeps the events of one stream."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def open(self, url: str, token: str, stream: str) -> None:
        self.socket = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"})
        await self.socket.recv()
        await self.socket.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"stream": stream}}))
        answer = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
        assert answer["type"] == "subscribed", answer
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for data in self.socket:
            frame = json.loads(data)
            if frame.get("type") == "event":
                self.events.append(frame)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.socket.close()


async def call_once(url: str, token: str, type_: str, payload: dict[str, Any]) -> dict[str, Any]:
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        await socket.recv()
        await socket.send(json.dumps({"id": "q", "type": type_, "payload": payload}))
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), 20))
            if frame.get("id") == "q":
                return dict(frame)


@pytest.fixture
async def scaled_db(pg_server: str) -> AsyncIterator[tuple[str, str]]:
    name = await create_database(pg_server)
    url = url_for(pg_server, name)
    await asyncio.to_thread(upgrade, url)
    try:
        yield url, secrets.token_urlsafe(48)
    finally:
        await drop_database(pg_server, name)


async def prepare(url: str, secret_key: str) -> Store_:
    """The demo minimarket, three tills, a kitchen station, two stocked products and API tokens."""
    db = Database(url)
    try:
        await seed_demo(db, secret_key=secret_key)
        tenant_id = await db.tenant_id_by_slug("donarosa")
        assert tenant_id is not None
        async with db.tenant(tenant_id) as session:
            store = (await session.execute(select(Store))).scalars().one()
            registers = list((await session.execute(select(Register.id).order_by(Register.code))).scalars())
            while len(registers) < TILLS:
                extra = Register(
                    id=uuid.uuid4(), store_id=store.id, code=f"{len(registers) + 1}", name="Caja"
                )
                session.add(extra)
                registers.append(extra.id)
            station = KitchenStation(id=uuid.uuid4(), store_id=store.id, code="barra", name="Barra")
            session.add(station)
            rows = await session.execute(
                select(ProductBarcode.barcode, Product.id)
                .join(Product, Product.id == ProductBarcode.product_id)
                .where(Product.weighable.is_(False))
                .order_by(Product.sku)
                .limit(2)
            )
            barcodes, products = [], []
            for barcode, product_id in rows:
                barcodes.append(barcode)
                products.append(product_id)
            await session.execute(
                update(StockLevel).where(StockLevel.product_id.in_(products)).values(quantity=10**9)
            )
            tokens = {}
            for role in ("cashier", "owner", "kitchen"):
                user_secret = new_secret()
                user = User(
                    id=uuid.uuid4(), username=f"t-{role}", display_name=role, role=role, password_hash="x"
                )
                session.add(user)
                await session.flush()
                session.add(ApiToken(id=digest(user_secret), user_id=user.id, name="scale-out test"))
                tokens[role] = bearer_token("shk", tenant_id, user_secret)
        return Store_(tenant_id, store.id, station.id, registers[:TILLS], barcodes, tokens)
    finally:
        await db.dispose()


async def database_figures(url: str, tenant_id: uuid.UUID) -> tuple[dict[str, int], dict[str, int]]:
    db = Database(url)
    try:
        async with db.tenant(tenant_id) as session:
            sales = {
                str(sale_id): number
                for sale_id, number in await session.execute(
                    select(Sale.id, Sale.number).where(Sale.kind == "sale")
                )
            }
            states = dict(
                (
                    await session.execute(
                        select(FiscalDocument.status, func.count()).group_by(FiscalDocument.status)
                    )
                ).all()
            )
            total = (
                await session.execute(
                    select(func.coalesce(func.sum(Sale.total), 0)).where(Sale.kind == "sale")
                )
            ).scalar_one()
        return sales, {"total": int(total), **{str(k): int(v) for k, v in states.items()}}
    finally:
        await db.dispose()


async def wait_for_final_documents(url: str, tenant_id: uuid.UUID, expected: int, procs: list[Proc]) -> None:
    states: dict[str, int] = {}
    for _ in range(240):
        _, states = await database_figures(url, tenant_id)
        if sum(v for k, v in states.items() if k in FINAL) == expected:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"fiscal documents not final after 120 s: {states}\n" + "\n".join(p.tail() for p in procs)
    )


async def worker_totals(base: str, tenant_id: uuid.UUID) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{base}/dashboard/{tenant_id}/")
        if answer.status_code == 404:  # no event of the tenant handled yet
            return {"count": None, "sales_total": None}
        assert answer.status_code == 200, answer.text
        totals: dict[str, Any] = answer.json()["totals"]
        return totals


async def test_two_nodes_survive_a_killed_node_and_a_killed_worker(
    scaled_db: tuple[str, str], redis_url: str, kafka_url: str, tmp_path: Path
) -> None:
    url, secret_key = scaled_db
    store = await prepare(url, secret_key)
    env = cluster_env(
        database_url=url, redis_url=redis_url, kafka_url=kafka_url, secret_key=secret_key, sii_url=""
    )
    sii, sii_url = sii_simulator(env, tmp_path)
    env["STOREHUB_SII_SIMULATOR_URL"] = sii_url
    node1, base1 = hub_node("node1", env, tmp_path)
    node2, base2 = hub_node("node2", env, tmp_path)
    work, work_base = worker(env, tmp_path)
    procs = [sii, node1, node2, work]
    screens: list[Screen] = []
    try:
        for proc in procs:
            proc.start()
        ws1, ws2 = base1.replace("http", "ws") + "/ws", base2.replace("http", "ws") + "/ws"
        dashboard, kds = Screen(), Screen()
        await dashboard.open(ws2, store.tokens["owner"], "tenant")
        await kds.open(ws2, store.tokens["kitchen"], f"kitchen:{store.station_id}")
        screens += [dashboard, kds]

        acks, stop = Acks(), asyncio.Event()
        tills = [FailoverTill([ws1, ws2], store.tokens["cashier"], r, store, acks) for r in store.registers]
        selling = [asyncio.create_task(t.run(sales=30, stop=stop)) for t in tills]

        await acks.wait_for(15)  # sales flow through node 1 ...
        on_node1 = dict(acks.sales)
        node1.kill()  # ... and node 1 dies in the middle of checkouts
        await acks.wait_for(len(on_node1) + 3 * TILLS, timeout=90)
        assert all(t.node == 1 for t in tills), "every till moved to node 2"

        await acks.wait_for(45, timeout=90)
        work.kill()  # the worker dies while sales go on, and comes back
        await acks.wait_for(60, timeout=90)
        work.start()
        async with asyncio.timeout(120):
            await asyncio.gather(*selling)
        assert len(acks.sales) == 30 * TILLS
        print(f"failover: {acks.resent_found} resent checkouts found made, {acks.resent_missing} not made")

        # Every acknowledged sale is stored exactly once, and nothing else is.
        sales, _ = await database_figures(url, store.tenant_id)
        assert sales == acks.sales
        assert len(set(sales.values())) == len(sales)  # sale numbers unique

        # Every fiscal document reached a final state through the worker.
        await wait_for_final_documents(url, store.tenant_id, len(sales), procs)

        # Node 2's screens got node 1's events live, through Redis.
        numbers_seen = {e["payload"]["number"] for e in dashboard.named("SaleCompleted")}
        assert set(on_node1.values()) <= numbers_seen
        assert len(kds.named("KitchenTicketChanged")) >= len(sales)

        # Node 2's dashboard and the worker's aggregates equal the database.
        _, figures = await database_figures(url, store.tenant_id)
        answer = await call_once(ws2, store.tokens["owner"], "dashboard.get", {})
        assert answer["type"] == "reply", answer
        totals = answer["payload"]["totals"]
        assert (totals["count"], totals["sales_total"]) == (len(sales), figures["total"])
        for _ in range(60):  # the worker catches up on what it missed while down
            totals = await worker_totals(work_base, store.tenant_id)
            if totals["count"] == len(sales):
                break
            await asyncio.sleep(0.5)
        assert (totals["count"], totals["sales_total"]) == (len(sales), figures["total"])
    except BaseException:
        print("\n".join(p.tail() for p in procs))
        raise
    finally:
        for screen in screens:
            await screen.close()
        for proc in reversed(procs):
            proc.stop()
