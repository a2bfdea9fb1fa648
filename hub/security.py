"""The edge of every HTTP request: request id, security headers, metrics, access log; origin checks.

:class:`EdgeMiddleware` wraps the whole Litestar ASGI handler (outside routing), so even a 404 for an
unknown path or an error page gets the headers, a request id and a metric.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from hub.logs import REQUEST_ID_HEADER, bind_tenant, request_id_from, request_id_var
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.metrics import HttpMetrics

access_log = logging.getLogger("hub.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=63072000; includeSubDomains"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def security_headers(settings: Settings, path: str) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.tls:
        headers.append((b"strict-transport-security", HSTS.encode()))
    if path.startswith("/api/"):
        headers.append((b"cache-control", b"no-store"))
    return headers


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def origin_allowed(origin: str, host: str | None, settings: Settings) -> bool:
    """Same origin as the Host we were reached at, or as the configured public URL."""
    candidate = _origin_of(origin)
    if not candidate:
        return False
    if settings.public_url and candidate == _origin_of(settings.public_url):
        return True
    return bool(host) and urlsplit(candidate).netloc == (host or "").lower()


def client_address(scope: Scope, settings: Settings) -> str:
    """The peer address; behind a trusted proxy, the last hop it appended to X-Forwarded-For."""
    if settings.trust_proxy_headers:
        forwarded = Headers.from_scope(scope).get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    client = scope.get("client")
    return client[0] if client else "unknown"


SERVER_SEND = "storehub.server_send"  # scope key of the ASGI server's send for a WebSocket


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, metrics: HttpMetrics) -> None:
        self.app, self.settings, self.metrics = app, settings, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            await self.app(scope, receive, send)
            return
        headers = Headers.from_scope(scope)
        request_id = request_id_from(headers.get(REQUEST_ID_HEADER))
        rid_token = request_id_var.set(request_id)
        bind_tenant(None)
        if scope["type"] == ScopeType.WEBSOCKET:
            cast("dict[str, Any]", scope)[SERVER_SEND] = (
                send  # the server's own send, before any layer wraps it (hub.gateway.direct)
            )
            try:
                await self.app(scope, receive, send)
            finally:
                request_id_var.reset(rid_token)
            return

        path: str = scope["path"]
        extra = [*security_headers(self.settings, path), (REQUEST_ID_HEADER.encode(), request_id.encode())]
        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [
                    *message.get("headers", ()),
                    *((name, value) for name, value in extra if name not in present),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            method = str(scope.get("method", "GET"))
            self.metrics.observe(method, route, status, elapsed)
            # Probes and scrapes arrive every few seconds: only worth a line when they fail.
            level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
            access_log.log(
                level, "%s %s %s %.1fms", method, path, status, elapsed * 1000,
                extra={"fields": {"status": status, "route": route, "ms": round(elapsed * 1000, 1)}},
            )  # fmt: skip
            request_id_var.reset(rid_token)


def _route_of(scope: Any) -> str:
    """The route template (``/api/v1/products/{product_id:uuid}``), never the raw path: bounded labels."""
    template = scope.get("path_template")
    if template:
        return str(template)
    return "<unmatched>"
