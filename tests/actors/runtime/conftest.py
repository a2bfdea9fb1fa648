from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from actors.runtime import ActorSystem
from tests.actors.runtime.support import Journal


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
async def system() -> AsyncIterator[ActorSystem]:
    system = ActorSystem(name="test", idle_after=None, sweep_interval=0.01)
    await system.start()
    yield system
    await system.stop(timeout=5.0)
