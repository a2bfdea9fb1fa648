"""A DeviceActor shares its status while its agent is connected (``hub.device_presence``, real Redis): at
once on attach and on every change, again every ``refresh_seconds`` so the record never expires while the
agent stays, and it is withdrawn when the agent leaves."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from redis.asyncio import Redis

from actors.device import AttachAgent, DetachAgent, DeviceActor, DeviceDeps, device_address
from actors.runtime import ActorSystem, Props
from hub.db import Database
from hub.device_presence import RedisPresence
from hub.events.bus import LocalBus
from schema.messages.devices import DeviceStatusReport, DeviceStatusView
from schema.wire import ServerFrame
from tests.support.tenants import make_tenant


class Link:
    def send(self, frame: ServerFrame | str) -> None:
        pass


class Counted(RedisPresence):
    """Counts the writes: the third one is a refresh, since attaching writes once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0
        self.refreshed = asyncio.Event()

    async def share(self, tenant_id: uuid.UUID, view: DeviceStatusView) -> None:
        await super().share(tenant_id, view)
        self.writes += 1
        if self.writes >= 3:
            self.refreshed.set()


async def _never(*args: Any) -> Any:
    raise AssertionError("not expected here")


async def test_a_connected_device_shares_its_status_until_its_agent_leaves(
    sqlite_db: Database, redis: Redis, redis_prefix: str
) -> None:
    tenant = await make_tenant(sqlite_db)
    tenant_id, device_id = tenant.tenant_id, tenant.device_id  # make_tenant's printer
    presence = Counted(redis, prefix=redis_prefix, ttl=1.0, refresh=0.05)
    other_node = RedisPresence(redis, prefix=redis_prefix)
    deps = DeviceDeps(db=sqlite_db, bus=LocalBus(), render=_never, forward_reading=_never, presence=presence)
    link = Link()
    async with ActorSystem(idle_after=None) as actors:
        ref = actors.ref(
            device_address(tenant_id, device_id),
            Props(lambda: DeviceActor(tenant_id, device_id, deps), kind="DeviceActor"),
        )
        assert await other_node.shared(tenant_id, device_id) is None  # started, not yet connected

        await ref.ask(AttachAgent(link), timeout=5)
        shared = await other_node.shared(tenant_id, device_id)
        assert shared is not None and shared.connected and not shared.paper_out

        report = DeviceStatusReport(device_id=device_id, online=True, paper_out=True)
        await ref.ask(report, timeout=5)
        shared = await other_node.shared(tenant_id, device_id)
        assert shared is not None and shared.online and shared.paper_out

        async with asyncio.timeout(5):
            await presence.refreshed.wait()
        assert await redis.pttl(presence.key(tenant_id, device_id)) > 0

        await ref.ask(DetachAgent(link), timeout=5)
        assert await other_node.shared(tenant_id, device_id) is None
