"""``storehub sim devices``: the demo store's virtual scale and printer and the real device agent, beside a
hub that runs in another process (compose.yaml's ``devices`` service), as ``storehub serve --simulators``
runs them inside its own."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")}
    return clean | {
        "STOREHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hub.db",
        "STOREHUB_SECRET_KEY": "sim-devices-test-secret-" + "x" * 32,
    }


async def spawn(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """``storehub *args`` with its stdout and stderr together on a pipe."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def storehub(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await spawn(*args, env=env)
    output, _ = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, output.decode()


@asynccontextmanager
async def running(*args: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await spawn(*args, env=env)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 20)


async def read_until(process: asyncio.subprocess.Process, text: str, seconds: float) -> str:
    assert process.stdout is not None
    seen: list[str] = []
    async with asyncio.timeout(seconds):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"ended before {text!r}:\n{''.join(seen)}")
            seen.append(line)
            if text in line:
                return "".join(seen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_without_the_demo_store_it_says_so_and_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    assert (await storehub("migrate", env=env))[0] == 0
    code, output = await storehub(
        "sim", "devices", "--hub", "http://127.0.0.1:9", "--state-dir", str(tmp_path / "agent"), env=env
    )
    assert code == 2, output
    assert "storehub seed-demo" in output and "Traceback" not in output


async def test_it_drives_the_demo_stores_devices_through_a_hub_elsewhere(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert (await storehub("migrate", env=env))[0] == 0
    assert (await storehub("seed-demo", env=env))[0] == 0
    port = free_port()
    hub = f"http://127.0.0.1:{port}"
    async with running("serve", "--port", str(port), env=env) as server:
        await read_until(server, "Storehub serving on", 60)  # the agent retries until it listens
        state = tmp_path / "agent"
        async with running("sim", "devices", "--hub", hub, "--state-dir", str(state), env=env) as devices:
            # The hub accepted the demo store's scale and printer from the agent's hello.
            output = await read_until(devices, "2 device(s) accepted", 60)
            assert f"device agent connected to {hub}\n" in output  # no /simdevices/: that hub has no demo
            assert (state / "agent.toml").is_file()
