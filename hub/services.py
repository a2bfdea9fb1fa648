"""Everything a hub process holds for its lifetime, built from settings and started in order.

Components start in the order they were added and stop in reverse, so later parts (actors, bus, relay)
may rely on earlier ones (database, Redis) for their whole life::

    services = Services(settings)
    services.actors = ActorSystem(...)
    services.add_component("actors", start=services.actors.start, stop=services.actors.stop)
    await services.start()   # db, redis, ..., actors
    await services.stop()    # actors, ..., redis, db

A component that fails to start stops everything started before it, then the error propagates.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.pool import QueuePool

from actors.dashboard import Dashboards
from actors.deps import ActorDeps
from actors.register_state import LocalRegisterState
from actors.runtime import ActorSystem
from hub.auth.passwords import Passwords
from hub.auth.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from hub.auth.revocation import UserSockets
from hub.control import TenantControl
from hub.db import Database
from hub.devices import DeviceService
from hub.events.bus import Bus, LocalBus
from hub.events.kafka_stream import KafkaEventStream
from hub.events.outbox import OutboxRelay
from hub.events.publisher_lease import RedisLease
from hub.events.redis_bus import RedisBus
from hub.events.stream import EventStream
from hub.fiscal import FiscalService
from hub.fiscal_process import FiscalProcess
from hub.live_metrics import live_samples
from hub.metrics import HttpMetrics, MetricsRegistry, Sample
from hub.redis_register_state import RedisRegisterState
from hub.settings import Settings
from schema.messages.control_notices import ControlNotice, DeviceNotice, UserNotice

if TYPE_CHECKING:
    from hub.gateway.connection import Connection

log = logging.getLogger("hub.services")

Hook = Callable[[], Awaitable[None]]

REDIS_CONNECTIONS = 32  # per hub process: the bus's commands, rate limits (pub/sub has its own connection)


@dataclass(frozen=True)
class Component:
    name: str
    start: Hook | None = None
    stop: Hook | None = None


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        role: str = "hub",
        db: Database | None = None,
        redis: Redis | None = None,
        rate_limiter: RateLimiter | None = None,
        passwords: Passwords | None = None,
        metrics: MetricsRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or MetricsRegistry()
        self.http_metrics = HttpMetrics(self.metrics)
        self.passwords = passwords or Passwords()
        self.db = db or Database(settings.database_url, pool_size=settings.db_pool_size)
        self.redis: Redis | None = redis
        if self.redis is None and settings.redis_url:
            # A blocking pool: a burst (500 screens subscribing at once) waits its turn for a connection
            # instead of failing with "too many connections".
            pool = BlockingConnectionPool.from_url(
                settings.redis_url, max_connections=REDIS_CONNECTIONS, timeout=10
            )
            self.redis = Redis.from_pool(pool)
        limit = settings.login_attempts_per_minute
        if rate_limiter is not None:
            self.rate_limiter: RateLimiter = rate_limiter
        elif self.redis is not None:
            self.rate_limiter = RedisRateLimiter(self.redis, limit)
        else:
            self.rate_limiter = MemoryRateLimiter(limit)
        self._components: list[Component] = []
        self._started: list[Component] = []
        self.running = False
        self.add_component("db", stop=self.db.dispose)
        if self.redis is not None:
            self.add_component("redis", stop=self.redis.aclose)
        self.metrics.register_collector(self._db_pool_samples)
        # Live path: bus (in-process when embedded, Redis between hub nodes), outbox relay feeding it (and
        # the Kafka event stream when scaled), actors, open sockets.
        self.role = role
        self.bus: Bus = LocalBus() if self.redis is None else RedisBus(self.redis)
        self.event_stream: EventStream | None = None
        if settings.kafka_url:
            self.event_stream = KafkaEventStream(settings.kafka_url)
            self.add_component("event-stream", start=self.event_stream.start, stop=self.event_stream.stop)
        self.relay = OutboxRelay(self.db, self.bus, stream=self.event_stream)
        self.db.after_outbox_commit = self.relay.committed
        self.actors = ActorSystem(idle_after=settings.actor_idle_seconds, on_escalate=self._escalated)
        self.fiscal = FiscalService(settings, self.db, self.actors)
        self.fiscal_process: FiscalProcess | None = None
        if self.runs_fiscal_in_child:
            self.fiscal_process = FiscalProcess(settings, on_outbox=self.relay.notify)
            self.fiscal.remote = self.fiscal_process.wake
        self.sockets: set[Connection] = set()
        # What other hub nodes change (devices, users, print jobs) reaches this one through ``control``.
        self.control = TenantControl(self.bus, self._heard)
        self.devices = DeviceService(self)
        self.users = UserSockets(self)
        # The owners' live figures; with several nodes, one node at a time publishes a tenant's changes.
        lease = RedisLease(self.redis) if self.redis is not None else None
        self.dashboards = Dashboards(
            self.actors, self.db, self.bus, lease=lease, presence=self.devices.presence
        )
        self.actor_deps = ActorDeps(
            db=self.db,
            bus=self.bus,
            # Scaled, the worker runs the pipeline: it learns of new documents from the event stream.
            documents_made=self.fiscal.wake
            if self.runs_fiscal or self.runs_fiscal_in_child
            else lambda _tenant_id: None,
            printable=self.devices.printable,
            registers=RedisRegisterState(self.redis) if self.redis is not None else LocalRegisterState(),
        )
        self.add_component("bus", start=self.bus.start, stop=self.bus.stop)
        self.add_component("actors", start=self.actors.start, stop=self.actors.stop)
        self.add_component("relay", start=self.relay.start, stop=self.relay.stop)
        if self.runs_fiscal:
            self.add_component("fiscal", start=self.fiscal.start, stop=self.fiscal.stop)
        elif self.fiscal_process is not None:
            self.add_component(
                "fiscal-process", start=self.fiscal_process.start, stop=self.fiscal_process.stop
            )
        self.add_component("control", stop=self.control.stop)
        self.add_component("devices", stop=self.devices.stop)
        self.metrics.register_collector(lambda: live_samples(self))

    @property
    def runs_fiscal(self) -> bool:
        """Whether the fiscal pipeline runs in this process: in the hub's loop on SQLite (or when asked), in
        ``storehub worker`` when scaled (Kafka); see ``runs_fiscal_in_child``."""
        if self.role == "worker":
            return True
        return not self.settings.kafka_url and not self.runs_fiscal_in_child

    @property
    def runs_fiscal_in_child(self) -> bool:
        """Whether this hub runs the fiscal pipeline in a child process (``hub.fiscal_process``): Postgres
        without Kafka, unless ``STOREHUB_FISCAL_RUNNER`` says otherwise."""
        return self.role == "hub" and not self.settings.kafka_url and self.settings.fiscal_in_child

    def add_component(self, name: str, *, start: Hook | None = None, stop: Hook | None = None) -> None:
        if self.running:
            raise RuntimeError(f"cannot add component {name!r}: services already started")
        self._components.append(Component(name, start, stop))

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(c.name for c in self._components)

    async def start(self) -> None:
        if self.running:
            return
        for component in self._components:
            try:
                if component.start is not None:
                    await component.start()
            except BaseException:
                log.error("component %s failed to start", component.name)
                await self.stop()
                raise
            self._started.append(component)
        self.running = True
        log.info("services started: %s", ", ".join(self.components))

    async def stop(self) -> None:
        """Stop what was started, last first; one failing stop does not keep the others running."""
        while self._started:
            component = self._started.pop()
            if component.stop is None:
                continue
            try:
                await component.stop()
            except Exception:
                log.exception("component %s failed to stop", component.name)
        self.running = False

    def _heard(self, tenant_id: uuid.UUID, notice: ControlNotice) -> None:
        """Another node's notice (a bus listener: must not block)."""
        if isinstance(notice, DeviceNotice):
            self.devices.heard(tenant_id, notice)
        elif isinstance(notice, UserNotice):
            self.users.heard(tenant_id, notice)

    def _escalated(self, address: str, exc: BaseException) -> None:
        log.error("actor %s escalated after repeated crashes: %r", address, exc)

    def _db_pool_samples(self) -> Iterable[Sample]:
        pool = self.db.engine.pool
        if not isinstance(pool, QueuePool):
            return []
        help_ = "Database connection pool"
        return [
            Sample("storehub_db_pool_size", pool.size(), help=help_ + " size"),
            Sample("storehub_db_pool_checked_out", pool.checkedout(), help=help_ + " connections in use"),
            Sample("storehub_db_pool_overflow", pool.overflow(), help=help_ + " overflow connections"),
        ]
