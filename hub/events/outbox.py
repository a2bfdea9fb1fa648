"""Transactional outbox: ``emit`` writes an event in the caller's transaction; the relay publishes it.

``Database.tenant()`` calls ``relay.notify(tenant_id)`` after a commit that wrote outbox rows (wired by
``hub.services``), so the event goes out at once; a periodic
sweep (and one at start) picks up anything a crash or another process left behind, so a crash between
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

from hub.db import OUTBOX_WRITTEN, Database, tenant_of
from hub.events.bus import Bus
from schema.models import OutboxEvent

log = logging.getLogger("hub.outbox")


def emit(session: AsyncSession, stream: str, event: str, payload: Any) -> OutboxEvent:
    """Queue ``event`` on the tenant's ``stream``; it is published only if the transaction commits."""
    row = OutboxEvent(
        tenant_id=tenant_of(session),
        stream=stream,
        event=event,
        payload=msgspec.to_builtins(payload),
    )
    session.add(row)
    session.info[OUTBOX_WRITTEN] = True
    return row


class OutboxRelay:
    def __init__(self, db: Database, bus: Bus, *, sweep_seconds: float = 5.0, batch: int = 500) -> None:
        self.db = db
        self.bus = bus
        self.sweep_seconds = sweep_seconds
        self.batch = batch
        self._dirty: set[uuid.UUID] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.relayed = 0
        self.failures = 0

    def notify(self, tenant_id: uuid.UUID) -> None:
        self._dirty.add(tenant_id)
        self._wake.set()

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
            rows = (await session.execute(query)).scalars().all()
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
