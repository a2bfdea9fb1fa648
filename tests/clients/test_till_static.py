"""The till's files: served, CSP-clean, and every text from i18n/es.json (none hard-coded)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.http.pages import CLIENTS_DIR
from hub.security import CSP
from tests.clients.conftest import Demo

TILL = CLIENTS_DIR / "till"
PAGES = [TILL / "index.html", TILL / "display.html"]
SCRIPTS = sorted(TILL.glob("*.js")) + [CLIENTS_DIR / "static" / n for n in ("live.js", "i18n.js", "money.js")]
LOADING = "Cargando…"  # the one text a page may carry before its messages load

# Keys the code builds at run time ("errors." + code, "weigh." + state, ...): they must all exist.
HUB_CODES = "not_found insufficient_tender no_cash_session scale_unstable scale_stale forbidden invalid"
LOOKUP_CODES = "not_found not_found_id not_returnable invalid forbidden"
RETURN_CODES = "over_return not_returnable not_found forbidden rate_limited no_cash_session invalid"
# Restaurant mode: the hub's refusals of floor and tab commands, a tab item's states, a void's refusals.
TAB_CODES = "not_restaurant table_busy tab_closed already_sent already_paid tab_changed unpaid_items"
TAB_CODES += " no_station"
TAB_STATES = "new held sent voided paid"
VOID_CODES = "forbidden rate_limited already_paid tab_closed invalid"
DYNAMIC_KEYS = [
    *(f"errors.{code}" for code in [*HUB_CODES.split(), "timeout", "offline"]),
    *(f"weigh.{state}" for state in ("waiting", "stable", "unstable", "stale")),
    "receipt.tender_cash",
    "receipt.tender_card",
    "receipt.folio_39",
    "receipt.folio_33",
    # The returns sheet has its own Spanish text for every refusal of sale.lookup and sale.return.
    *(f"returns.errors.lookup_{code}" for code in LOOKUP_CODES.split()),
    *(f"returns.errors.{code}" for code in RETURN_CODES.split()),
    *(f"errors.{code}" for code in TAB_CODES.split()),
    *(f"tab.state.{state}" for state in TAB_STATES.split()),
    *(f"void.errors.{code}" for code in VOID_CODES.split()),
    "receipt.folio_pending",
]


def messages() -> dict[str, Any]:
    return dict(json.loads((TILL / "i18n" / "es.json").read_text()))


def has_key(catalog: dict[str, Any], key: str) -> bool:
    node: Any = catalog
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return isinstance(node, str | list)


class PageText(HTMLParser):
    """Collects the text a page shows by itself and every data-i18n* key it asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.keys: list[str] = []
        self.inline: list[str] = []
        self._tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tags.append(tag)
        for name, value in attrs:
            if name.startswith("data-i18n") and value:
                self.keys.append(value)
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}>")
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script" and not dict(attrs).get("src"):
            self.inline.append("<script> without src")

    def handle_endtag(self, tag: str) -> None:
        if self._tags and self._tags[-1] == tag:
            self._tags.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and (not self._tags or self._tags[-1] not in ("title",)):
            self.texts.append(data.strip())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_are_spanish_csp_clean_and_say_nothing_of_their_own(page: Path) -> None:
    html = page.read_text()
    assert '<html lang="es">' in html
    parsed = PageText()
    parsed.feed(html)
    assert parsed.inline == []
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    assert parsed.texts == [LOADING], parsed.texts
    catalog = messages()
    missing = [key for key in parsed.keys if not has_key(catalog, key)]
    assert missing == []


def test_every_text_the_scripts_ask_for_is_in_the_catalog() -> None:
    catalog = messages()
    asked: set[str] = set(DYNAMIC_KEYS)
    call = re.compile(r"(?:^|[^\w.]|messages\.)(?:t|list)\(([^,)]*)")
    for script in SCRIPTS:
        source = script.read_text()
        assert "innerHTML" not in source and "insertAdjacentHTML" not in source, script
        for args in call.findall(source):
            asked.update(re.findall(r'"([a-z_]+(?:\.[a-z_0-9]+)+)"(?!\s*\+)', args))  # not a prefix
        # Spanish belongs in es.json: no accented words or Spanish punctuation in code (comments aside).
        code = re.sub(r"//.*|/\*.*?\*/", "", source, flags=re.S)
        assert not re.search(r"[áéíóúñ¿¡]", code, re.I), script
    missing = sorted(key for key in asked if not has_key(catalog, key))
    assert missing == []
    assert len(asked) > 60  # the pattern found the calls (a test that cannot fail is a bug)


async def test_the_till_is_served_with_the_strict_csp(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.base) as client:
        for path, kind in [
            ("/till/", "text/html"),
            ("/till/display.html", "text/html"),
            ("/till/till.js", "javascript"),
            ("/till/style.css", "text/css"),
            ("/till/i18n/es.json", "json"),
            ("/static/live.js", "javascript"),
            ("/static/money.js", "javascript"),
            ("/static/i18n.js", "javascript"),
        ]:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert kind in response.headers["content-type"], path
            assert response.headers["content-security-policy"] == CSP
