"""Browser pages: the static clients, ``/`` and the API docs.

Clients are plain files under ``clients/<name>/`` served at ``/<name>/``; ``clients/static/`` holds what
they share. ``/`` sends a signed-in browser to the back office and everyone else to the sign-in page.

API docs: Litestar's Swagger/Scalar plugins load their JavaScript from a CDN, which the hub's CSP
(``script-src 'self'``) forbids and which offline stores cannot reach anyway. So ``/docs`` is a small
page of ours (``clients/static/docs.js``) that renders ``/docs/openapi.json``; the CSP stays strict
everywhere.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.enums import MediaType
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

import clients
from hub.auth.authenticate import session_principal
from hub.auth.tokens import SESSION_COOKIE
from hub.http.common import ServicesDep
from schema.errors import AuthenticationError

CLIENTS_DIR = Path(clients.__file__).parent


def client_router(name: str) -> Router:
    """Serve ``clients/<name>/`` at ``/<name>/`` (``index.html`` for the folder itself)."""
    return create_static_files_router(
        path=f"/{name}", directories=[CLIENTS_DIR / name], html_mode=True, name=f"client-{name}"
    )


@get("/", include_in_schema=False, cache=False)
async def root(request: Request[Any, Any, Any], services: ServicesDep) -> Redirect:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            await session_principal(cookie, services)
        except AuthenticationError:
            pass
        else:
            return Redirect("/backoffice/")
    return Redirect("/login/")


class DocsPage(OpenAPIRenderPlugin):
    """The OpenAPI document rendered by our own script: no CDN, no inline code."""

    def __init__(self, path: str = "/") -> None:
        super().__init__(path=path, media_type=MediaType.HTML, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        spec = html.escape(self.get_openapi_json_route(request))
        return (
            "<!doctype html><html lang='es'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title}</title><link rel='stylesheet' href='/static/docs.css'>"
            "<script src='/static/docs.js' defer></script></head>"
            f"<body><main id='docs' data-spec='{spec}'><h1>{title}</h1><p>Cargando…</p></main></body></html>"
        ).encode()


ROUTES = [root]
STATIC_CLIENTS = ("login", "backoffice", "till", "kds", "dashboard", "simdevices", "static")
