"""The owner dashboard's command: ``dashboard.get`` answers the tenant's live figures.

Owners and managers only (the ``tenant`` stream that carries ``DashboardChanged`` is manager+ too);
cashiers, kitchen staff and devices get ``forbidden``. The tenant's ``DashboardActor`` starts on the first
ask (it rebuilds the day from the database, hence the longer timeout) and stays for the hub's lifetime.
See ``schema.messages.dashboard`` for how a client combines the snapshot with the stream's events.
"""

from __future__ import annotations

from hub.gateway.commands import command
from hub.gateway.connection import Connection
from schema.messages.dashboard import DashboardView, GetDashboard
from schema.models.identity import Role

# A cold start reads the day with a few aggregate queries; a busy tenant's first ask may take a moment.
FIRST_ASK_SECONDS = 15.0


@command("dashboard.get", GetDashboard, role=Role.MANAGER)
async def get_dashboard(conn: Connection, msg: GetDashboard, command_id: str | None) -> DashboardView:
    services = conn.services
    ref = services.dashboards.ref(conn.principal.tenant_id)
    timeout = max(services.settings.ask_timeout_seconds, FIRST_ASK_SECONDS)
    view: DashboardView = await ref.ask(msg, timeout=timeout)
    return view
