"""Fault injection for the SII simulator: what can go wrong, how often, and the middleware that does it.

Set at start (``storehub sim sii --faults JSON``, ``SimulatorState(faults=...)``) or at runtime with
``POST /_sim/faults`` (the whole :class:`Faults` as JSON; fields left out are "no fault"). Each fault is
a :class:`FaultRule`: ``{"next": N}`` fires on the next N matching requests, ``{"probability": p}`` on
each with probability ``p`` (``next`` is used up first). Example::

    {"rate_limit": {"next": 1}, "retry_after": "7", "paths": ["DTEUpload"],
     "reject_folios": {"39": [5]}, "latency_ms": 50, "latency_jitter_ms": 100}

Network faults (latency, timeout, server_error, html, rate_limit) are applied by
:class:`FaultMiddleware` before the request reaches SII's handler, to every SII path or only to those
containing one of ``paths``; never to ``/_sim``. In that order: latency, then a hang longer than the
client waits (``hang_seconds``, ended early when the client disconnects), then 429 with ``Retry-After``,
then an HTTP 5xx page, then an HTML error page with status 200 (SII does that). ``token_expiry`` kills
the token a request carries (as if it had expired early) and is applied where tokens are checked;
``reject_folios`` / ``objection_folios`` decide documents (``RCH`` with ``reject_reason`` / ``RPR``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import TYPE_CHECKING, Annotated, Any, cast

import msgspec

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

    from fiscal.cl.simulator.state import SimulatorState

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class FaultRule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    probability: Probability = 0.0
    next: Count = 0

    def fire(self, rng: random.Random) -> bool:
        if self.next > 0:
            self.next -= 1
            return True
        return self.probability > 0 and rng.random() < self.probability


class Faults(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    latency_ms: Count = 0
    latency_jitter_ms: Count = 0
    timeout: FaultRule = msgspec.field(default_factory=FaultRule)
    hang_seconds: Annotated[float, msgspec.Meta(ge=0.0)] = 60.0
    server_error: FaultRule = msgspec.field(default_factory=FaultRule)
    server_error_status: Annotated[int, msgspec.Meta(ge=500, le=599)] = 503
    html: FaultRule = msgspec.field(default_factory=FaultRule)
    rate_limit: FaultRule = msgspec.field(default_factory=FaultRule)
    retry_after: str = "5"  # seconds or an HTTP date, sent as is
    token_expiry: FaultRule = msgspec.field(default_factory=FaultRule)
    reject_folios: dict[int, list[int]] = msgspec.field(default_factory=dict)
    reject_reason: str = "Folio rechazado por el simulador (reject_folios)"
    objection_folios: dict[int, list[int]] = msgspec.field(default_factory=dict)
    paths: list[str] = msgspec.field(default_factory=list)

    def applies_to(self, path: str) -> bool:
        return not self.paths or any(part in path for part in self.paths)


FAULTS_DECODER = msgspec.json.Decoder(Faults)


def parse_faults(data: bytes | str) -> Faults:
    """Faults from JSON; raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` with the field."""
    return FAULTS_DECODER.decode(data.encode() if isinstance(data, str) else data)


HTML_ERROR_PAGE = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<html><head>'
    b"<title>SII - Servicio no disponible</title></head><body><h1>Servicio no disponible</h1>"
    b"<p>En este momento no podemos atender su solicitud. Intente m\xe1s tarde.</p></body></html>\n"
)


class FaultMiddleware:
    """ASGI middleware (Litestar ``DefineMiddleware(FaultMiddleware, state=...)``) applying network faults."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        faults = self.state.faults
        if cast(str, scope["type"]) != "http" or path.startswith("/_sim") or not faults.applies_to(path):
            await self.app(scope, receive, send)
            return
        rng = self.state.rng
        if faults.latency_ms or faults.latency_jitter_ms:
            self.state.count("fault_latency")
            await asyncio.sleep((faults.latency_ms + rng.uniform(0, faults.latency_jitter_ms)) / 1000)
        if faults.timeout.fire(rng):
            self.state.count("fault_timeout")
            disconnected, buffered = await _hang(receive, faults.hang_seconds)
            if disconnected:
                return
            receive = _replay(buffered, receive)
        if faults.rate_limit.fire(rng):
            self.state.count("fault_rate_limit")
            headers = [(b"retry-after", faults.retry_after.encode("latin-1"))]
            await _answer(send, 429, b"Too Many Requests\n", b"text/plain; charset=utf-8", headers)
            return
        if faults.server_error.fire(rng):
            self.state.count("fault_server_error")
            await _answer(send, faults.server_error_status, HTML_ERROR_PAGE, b"text/html; charset=ISO-8859-1")
            return
        if faults.html.fire(rng):
            self.state.count("fault_html")
            await _answer(send, 200, HTML_ERROR_PAGE, b"text/html; charset=ISO-8859-1")
            return
        await self.app(scope, receive, send)


async def _hang(receive: Receive, seconds: float) -> tuple[bool, list[Any]]:
    """Wait ``seconds`` or until the client goes away; keep what it sent meanwhile for the handler."""
    buffered: list[Any] = []
    disconnected = False

    async def watch() -> None:
        nonlocal disconnected
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
                return
            buffered.append(message)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watch(), seconds)
    return disconnected, buffered


def _replay(buffered: list[Any], receive: Receive) -> Receive:
    pending = list(buffered)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ["HTML_ERROR_PAGE", "FaultMiddleware", "FaultRule", "Faults", "parse_faults"]
