"""A hub killed (SIGKILL) while it uploads to SII: after a restart every sale's document reaches a final
state, none is lost and none is ever sent with different content (real processes: the hub, the SII
simulator; the sales go through the till's socket)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.hub.test_cli import ROOT, free_port, storehub

SCHEMAS = ROOT / ".." / "shared" / "reference" / "sii" / "schemas"
SALES = 30


@contextmanager
def process(*args: str, env: dict[str, str], ready: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m hub.cli ARGS`` running until ``ready`` answers 200 (or the block ends)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        with httpx.Client() as client:
            for _ in range(400):
                try:
                    if client.get(ready).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert child.poll() is None, f"{args[0]} exited with {child.returncode}"
                asyncio.run(asyncio.sleep(0.05))
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:  # the simulator may still hold a hung (latency) request
                child.kill()
                child.wait(timeout=10)


def documents(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        return dict(db.execute("SELECT status, count(*) FROM fiscal_documents GROUP BY status").fetchall())


def envelopes(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT count(*) FROM fiscal_envelopes").fetchone()[0])


async def sell(base: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"tenant": "donarosa", "username": "caja1", "password": "demo1234"},
            headers={"Origin": base},
        )  # fmt: skip
        assert login.status_code == 200, login.text
        cookie = http.cookies.get("storehub_session")
        register = (await http.get("/api/v1/registers")).json()[0]["id"]
    headers = {"Cookie": f"storehub_session={cookie}"}
    async with websockets.connect(
        base.replace("http", "ws") + "/ws", origin=base, additional_headers=headers
    ) as ws:
        await ws.recv()
        n = 0

        async def call(type_: str, payload: dict[str, Any]) -> dict[str, Any]:
            nonlocal n
            n += 1
            await ws.send(json.dumps({"id": str(n), "type": type_, "payload": payload}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame.get("id") == str(n):
                    assert frame["type"] == "reply" or frame.get("code") == "cash_session_open", frame
                    return dict(frame.get("payload") or {})

        await call("cash.open", {"register_id": register, "float_amount": 0})
        for _ in range(count):
            cart = await call("cart.add", {"register_id": register, "code": "7800000000504"})
            await call(
                "checkout", {"register_id": register, "tenders": [{"kind": "card", "amount": cart["total"]}]}
            )


@pytest.mark.timeout(240)
def test_a_hub_killed_mid_upload_resumes_without_loss(tmp_path: Path) -> None:
    database = tmp_path / "hub.db"
    sim_port, hub_port = free_port(), free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    hub = f"http://127.0.0.1:{hub_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")} | {
        "STOREHUB_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "STOREHUB_SECRET_KEY": "restart-test-secret-key-" + "z" * 32,
        "STOREHUB_SII_SIMULATOR_URL": sim,
        "STOREHUB_SII_TIMEOUT_SECONDS": "2",
    }
    assert storehub("migrate", env=env).returncode == 0
    assert storehub("seed-demo", env=env).returncode == 0
    sim_args = ("sim", "sii", "--port", str(sim_port), "--schemas", str(SCHEMAS))
    with process(*sim_args, env=env, ready=f"{sim}/_sim/state"), httpx.Client(base_url=sim) as control:
        # Uploads hang past the hub's timeout: the hub is always mid-upload when it dies.
        control.post("/_sim/faults", json={"latency_ms": 60_000, "paths": ["envio", "DTEUpload"]})
        with process("serve", "--port", str(hub_port), env=env, ready=f"{hub}/healthz") as first:
            asyncio.run(sell(hub, SALES))
            for _ in range(200):  # until the pipeline has built an envelope and is sending it
                if envelopes(database):
                    break
                asyncio.run(asyncio.sleep(0.05))
            assert envelopes(database) > 0
            asyncio.run(asyncio.sleep(0.5))
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        assert sum(documents(database).values()) == SALES  # every sale's document was recorded
        assert "accepted" not in documents(database)
        control.post("/_sim/faults", json={})
        with process("serve", "--port", str(hub_port), env=env, ready=f"{hub}/healthz"):
            for _ in range(1200):
                if documents(database) == {"accepted": SALES}:
                    break
                asyncio.run(asyncio.sleep(0.05))
        assert documents(database) == {"accepted": SALES}
        state = control.get("/_sim/state").json()
    assert state["counters"].get("conflicting_documents", 0) == 0
    assert len(state["documents"]) == SALES
