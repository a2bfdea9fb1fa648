"""The REST API under ``/api/v1`` (one module per resource), probes, pages and static clients."""

from __future__ import annotations

from litestar import Router
from litestar.types import ControllerRouterHandler

from hub.http import (
    auth,
    categories,
    demo_devices,
    devices,
    fiscal,
    fiscal_documents,
    floor,
    health,
    kitchen,
    modifiers,
    pages,
    print_jobs,
    products,
    registers,
    reports,
    settings,
    stock,
    stores,
    tokens,
    users,
)

API_PREFIX = "/api/v1"


def api_router() -> Router:
    return Router(
        API_PREFIX,
        route_handlers=[
            *auth.ROUTES,
            *stores.ROUTES,
            *registers.ROUTES,
            *categories.ROUTES,
            *products.ROUTES,
            *users.ROUTES,
            *tokens.ROUTES,
            *devices.ROUTES,
            *print_jobs.ROUTES,
            *stock.ROUTES,
            *settings.ROUTES,
            *fiscal.ROUTES,
            *fiscal_documents.ROUTES,
            *reports.ROUTES,
            *kitchen.ROUTES,
            *floor.ROUTES,
            *modifiers.ROUTES,
        ],
    )


def route_handlers() -> list[ControllerRouterHandler]:
    """Fresh routers for one app (routers are not shared between app instances)."""
    return [
        api_router(),
        *health.ROUTES,
        *pages.ROUTES,
        *demo_devices.ROUTES,
        *(pages.client_router(name) for name in pages.STATIC_CLIENTS),
    ]
