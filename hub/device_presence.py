"""Where every hub node learns the live status of devices whose agents are connected to another node.

A device's ``DeviceActor`` runs on the node its agent's socket is on; the ``DeviceStatusChanged`` events it
publishes reach every node, but a node that (re)builds a tenant's dashboard (``actors.dashboard_load``)
needs the status *now*. So, scaled (Redis), each actor with a connected agent shares its
``DeviceStatusView``:

* ``share`` writes it to ``<prefix>device:<tenant>:<device>`` with a TTL (``TTL_SECONDS``): on every status
  change, and every ``REFRESH_SECONDS`` while the agent stays connected. A node killed without a word
  stops refreshing, and its devices stop counting as connected once their keys expire.
* ``withdraw`` deletes it when the agent leaves (or the actor starts or stops without one), but only if
  this node wrote it: an agent that has already reconnected to another node keeps that node's record.
* ``shared`` reads it: ``Dashboards.device_status`` asks it when no actor here has the agent, when a
  dashboard is rebuilt and, every ``refresh_seconds``, for the devices a dashboard shows connected (a killed
  node's devices say nothing when their records expire).

Embedded (one node, no Redis) there is none: the local actors know every device. Redis away never fails a
device or a dashboard: a warning, and the node goes on with what it knows itself.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Protocol

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schema.messages.devices import DeviceStatusView

log = logging.getLogger("hub.device_presence")

TTL_SECONDS = 30.0
REFRESH_SECONDS = 10.0
TIMEOUT_SECONDS = 2.0  # a Redis that does not answer must not hold a device's actor for long

# KEYS[1] the device's record; ARGV[1] this node's id, which starts the record it wrote.
_WITHDRAW = """
local record = redis.call('GET', KEYS[1])
if record and string.sub(record, 1, string.len(ARGV[1])) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_decoder = msgspec.json.Decoder(DeviceStatusView)


class DevicePresence(Protocol):
    refresh_seconds: float  # how often a connected device's record is written again

    async def share(self, tenant_id: uuid.UUID, view: DeviceStatusView) -> None: ...

    async def withdraw(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> None: ...

    async def shared(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceStatusView | None: ...


class RedisPresence:
    """One key per device, holding this node's id (32 hex digits) then the view as JSON."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "storehub:",
        ttl: float = TTL_SECONDS,
        refresh: float = REFRESH_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = int(ttl * 1000)
        self.refresh_seconds = refresh
        self.timeout = timeout
        self.node = uuid.uuid4().hex
        self._withdraw = redis.register_script(_WITHDRAW)

    def key(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> str:
        return f"{self.prefix}device:{tenant_id}:{device_id}"

    async def share(self, tenant_id: uuid.UUID, view: DeviceStatusView) -> None:
        record = self.node.encode() + msgspec.json.encode(view)
        try:
            async with asyncio.timeout(self.timeout):
                await self.redis.set(self.key(tenant_id, view.device_id), record, px=self.ttl_ms)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("device %s of tenant %s: status not shared (%r)", view.device_id, tenant_id, exc)

    async def withdraw(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self._withdraw(keys=[self.key(tenant_id, device_id)], args=[self.node])
        except (RedisError, OSError, TimeoutError) as exc:
            # It expires on its own: other nodes may show the device connected until then.
            log.warning("device %s of tenant %s: status not withdrawn (%r)", device_id, tenant_id, exc)

    async def shared(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceStatusView | None:
        try:
            async with asyncio.timeout(self.timeout):
                record = await self.redis.get(self.key(tenant_id, device_id))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("device %s of tenant %s: shared status unknown (%r)", device_id, tenant_id, exc)
            return None
        if record is None:
            return None
        try:
            return _decoder.decode(record[len(self.node) :])
        except msgspec.DecodeError:
            log.warning("device %s of tenant %s: unreadable shared status", device_id, tenant_id)
            return None
