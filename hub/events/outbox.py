"""Transactional outbox: ``emit`` writes an event in the caller's transaction; the relay publishes it.

``Database.tenant()`` hands the rows a transaction wrote to ``relay.committed`` straight after the commit
(wired by ``hub.services``): they are published there, in commit order, with no query in between, and
the relay's task marks them published a moment later in one statement. A periodic sweep (and one at
start) picks up anything a crash, a failed publish or another process left behind, so a crash between
commit and publish delays an event, never loses it. Delivery is at least once: an event is marked
published only after the bus took it, and consumers de-duplicate on ``event_id``.

With an event stream (``hub.events.stream``: Kafka when scaled) a row is marked published only after the
bus *and* the stream took it. ``committed`` still only publishes to the bus, since a checkout's reply waits
for it: the relay's task sends what it hands over to the stream in one batch, then marks it. When the
stream refuses, the rows stay unpublished and the sweep retries them; the bus is not given again what it
already took (the relay remembers those ids, up to ``remember`` of them), and the tenant is *behind*: until
the sweep has caught up, its new rows go the sweep's way too, so the stream never gets a tenant's newer
event before an older one it refused. A relay that dies between the stream's ack and the mark sends
those rows again after restart: duplicates, never gaps.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database, WrittenEvent, outbox_written, tenant_of
from hub.events.bus import Bus
from hub.events.stream import EventRecord, EventStream, outbox_record
from schema.models import OutboxEvent
from schema.models.base import new_id

log = logging.getLogger("hub.outbox")


def emit(session: AsyncSession, stream: str, event: str, payload: Any) -> OutboxEvent:
    """Queue ``event`` on the tenant's ``stream``; it is published only if the transaction commits."""
    row = OutboxEvent(
        id=new_id(),
        tenant_id=tenant_of(session),
        stream=stream,
        event=event,
        payload=msgspec.to_builtins(payload),
    )
    session.add(row)
    outbox_written(session).append(WrittenEvent(row.id, stream, event, row.payload))
    return row


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        *,
        stream: EventStream | None = None,
        sweep_seconds: float = 5.0,
        batch: int = 500,
        remember: int = 100_000,
    ) -> None:
        self.db = db
        self.bus = bus
        self.stream = stream
        self.sweep_seconds = sweep_seconds
        self.batch = batch
        self.remember = remember
        self._dirty: set[uuid.UUID] = set()
        # Published straight after their commit, not yet marked: the sweep must not publish them again.
        self._unmarked: dict[uuid.UUID, list[WrittenEvent]] = {}
        self._in_flight: set[uuid.UUID] = set()
        # Taken by the bus, not yet marked (stream or mark failed): retries skip the bus. Oldest first.
        self._bus_took: dict[uuid.UUID, None] = {}
        # Tenants whose rows the stream refused: the sweep sends all their rows until it has caught up.
        self._behind: set[uuid.UUID] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.relayed = 0
        self.failures = 0

    def notify(self, tenant_id: uuid.UUID) -> None:
        self._dirty.add(tenant_id)
        self._wake.set()

    async def committed(self, tenant_id: uuid.UUID, written: list[WrittenEvent]) -> None:
        """Publish the rows a transaction just committed; the relay's task streams and marks them.

        Never raises: the change is committed whatever happens here, so a failed publish is left to the
        relay (the rows stay unpublished and it retries them). Never waits for the event stream.
        """
        published: list[WrittenEvent] = []
        try:
            for item in written:
                self._in_flight.add(item.id)
                event_id = str(item.id)
                await self.bus.publish(tenant_id, item.stream, item.event, item.payload, event_id=event_id)
                published.append(item)
        except Exception:
            log.exception("publishing after commit failed for tenant %s; the relay retries", tenant_id)
            self._in_flight.difference_update(item.id for item in written[len(published) :])
            self._dirty.add(tenant_id)
        if published:
            self._unmarked.setdefault(tenant_id, []).extend(published)
        self._wake.set()

    def _remember_bus_took(self, ids: list[uuid.UUID]) -> None:
        for row_id in ids:
            self._bus_took[row_id] = None
        while len(self._bus_took) > self.remember:  # forgotten ones go to the bus again: at least once
            del self._bus_took[next(iter(self._bus_took))]

    def _leave_to_sweep(self, tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> None:
        self._remember_bus_took(ids)
        self._in_flight.difference_update(ids)
        self._dirty.add(tenant_id)

    async def _flush_committed(self) -> None:
        """Stream (when there is a stream) and mark what ``committed`` published, a batch at a time."""
        while self._unmarked:
            pending, self._unmarked = self._unmarked, {}
            if self.stream is not None:
                for tenant_id in [t for t in pending if t in self._behind]:
                    self._leave_to_sweep(tenant_id, [item.id for item in pending.pop(tenant_id)])
                records = [
                    outbox_record(tenant_id, item.id, item.stream, item.event, item.payload)
                    for tenant_id, items in pending.items()
                    for item in items
                ]
                try:
                    await self.stream.send(records)
                except Exception:
                    self.failures += 1
                    log.warning("the event stream did not take %d events; the relay retries", len(records),
                                exc_info=True)  # fmt: skip
                    for tenant_id, items in pending.items():
                        self._behind.add(tenant_id)
                        self._leave_to_sweep(tenant_id, [item.id for item in items])
                    continue
            for tenant_id, items in pending.items():
                await self._mark_published(tenant_id, [item.id for item in items])

    async def _mark_published(self, tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> None:
        try:
            async with self.db.tenant(tenant_id) as session:
                # No session state to synchronize (nothing here loaded the rows): skip the ORM's evaluation.
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(ids))
                    .values(published_at=datetime.now(UTC))
                    .execution_options(synchronize_session=False)
                )
        except Exception:
            # Left unmarked, they are published again by a sweep: at least once, never lost.
            self.failures += 1
            log.exception("marking outbox rows published failed for tenant %s", tenant_id)
            self._remember_bus_took(ids)
        self._in_flight.difference_update(ids)
        self.relayed += len(ids)

    async def start(self) -> None:
        for tenant_id in await self.db.tenants_with_pending_outbox():
            self._dirty.add(tenant_id)
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, grace: float = 5.0) -> None:
        """Finish the batch in hand (so it is marked, not published again after restart), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            async with asyncio.timeout(grace):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        self._stopping = False

    async def _run(self) -> None:
        while not self._stopping:
            try:
                async with asyncio.timeout(self.sweep_seconds):
                    await self._wake.wait()
            except TimeoutError:
                self._dirty.update(await self._pending_tenants())
            self._wake.clear()
            await self._flush_committed()
            while self._dirty and not self._stopping:
                tenant_id = self._dirty.pop()
                try:
                    if await self.relay_tenant(tenant_id) >= self.batch:
                        self._dirty.add(tenant_id)  # more waiting: come back after the others
                except Exception:
                    self.failures += 1
                    log.exception("outbox relay failed for tenant %s; will retry", tenant_id)
                    self._dirty.add(tenant_id)
                    await asyncio.sleep(min(self.sweep_seconds, 1.0))
                    break
        await self._flush_committed()  # stopping: what went out is marked, not published again after restart

    async def _pending_tenants(self) -> list[uuid.UUID]:
        try:
            return list(await self.db.tenants_with_pending_outbox())
        except Exception:
            log.exception("outbox sweep failed")
            return []

    async def relay_tenant(self, tenant_id: uuid.UUID) -> int:
        """Publish one batch of this tenant's unpublished events in write order; returns how many.

        To the bus (what it has not taken yet) and then to the stream; marked only when both took them.
        """
        try:
            async with self.db.tenant(tenant_id) as session:
                query = (
                    select(OutboxEvent)
                    .where(OutboxEvent.published_at.is_(None))
                    .order_by(OutboxEvent.id)
                    .limit(self.batch)
                )
                if self.db.is_postgres:
                    # Several relays (several hub nodes) never publish the same row at the same time.
                    query = query.with_for_update(skip_locked=True)
                found = (await session.execute(query)).scalars().all()
                rows = [row for row in found if row.id not in self._in_flight]
                for row in rows:
                    if row.id in self._bus_took:
                        continue
                    event_id = str(row.id)
                    await self.bus.publish(tenant_id, row.stream, row.event, row.payload, event_id=event_id)
                    self._remember_bus_took([row.id])
                if rows and self.stream is not None:
                    await self.stream.send([_record(tenant_id, row) for row in rows])
                if rows:
                    await session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.id.in_([r.id for r in rows]))
                        .values(published_at=datetime.now(UTC))
                    )
        except Exception:
            if self.stream is not None:
                self._behind.add(tenant_id)
            raise
        for row in rows:
            self._bus_took.pop(row.id, None)
        if len(found) < self.batch:
            self._behind.discard(tenant_id)  # caught up: newer rows may take the direct way again
        self.relayed += len(rows)
        return len(rows)


def _record(tenant_id: uuid.UUID, row: OutboxEvent) -> EventRecord:
    return outbox_record(tenant_id, row.id, row.stream, row.event, row.payload)
