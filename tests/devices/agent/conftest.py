"""Fixtures of the agent's tests: a fake hub, and the whole agent (``run_agent``) run in this event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.agent.main import EXIT_OK, run_agent
from tests.devices.agent.fake_hub import FakeHub


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    hub = await FakeHub().start()
    yield hub
    with contextlib.suppress(AssertionError):  # a test may have stopped it
        await hub.stop()


def write_config(tmp_path: Path, devices: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(f'[agent]\nname = "test"\nstate_dir = "{tmp_path}/state"\n{devices}')
    return path


@contextlib.asynccontextmanager
async def agent_running(hub: FakeHub, config: Path) -> AsyncIterator[None]:
    """The agent from start until it stops cleanly (exit code 0) at the end of the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_agent(hub.url, "good-token", config, stop=stop))
    try:
        await hub.wait_until(lambda: hub.hellos >= 1 or task.done())
        assert not task.done(), f"the agent ended with {task.result()}"
        yield
    finally:
        stop.set()
        code = await asyncio.wait_for(task, 15)
    assert code == EXIT_OK
