"""The owners' dashboard aggregates, kept by the worker from the event stream in a faust Table.

The same code as the hub's ``DashboardActor``: ``actors.dashboard_load.load_state`` rebuilds a tenant's day
from the database and ``count_event`` counts one event (enriching a sale with one query), over the
tenant's ``TenantState`` view of the Table instead of a dict.

Resuming without double counting: a tenant is rebuilt from the database the first time this process sees
it (and when its day changes), and every later event is idempotent (sales by id, kitchen tickets by rev,
cash sessions by id). A worker killed after committing its Kafka offset but before its Table's changelog
write reached Kafka therefore loses nothing, and the events it reads again after a restart count once.
The database is the truth; the Table is the worker's working copy, partitioned like the events.

Devices are the exception: their live status is held by the hub node their agent is connected to and
published on the bus only, not through the outbox, so the worker's copy shows the devices the database
knows without their live state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from actors.dashboard import FOLLOWED
from actors.dashboard_load import count_event, load_state
from actors.dashboard_totals import local_day
from actors.dashboard_view import snapshot
from hub.db import Database
from hub.events.stream import EventRecord
from hub.worker.tenant_state import TenantState
from schema.messages.dashboard import DashboardView
from schema.messages.devices import DeviceStatusView


async def _no_live_status(_tenant_id: uuid.UUID, _device_id: uuid.UUID) -> DeviceStatusView | None:
    return None


class WorkerDashboards:
    def __init__(
        self,
        db: Database,
        table: MutableMapping[str, Any],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.table = table
        self.clock = clock
        self.rebuilt: set[uuid.UUID] = set()  # tenants this process has rebuilt from the database
        self.counted = 0

    def state(self, tenant_id: uuid.UUID) -> TenantState:
        return TenantState(self.table, tenant_id)

    async def count(self, record: EventRecord) -> set[str]:
        """Count one event of the stream; returns the dashboard sections it changed."""
        if record.stream != "tenant" or record.event not in FOLLOWED:
            return set()
        state = await self._current(record.tenant_id)
        changed = await count_event(
            self.db, record.tenant_id, state, record.event, record.payload, ZoneInfo(state["timezone"])
        )
        self.counted += 1
        return changed

    def snapshot(self, tenant_id: uuid.UUID) -> DashboardView | None:
        """The tenant's figures as the Table holds them (read only: a faust Table is written only while an
        event of its partition is handled), or None before any."""
        state = self.state(tenant_id)
        return snapshot(state) if "day" in state else None

    async def _current(self, tenant_id: uuid.UUID) -> TenantState:
        state = self.state(tenant_id)
        now = self.clock()
        if (
            tenant_id in self.rebuilt
            and "day" in state
            and local_day(now, ZoneInfo(state["timezone"])).isoformat() == state["day"]
        ):
            return state
        state.replace(await load_state(self.db, tenant_id, now, _no_live_status))
        self.rebuilt.add(tenant_id)
        return state
