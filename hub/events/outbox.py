"""Transactional outbox: ``emit`` writes an event in the caller's transaction; the relay publishes it.

``Database.tenant()`` hands the rows a transaction wrote to ``relay.committed`` straight after the commit
(wired by ``hub.services``): they are published there, in commit order, with no query in between, and
the relay's task marks them published a moment later in one statement. A periodic sweep (and one at
start) picks up anything a crash, a failed publish or another process left behind, so a crash between
commit and publish delays an event, never loses it. Delivery is at least once: an event is marked
published only after the bus took it, and consumers de-duplicate on ``event_id``.
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
    def __init__(self, db: Database, bus: Bus, *, sweep_seconds: float = 5.0, batch: int = 500) -> None:
        self.db = db
        self.bus = bus
        self.sweep_seconds = sweep_seconds
        self.batch = batch
        self._dirty: set[uuid.UUID] = set()
        # Published straight after their commit, not yet marked: the sweep must not publish them again.
        self._unmarked: dict[uuid.UUID, list[uuid.UUID]] = {}
        self._in_flight: set[uuid.UUID] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.relayed = 0
        self.failures = 0

    def notify(self, tenant_id: uuid.UUID) -> None:
        self._dirty.add(tenant_id)
        self._wake.set()

    async def committed(self, tenant_id: uuid.UUID, written: list[WrittenEvent]) -> None:
        """Publish the rows a transaction just committed; the relay's task marks them published.

        Never raises: the change is committed whatever happens here, so a failed publish is left to the
        relay (the rows stay unpublished and it retries them).
        """
        published: list[uuid.UUID] = []
        try:
            for item in written:
                self._in_flight.add(item.id)
                event_id = str(item.id)
                await self.bus.publish(tenant_id, item.stream, item.event, item.payload, event_id=event_id)
                published.append(item.id)
        except Exception:
            log.exception("publishing after commit failed for tenant %s; the relay retries", tenant_id)
            self._in_flight.difference_update(item.id for item in written if item.id not in published)
            self._dirty.add(tenant_id)
        self._unmarked.setdefault(tenant_id, []).extend(published)
        self._wake.set()

    async def _mark_published(self) -> None:
        while self._unmarked:
            tenant_id, ids = self._unmarked.popitem()
            try:
                async with self.db.tenant(tenant_id) as session:
                    await session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.id.in_(ids))
                        .values(published_at=datetime.now(UTC))
                    )
            except Exception:
                # Left unmarked, they are published again by a sweep: at least once, never lost.
                self.failures += 1
                log.exception("marking outbox rows published failed for tenant %s", tenant_id)
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
            await self._mark_published()
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
        await self._mark_published()  # stopping: what went out is marked, not published again after restart

    async def _pending_tenants(self) -> list[uuid.UUID]:
        try:
            return list(await self.db.tenants_with_pending_outbox())
        except Exception:
            log.exception("outbox sweep failed")
            return []

    async def relay_tenant(self, tenant_id: uuid.UUID) -> int:
        """Publish one batch of this tenant's unpublished events in write order; returns how many."""
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
            rows = [
                row for row in (await session.execute(query)).scalars().all() if row.id not in self._in_flight
            ]
            for row in rows:
                await self.bus.publish(tenant_id, row.stream, row.event, row.payload, event_id=str(row.id))
            if rows:
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_([r.id for r in rows]))
                    .values(published_at=datetime.now(UTC))
                )
        self.relayed += len(rows)
        return len(rows)
