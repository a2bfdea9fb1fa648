"""The Litestar application: ``create_app()`` wires settings, services, routes and the edge.

Adding a route (the WebSocket gateway, another client folder) is one line in :func:`route_handlers`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

import hub.gateway.catalog  # registers the catalog commands
import hub.gateway.dashboard  # registers the owner dashboard's command
import hub.gateway.devices  # registers the device agent's and the till's device commands
import hub.gateway.kitchen  # registers the kitchen's commands (orders, the KDS)
import hub.gateway.restaurant  # registers restaurant mode's commands (floor, tabs)
import hub.gateway.till  # registers the till commands
import hub.http
from hub import heap
from hub.gateway.route import gateway
from hub.http.common import DEPENDENCIES
from hub.http.pages import DocsPage
from hub.logs import configure_logging
from hub.problems import EXCEPTION_HANDLERS
from hub.security import EdgeMiddleware
from hub.services import Services
from hub.settings import Settings, load_settings

MAX_BODY_BYTES = 1024 * 1024


def route_handlers() -> list[ControllerRouterHandler]:
    return [
        *hub.http.route_handlers(),
        gateway,
    ]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Storehub API",
        version="1",
        description="Back-office REST API of the Storehub hub. "
        "Money in minor units, quantities in thousandths.",
        path="/docs",
        render_plugins=[DocsPage(path="/")],
        components=Components(
            security_schemes={
                "session": SecurityScheme(
                    type="apiKey",
                    name="storehub_session",
                    security_scheme_in="cookie",
                    description="Browser session; unsafe methods also need the X-CSRF-Token header",
                ),
                "token": SecurityScheme(
                    type="http", scheme="bearer", description="API token shk_… or device token shd_…"
                ),
            }
        ),
        security=[{"session": []}, {"token": []}],
    )


def create_app(
    settings: Settings | None = None, services: Services | None = None, *, settle_heap: bool = False
) -> Litestar:
    """The hub's ASGI app. Services passed in are the caller's to start and stop; otherwise the app's.

    ``settle_heap`` freezes what start-up made once the services run (``hub.heap``): for a long-running
    process only.
    """
    if services is not None:
        settings = services.settings
    settings = settings or load_settings()
    configure_logging(settings)
    owned = services is None
    the_services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        if owned:
            await the_services.start()
        if settle_heap:
            heap.settle()
        try:
            yield
        finally:
            if owned:
                await the_services.stop()

    app = Litestar(
        route_handlers=route_handlers(),
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({"services": the_services}),
        openapi_config=openapi_config(),
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,
        debug=False,
    )
    # Outside routing, so unknown paths and error pages get request ids, headers and metrics too.
    app.asgi_handler = EdgeMiddleware(app.asgi_handler, settings, the_services.http_metrics)
    return app
