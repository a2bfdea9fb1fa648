"""Helpers for the browser tests of the demo restaurant's screens (La Guayaquileña): a signed-in page of one
of its users, and the checks every kitchen display page and script passes (Spanish, CSP-clean, every text
from the kitchen's i18n/es.json)."""

from __future__ import annotations

import json
import re
from typing import Any

from hub.http.pages import CLIENTS_DIR
from hub.seed.demo import DEMO_PASSWORD
from tests.clients.conftest import VIEWPORT, Demo
from tests.clients.support import WAIT_MS
from tests.clients.test_till_static import LOADING, PageText, has_key

RESTAURANT = "guayaquilena"
KDS = CLIENTS_DIR / "kds"


async def restaurant_page(
    browser: Any, demo: Demo, viewport: dict[str, int] = VIEWPORT, username: str = "cocina"
) -> tuple[Any, Any]:
    """A page of a demo restaurant user, signed in, in Ecuadorian Spanish; script errors and CSP violations
    (those only show in the console) go to ``page.errors``."""
    context = await browser.new_context(viewport=viewport, locale="es-EC")
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.errors = errors
    await page.goto(f"{demo.base}/login/?tenant={RESTAURANT}")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(re.compile(r"/(till|kds|backoffice|dashboard)/"))
    return context, page


def kds_catalog() -> dict[str, Any]:
    return dict(json.loads((KDS / "i18n" / "es.json").read_text()))


def check_kds_page(name: str) -> None:
    """A kitchen page is Spanish, CSP-clean (nothing inline), loads nothing from elsewhere and says nothing
    of its own but the loading text: every other text is a key of the catalog."""
    html = (KDS / name).read_text()
    assert '<html lang="es">' in html
    parsed = PageText()
    parsed.feed(html)
    assert parsed.inline == []
    assert "http://" not in html and "https://" not in html
    assert parsed.texts == [LOADING], parsed.texts
    assert [key for key in parsed.keys if not has_key(kds_catalog(), key)] == []


def kds_texts_asked(*names: str) -> set[str]:
    """Every catalog key these kitchen scripts ask for by name (``t("a.b")``), once each script is checked to
    build no HTML from strings, to keep its Spanish in the catalog and to stay under 400 lines."""
    asked: set[str] = set()
    for name in names:
        source = (KDS / name).read_text()
        assert "innerHTML" not in source and "insertAdjacentHTML" not in source, name
        assert len(source.splitlines()) < 400, name
        code = re.sub(r"//.*|/\*.*?\*/", "", source, flags=re.S)
        assert not re.search(r"[áéíóúñ¿¡]", code, re.I), name  # Spanish belongs in es.json
        asked |= set(re.findall(r'\bt\("([a-z_]+(?:\.[a-z_0-9]+)+)"', source))
    return asked


def missing_kds_texts(keys: set[str]) -> list[str]:
    catalog = kds_catalog()
    return sorted(key for key in keys if not has_key(catalog, key))
