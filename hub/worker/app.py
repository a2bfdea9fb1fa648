"""The faust app of ``storehub worker``: one agent over the event stream, one Table, two web pages.

Each record of ``storehub.events`` (key: the tenant id, value: ``hub.events.stream.EventRecord`` as JSON)
goes through ``Pipelines.handle``, in the order of its partition, so a tenant's events are handled in write
order by one worker at a time (faust assigns partitions across workers):

* a sale or credit note wakes the tenant's fiscal pipeline (``hub.fiscal.FiscalService``, the code the
  embedded hub runs; documents are claimed in the database, so a redelivered wake does nothing twice);
* the dashboard aggregates count it (``hub.worker.dashboards``), low-stock alerts included.

A failure that is not the record's fault (the database unreachable) is retried with backoff before the
record counts as handled, so its Kafka offset is not committed past an event it dropped. A record the
code refuses (a ``StorehubError``: bad data) is logged and skipped: it must not stop the partition.

The worker's own outbox writes (a fiscal document's state change) go out through the same relay as a hub
node's: to the Redis bus (screens) and the event stream. ``GET /dashboard/<tenant id>/`` shows the worker's
aggregates of a tenant; ``GET /health/`` says whether the pipelines run. The web port is an operator's:
bind it to a private address.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import faust
import mode
import msgspec
from faust.web import Request, Response, View

from actors.dashboard_totals import SALE_EVENTS
from fiscal.cl.pipeline import SETUP_EVENT
from hub.events.kafka_stream import PARTITIONS, TOPIC
from hub.events.stream import EventRecord, decode_record
from hub.services import Services
from hub.settings import Settings
from hub.worker.dashboards import WorkerDashboards
from schema.errors import StorehubError, ValidationError

log = logging.getLogger("hub.worker")

APP_ID = "storehub-worker"
RETRY_MAX_SECONDS = 10.0
# A document was made (sale, credit note), or the fiscal setup changed: the tenant's pipeline has work.
WAKES_FISCAL = SALE_EVENTS | {SETUP_EVENT}


class Pipelines:
    """What the agent drives, started with the worker: the services and the dashboards' counting."""

    def __init__(self, settings: Settings, table: Any) -> None:
        self.services = Services(settings, role="worker")
        self.dashboards = WorkerDashboards(self.services.db, table)
        self.ready = asyncio.Event()
        self.handled = 0
        self.skipped = 0

    async def start(self) -> None:
        await self.services.start()
        self.ready.set()

    async def stop(self) -> None:
        self.ready.clear()
        await self.services.stop()

    async def handle(self, record: EventRecord) -> None:
        await self.ready.wait()
        delay = 0.2
        while True:
            try:
                if record.event in WAKES_FISCAL:
                    self.services.fiscal.wake(record.tenant_id)
                await self.dashboards.count(record)
                self.handled += 1
                return
            except StorehubError:
                self.skipped += 1
                log.exception("event %s (%s) refused; skipped", record.event_id, record.event)
                return
            except Exception:
                log.exception("event %s failed; retrying in %.1f s", record.event_id, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)


class _Lifecycle(mode.Service):
    def __init__(self, pipelines: Pipelines, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipelines = pipelines

    async def on_start(self) -> None:
        await self.pipelines.start()

    async def on_stop(self) -> None:
        await self.pipelines.stop()


def make_app(
    settings: Settings, *, web_host: str = "127.0.0.1", web_port: int = 6066
) -> tuple[faust.App, Pipelines]:
    """The faust app and the pipelines its agent drives (start them with it: ``run``)."""
    if not settings.kafka_url:
        raise ValidationError("storehub worker needs STOREHUB_KAFKA_URL (the event stream's bootstrap)")
    app = faust.App(
        APP_ID,
        broker=",".join(f"kafka://{server.strip()}" for server in settings.kafka_url.split(",")),
        store="memory://",
        topic_partitions=PARTITIONS,
        web_host=web_host,
        web_port=web_port,
        web_bind=web_host,  # faust binds every interface (0.0.0.0) unless told: the status pages are private
        # A restarted worker rejoins its group in seconds rather than a minute.
        broker_rebalance_timeout=5,
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        consumer_auto_offset_reset="earliest",
    )
    table = app.Table("dashboard", default=None, partitions=PARTITIONS)
    pipelines = Pipelines(settings, table)
    events = app.topic(TOPIC, key_serializer="raw", value_serializer="raw", partitions=PARTITIONS)

    @app.agent(events)
    async def pipeline(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            try:
                record = decode_record(value)
            except msgspec.DecodeError:
                log.error("undecodable record skipped: %r", value[:200])
                continue
            await pipelines.handle(record)

    @app.page("/dashboard/{tenant}/")
    class TenantDashboard(View):
        async def get(self, request: Request, tenant: str) -> Response:
            try:
                tenant_id = uuid.UUID(tenant)
            except ValueError:
                return self.json({"error": "not a tenant id"}, status=400)
            view = pipelines.dashboards.snapshot(tenant_id)
            if view is None:
                return self.json({"error": "no events of this tenant yet"}, status=404)
            return self.json(msgspec.to_builtins(view))

    @app.page("/health/")
    class Health(View):
        async def get(self, request: Request) -> Response:
            ready = pipelines.ready.is_set()
            return self.json(
                {
                    "status": "ok" if ready else "starting",
                    "handled": pipelines.handled,
                    "skipped": pipelines.skipped,
                    "counted": pipelines.dashboards.counted,
                },
                status=200 if ready else 503,
            )

    return app, pipelines


def run(settings: Settings, *, web_host: str, web_port: int, loglevel: str) -> int:
    """Run the worker until a signal stops it (blocks)."""
    app, pipelines = make_app(settings, web_host=web_host, web_port=web_port)
    worker = faust.Worker(app, _Lifecycle(pipelines), loglevel=loglevel)
    worker.execute_from_commandline()
    return 0
