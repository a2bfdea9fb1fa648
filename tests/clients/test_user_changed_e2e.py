"""A till whose cashier the owner changes keeps selling: only a credential that no longer holds signs it out.

The owner changes users from the back office (``PATCH /api/v1/users/{id}`` with the owner's session and
CSRF token, as its pages call the API). The hub closes the user's sockets with 4409: the till reconnects at
once with the new rights and stays on its page. A deactivated cashier's till reconnects too, is refused
(4401) and goes to the login, as does a till whose session is signed out (closed with 4401 straight away).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.clients.conftest import Demo
from tests.clients.support import (
    WAIT_MS,
    FrameLog,
    backoffice_page,
    call_ok,
    new_page,
    sign_in,
    sign_in_to_backoffice,
)
from tests.hub.gateway.conftest import Client

pytestmark = pytest.mark.timeout(240)

expect.set_options(timeout=WAIT_MS)

# What the back office's pages do: window.storehub.api with the session's CSRF token (from /auth/me).
CALL_API = """async ([path, method, body]) => {
  const { api, setCsrf } = window.storehub;
  setCsrf((await api("/api/v1/auth/me")).csrf_token);
  return await api(path, body === null ? { method } : { method, body });
}"""


async def call_api(page: Any, path: str, method: str = "GET", body: Any = None) -> Any:
    return await page.evaluate(CALL_API, [path, method, body])


async def slow_backoff(route: Any) -> None:
    """live.js with a minute's backoff: a reconnect seen within the test's wait is one made at once."""
    response = await route.fetch()
    script = await response.text()
    for default, slow in BACKOFF.items():
        assert default in script, "live.js no longer sets its backoff this way: adapt the test"
        script = script.replace(default, slow)
    await route.fulfill(response=response, body=script)


BACKOFF = {"o.backoffBase || 500": "o.backoffBase || 60000", "o.backoffMax || 15000": "o.backoffMax || 60000"}


class Till:
    """A cashier's till page on Caja 1: its frames, and every URL its main frame went to."""

    def __init__(self, context: Any, page: Any) -> None:
        self.context, self.page = context, page
        self.frames = FrameLog()
        self.frames.attach(page)
        self.visited: list[str] = []
        page.on(
            "framenavigated",
            lambda frame: self.visited.append(frame.url) if frame == page.main_frame else None,
        )

    @classmethod
    async def open(cls, browser: Any, demo: Demo, username: str) -> Till:
        context, page = await new_page(browser)
        till = cls(context, page)
        await page.route("**/static/live.js", slow_backoff)
        await sign_in(page, demo, username)
        await page.wait_for_url(re.compile(r"/till/"))
        await page.goto(f"{demo.base}/till/?register={demo.register_id}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        await till.frames.wait(lambda f: f.get("type") == "welcome")
        till.visited.clear()  # the sign-in's login page
        return till

    def welcomes(self) -> list[dict[str, Any]]:
        return [f for f in self.frames.received if f.get("type") == "welcome"]

    def subscriptions(self) -> int:
        stream = f"register:{self.page.url.split('register=')[1]}"
        return sum(
            1 for f in self.frames.sent if f.get("type") == "subscribe" and f["payload"]["stream"] == stream
        )


async def test_a_role_change_reconnects_the_till_and_a_sign_out_or_deactivation_sends_it_to_the_login(
    demo: Demo, browser: Any, owner: Client
) -> None:
    await call_ok(owner, "cash.open", {"register_id": str(demo.register_id), "float_amount": 0})
    owner_context, office = await backoffice_page(browser)
    await sign_in_to_backoffice(office, demo, "dueno")
    users = {u["username"]: u["id"] for u in await call_api(office, "/api/v1/users")}

    camila = await Till.open(browser, demo, "caja1")
    matias = await Till.open(browser, demo, "caja2")
    assert [w["role"] for w in camila.welcomes()] == ["cashier"]
    assert camila.subscriptions() == 1

    # Promoted mid-shift: her session still holds, so the till reconnects with it at once and stays.
    changed = await call_api(office, f"/api/v1/users/{users['caja1']}", "PATCH", {"role": "manager"})
    assert changed["role"] == "manager"
    welcome = await camila.frames.wait(lambda f: f.get("type") == "welcome" and f["role"] == "manager")
    assert welcome["user_id"] == users["caja1"]
    await expect(camila.page.locator("#conn")).to_have_attribute("data-state", "connected")
    after = camila.frames.received.index(welcome) + 1
    await camila.frames.wait(lambda f: f.get("type") in ("subscribed", "resync"), start=after)
    assert camila.subscriptions() == 2  # resubscribed to the register's stream as on any reconnect
    assert "/till/" in camila.page.url
    assert not [url for url in camila.visited if "/login/" in url]
    await expect(matias.page.locator("#conn")).to_have_attribute("data-state", "connected")  # not his change

    # Deactivated: his till's reconnect is refused, and it goes to the login.
    await call_api(office, f"/api/v1/users/{users['caja2']}", "PATCH", {"active": False})
    await matias.page.wait_for_url(re.compile(r"/login/"))

    # Signed out (from another tab of her browser): the login, as always.
    assert not [url for url in camila.visited if "/login/" in url]
    await call_api(camila.page, "/api/v1/auth/logout", "POST")
    await camila.page.wait_for_url(re.compile(r"/login/"))

    assert camila.page.errors == [] and matias.page.errors == [] and office.errors == []
    for context in (camila.context, matias.context, owner_context):
        await context.close()
