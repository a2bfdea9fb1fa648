"""Helpers for the browser tests: what the page's socket said, a switchable WebSocket route, screenshots."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from hub.auth.passwords import default_passwords
from hub.db import Database
from hub.security import CSP
from schema.barcodes import make_ean13
from schema.models import User
from tests.clients.conftest import VIEWPORT, Demo
from tests.hub.gateway.conftest import Client

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "till"
WAIT_MS = 10_000  # how long a page gets to show what a test waits for


def barcode(number: int) -> str:
    """The demo's EAN-13 of packaged product ``number``: 780 + 9 digits + check digit."""
    return make_ean13(f"780{number:09d}")


async def new_page(browser: Any) -> tuple[Any, Any]:
    """A till-sized page in Spanish whose script errors are kept in ``page.errors``."""
    context = await browser.new_context(viewport=VIEWPORT, locale="es-CL")
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


async def sign_in(page: Any, demo: Demo, username: str) -> None:
    await page.goto(demo.base + "/login/?tenant=donarosa")
    await page.fill("#username", username)
    await page.fill("#password", "demo1234")
    await page.click("#login-submit")


async def backoffice_page(
    browser: Any, viewport: dict[str, int] = VIEWPORT, **context_options: Any
) -> tuple[Any, Any]:
    """A back-office page in Spanish whose script errors and CSP violations are kept in ``page.errors``."""
    context = await browser.new_context(viewport=viewport, locale="es-CL", **context_options)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A CSP violation (inline style or script) only shows in the console.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


async def sign_in_to_backoffice(page: Any, demo: Demo, username: str, tenant: str = "donarosa") -> None:
    """Sign in and wait for the page the login sends this role to."""
    await page.goto(f"{demo.base}/login/?tenant={tenant}")
    await page.fill("#username", username)
    await page.fill("#password", "demo1234")
    await page.click("#login-submit")
    await page.wait_for_url(re.compile(r"/(backoffice|till)/"))


async def sell(demo: Demo, till: Client, product_number: int = 50) -> dict[str, Any]:
    """One unit of a demo product at Caja 1, paid by card (a boleta); the checkout's receipt."""
    register = str(demo.register_id)
    product = await demo.product(product_number)
    cart = await call_ok(till, "cart.add", {"register_id": register, "product_id": str(product.id)})
    pay = {"register_id": register, "tenders": [{"kind": "card", "amount": cart["total"]}]}
    receipt: dict[str, Any] = await call_ok(till, "checkout", pay)
    return receipt


async def call_ok(client: Client, type_: str, payload: dict[str, Any]) -> Any:
    """A command's reply payload (the test fails on an error frame)."""
    answer = await client.call(type_, payload)
    assert answer["type"] == "reply", answer
    return answer["payload"]


def clp(amount: int) -> str:
    """How the till writes pesos: ``$1.234``."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,}".replace(",", ".")


async def give_pin(db: Database, tenant_id: uuid.UUID, username: str, pin: str) -> None:
    """The demo seeds no PINs: give this user (a manager, to approve returns at a till) one."""
    async with db.tenant(tenant_id) as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one()
        user.pin_hash = await asyncio.to_thread(default_passwords().hash_pin, pin)


async def check_served_with_csp(demo: Demo, files: list[tuple[str, str]]) -> None:
    """Each (path, kind) is served, its content type names that kind, and it carries the strict CSP."""
    async with httpx.AsyncClient(base_url=demo.base) as client:
        for path, kind in files:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert kind in response.headers["content-type"], path
            assert response.headers["content-security-policy"] == CSP


async def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


class FrameLog:
    """Every frame a page's sockets sent and received, with a way to wait for one that matches."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def attach(self, page: Any) -> None:
        def on_socket(socket: Any) -> None:
            socket.on("framesent", lambda payload: self._add(self.sent, payload))
            socket.on("framereceived", lambda payload: self._add(self.received, payload))

        page.on("websocket", on_socket)

    def _add(self, into: list[dict[str, Any]], payload: Any) -> None:
        try:
            into.append(json.loads(payload))
        except (TypeError, ValueError):
            return
        self._changed.set()

    def types_of(self, command_id: str) -> list[str]:
        return [f["type"] for f in self.sent if f.get("id") == command_id]

    async def wait(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0, *, start: int = 0
    ) -> dict[str, Any]:
        """The first received frame (from index ``start``) matching ``predicate``; waits for it."""
        async with asyncio.timeout(timeout):
            while True:
                for frame in self.received[start:]:
                    if predicate(frame):
                        return frame
                self._changed.clear()
                await self._changed.wait()

    async def answer_to(self, command_type: str, timeout: float = 10.0, *, start: int = 0) -> dict[str, Any]:
        """The reply or error answering the first command of this type the page sent (from ``start``)."""

        def answers(frame: dict[str, Any]) -> bool:
            if frame.get("type") not in ("reply", "error") or not frame.get("id"):
                return False
            return command_type in self.types_of(frame["id"])

        return await self.wait(answers, timeout, start=start)


class Gate:
    """A Playwright WebSocket route between the page and the hub that the test can shut.

    Closed: new sockets are refused (closed at once), as if the hub were unreachable. ``lose_reply_of``:
    the hub's answer to the next command of that type is dropped and the socket closed, as when a
    connection dies between the hub's work and its reply.
    """

    def __init__(self) -> None:
        self.open = True
        self.lose_reply_of: str | None = None
        self.lost: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # every frame the page sent through the route
        self.delivered: list[dict[str, Any]] = []  # every frame of the hub's that reached the page
        self._changed = asyncio.Event()

    async def delivered_answer(self, timeout: float = 30.0) -> dict[str, Any]:
        """Once a reply was lost: the answer to the same command id that finally reached the page."""
        async with asyncio.timeout(timeout):
            while True:
                if self.lost:
                    lost_id = self.lost[0]["id"]
                    for frame in self.delivered:
                        if frame.get("id") == lost_id and frame.get("type") in ("reply", "error"):
                            return frame
                self._changed.clear()
                await self._changed.wait()

    async def install(self, page: Any) -> None:
        await page.route_web_socket("**/ws", self._handle)

    async def _handle(self, route: Any) -> None:
        if not self.open:
            await route.close(code=4000, reason="unreachable")
            return
        server = route.connect_to_server()
        watched: set[str] = set()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            self.sent.append(frame)
            if self.lose_reply_of and frame.get("type") == self.lose_reply_of:
                watched.add(frame["id"])
            server.send(message)

        async def from_hub(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("id") in watched and frame.get("type") in ("reply", "error"):
                self.lose_reply_of = None
                watched.clear()
                self.lost.append(frame)
                self._changed.set()
                await route.close(code=4000, reason="connection lost")
                await server.close()
                return
            route.send(message)
            self.delivered.append(frame)
            self._changed.set()

        route.on_message(from_page)
        server.on_message(from_hub)
