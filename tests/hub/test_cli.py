"""The ``storehub`` command as an operator uses it: migrate, seed, create tenants and users, serve."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

ROOT = Path(__file__).resolve().parents[2]


def storehub(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")}
    return clean | {
        "STOREHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hub.db",
        # seed-demo seals the demo's certificate and CAFs with it (and refuses to run without one).
        "STOREHUB_SECRET_KEY": "cli-test-secret-key-" + "x" * 32,
    }


def test_migrate_seed_and_create_tenant_and_user(env: dict[str, str]) -> None:
    migrated = storehub("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = storehub("seed-demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "donarosa" in seeded.stdout and "guayaquilena" in seeded.stdout and "demo1234" in seeded.stdout
    assert "Minimarket catalog: done, 328" in seeded.stderr  # progress is shown on stderr
    again = storehub("seed-demo", env=env)  # idempotent
    assert again.returncode == 0, again.stderr
    made = storehub(
        "create-tenant",
        "--slug",
        "almacen-luz",
        "--name",
        "Almacén Luz",
        "--country",
        "CL",
        "--tax-id",
        "76.086.428-5",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    user = storehub(
        "create-user",
        "--tenant",
        "almacen-luz",
        "--username",
        "luz",
        "--role",
        "owner",
        "--password-stdin",
        env=env,
        stdin="una clave larga\n",
    )
    assert user.returncode == 0, user.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("create-tenant", "--slug", "x1y", "--name", "X", "--country", "CL", "--tax-id", "76.086.428-4"),
            "check digit",
        ),
        (
            (
                "create-tenant",
                "--slug",
                "Bad Slug",
                "--name",
                "X",
                "--country",
                "CL",
                "--tax-id",
                "76086428-5",
            ),
            "slug",
        ),
        (
            ("create-tenant", "--slug", "ecu", "--name", "X", "--country", "EC", "--tax-id", "123"),
            "13 digits",
        ),
        (
            ("create-user", "--tenant", "nobody", "--username", "a1", "--role", "owner", "--password-stdin"),
            "no tenant",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    assert storehub("migrate", env=env).returncode == 0
    result = storehub(*args, env=env, stdin="una clave larga\n")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unknown_settings_are_refused(env: dict[str, str]) -> None:
    result = storehub("migrate", env=env | {"STOREHUB_DATABSE_URL": "typo"})
    assert result.returncode == 2 and "STOREHUB_DATABSE_URL" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    assert storehub("migrate", env=env).returncode == 0
    assert storehub("seed-demo", env=env).returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                asyncio.run(asyncio.sleep(0.05))
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_the_served_demo_logs_in_and_opens_a_socket(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as http:
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/docs")).status_code in (200, 301, 302, 307, 308)
        login = await http.post(
            "/api/v1/auth/login",
            json={"tenant": "donarosa", "username": "caja1", "password": "demo1234"},
            headers={"Origin": served},
        )
        assert login.status_code in (200, 201), login.text
        cookie = http.cookies.get("storehub_session")
        assert cookie
        products = await http.get("/api/v1/products", params={"q": "marraq"})
        assert products.status_code == 200 and "Marraqueta" in products.text
    ws_url = served.replace("http", "ws") + "/ws"
    async with websockets.connect(
        ws_url, origin=served, additional_headers={"Cookie": f"storehub_session={cookie}"}
    ) as socket_:
        welcome = json.loads(await asyncio.wait_for(socket_.recv(), 5))
        assert welcome["type"] == "welcome" and welcome["role"] == "cashier"
        await socket_.send(
            json.dumps({"id": "1", "type": "catalog.lookup", "payload": {"code": "7800000000504"}})
        )
        reply = json.loads(await asyncio.wait_for(socket_.recv(), 5))
        assert reply["type"] == "reply" and reply["payload"]["sku"] == "00050"
