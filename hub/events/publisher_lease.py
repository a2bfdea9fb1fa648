"""Which hub node publishes what every node could: the owner dashboard's ``DashboardChanged`` of a tenant.

Every hub node with a dashboard socket of a tenant runs that tenant's ``DashboardActor``: it answers
``dashboard.get`` from its own figures, kept from the tenant's events, which every node hears. Were each
to publish its ``DashboardChanged`` too, every screen would get each change once per node (and, for the
parts a node sees alone, such as the devices connected to it, screens would flip between the nodes'
views). So one node at a time holds a tenant's *publisher lease*:

* ``claim`` before each publish: ``held`` (ours, renewed), ``taken`` (it was free or expired: ours now,
  publish everything, since screens so far had another node's figures) or ``other`` (another node's: do
  not publish; its screens hear that node).
* A lease not renewed for ``ttl`` seconds (its node died, or had nothing to say) is free again: whichever
  node has a change first takes it. A node that cannot reach Redis publishes (the screens see doubles
  rather than nothing); embedded, with one node, the lease is always held.

The figures each node keeps are equal: the same events, counted by the same code. The lease only decides
who speaks.
"""

from __future__ import annotations

import logging
import uuid
from enum import Enum
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("hub.events.publisher_lease")

TTL_SECONDS = 10.0

# KEYS[1] the tenant's lease; ARGV[1] this node, ARGV[2] ttl in ms. 1: held (renewed), 2: taken, 0: other's.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 2
end
return 0
"""


class Claim(Enum):
    HELD = "held"
    TAKEN = "taken"
    OTHER = "other"


class PublisherLease(Protocol):
    async def claim(self, tenant_id: uuid.UUID) -> Claim: ...


class SoleNode:
    """Embedded: one hub node, always the publisher."""

    async def claim(self, tenant_id: uuid.UUID) -> Claim:
        return Claim.HELD


class RedisLease:
    """The lease as a Redis key per tenant, ``<prefix>lease:dashboard:<tenant>`` holding the node's id."""

    def __init__(self, redis: Redis, *, prefix: str = "storehub:", ttl: float = TTL_SECONDS) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = int(ttl * 1000)
        self.node = uuid.uuid4().hex
        self._script = redis.register_script(_CLAIM)

    async def claim(self, tenant_id: uuid.UUID) -> Claim:
        key = f"{self.prefix}lease:dashboard:{tenant_id}"
        try:
            answer = int(await self._script(keys=[key], args=[self.node, self.ttl_ms]))
        except (RedisError, OSError) as exc:
            log.warning("dashboard lease of tenant %s unknown (%s): publishing", tenant_id, exc)
            return Claim.HELD
        return {1: Claim.HELD, 2: Claim.TAKEN}.get(answer, Claim.OTHER)
