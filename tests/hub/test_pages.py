"""The static clients: served, CSP-compliant (no inline script or style), Spanish."""

from __future__ import annotations

import re

import pytest

from hub.http.pages import CLIENTS_DIR
from tests.hub.conftest import Hub


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/login/", "text/html"),
        ("/login/login.js", "javascript"),
        ("/login/style.css", "text/css"),
        ("/backoffice/", "text/html"),
        ("/backoffice/backoffice.js", "javascript"),
        ("/static/common.js", "javascript"),
        ("/static/base.css", "text/css"),
    ],
)
async def test_served(hub: Hub, path: str, kind: str) -> None:
    response = await hub.client.get(path)
    assert response.status_code == 200, path
    assert kind in response.headers["content-type"]


def test_html_has_no_inline_code_and_speaks_spanish() -> None:
    for page in CLIENTS_DIR.glob("*/index.html"):
        if page.parent.name not in ("login", "backoffice"):
            continue
        html = page.read_text()
        assert '<html lang="es">' in html, page
        for match in re.finditer(r"<script([^>]*)>(.*?)</script>", html, re.S):
            assert "src=" in match.group(1) and not match.group(2).strip(), page
        assert "<style" not in html and " style=" not in html and "onclick" not in html.lower(), page
        assert "http://" not in html and "https://" not in html, page  # nothing from elsewhere
    login = (CLIENTS_DIR / "login" / "index.html").read_text()
    assert "Contraseña" in login and "Usuario" in login


def test_common_js_sends_the_csrf_header() -> None:
    common = (CLIENTS_DIR / "static" / "common.js").read_text()
    assert '"X-CSRF-Token"' in common
    assert "innerHTML" not in common
    for script in CLIENTS_DIR.glob("*/*.js"):
        assert "innerHTML" not in script.read_text(), script  # text only: nothing from the API becomes HTML
