"""The ``/ws`` endpoint: one task reads and handles frames in order, one task writes.

Authentication failures close the socket with 4401 (who are you?) or 4403 (not allowed); every other
failure is an error frame (with the command's id) and the socket stays open. Errors become frames in one
place, ``hub.problems.error_frame``. A socket is welcomed only once this node hears its tenant's
revocations and changes (``follow_revocation``): a device revoked, a session signed out or a token revoked
on any hub node closes it (4401); its user changed (role, store, deactivated) closes it with 4409, and the
client reconnects with what holds now (``hub.auth.revocation``). Without the bus (Redis away) the socket is
still let in, unheard: a till must keep selling. Its credential is checked as always, and a revocation made
meanwhile on another node takes effect at its next connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import WebSocket, websocket

import hub.gateway.builtin  # noqa: F401  (registers ping/subscribe/unsubscribe)
from hub.auth.authenticate import authenticate
from hub.auth.principal import Principal
from hub.auth.revocation import CLOSE_CHANGED
from hub.gateway.commands import COMMANDS
from hub.gateway.connection import CLOSE_TOO_SLOW, Connection
from hub.gateway.direct import DirectWriter
from hub.gateway.errors import (
    BadFrameError,
    BadJsonError,
    ChangedWhileConnectingError,
    FrameTooLargeError,
    UnknownTypeError,
)
from hub.problems import error_frame
from hub.security import SERVER_SEND
from schema.errors import (
    AuthenticationError,
    PermissionDeniedError,
    StorehubError,
    UnavailableError,
    ValidationError,
)
from schema.wire import Reply, ServerFrame, Welcome, decode_envelope

if TYPE_CHECKING:
    from hub.services import Services

log = logging.getLogger("hub.gateway")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_LATER = 1013
# Unsent bytes a client may leave behind on the direct path: as many frames as its queue holds, of this size.
DIRECT_BYTES_PER_FRAME = 4096


@websocket("/ws", name="gateway")
async def gateway(socket: WebSocket[Any, Any, Any]) -> None:
    services: Services = socket.app.state.services
    await socket.accept()
    try:
        principal = await authenticate(socket, services)
    except AuthenticationError as exc:
        await socket.close(code=CLOSE_UNAUTHENTICATED, reason=exc.message[:120])
        return
    except PermissionDeniedError as exc:
        await socket.close(code=CLOSE_FORBIDDEN, reason=exc.message[:120])
        return
    settings = services.settings
    conn = Connection(principal, services, queue_size=settings.ws_mailbox_size)
    conn.direct = DirectWriter.of(
        socket.scope.get(SERVER_SEND), settings.ws_mailbox_size * DIRECT_BYTES_PER_FRAME
    )
    services.sockets.add(conn)  # first: from here on, a revocation this node hears closes it
    try:
        await follow_revocation(conn, lambda: authenticate(socket, services))
    except BaseException as exc:
        services.sockets.discard(conn)
        conn.close()
        if not isinstance(exc, StorehubError):
            raise
        await socket.close(code=_close_code(exc), reason=exc.message[:120])
        return
    conn.send(
        Welcome(
            tenant_id=str(principal.tenant_id),
            user_id=str(principal.user_id) if principal.user_id else None,
            device_id=str(principal.device_id) if principal.device_id else None,
            role=principal.role.value,
            max_frame_bytes=settings.ws_max_frame_bytes,
        )
    )
    writer = asyncio.create_task(_write(socket, conn), name="ws-writer")
    try:
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes") or message.get("text")
            await handle_frame(conn, data if isinstance(data, str | bytes) else b"")
    except Exception:  # the peer vanished mid-receive: nothing to tell it
        log.debug("socket closed while reading", exc_info=True)
    finally:
        services.sockets.discard(conn)
        conn.close()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


async def follow_revocation(conn: Connection, authenticate: Callable[[], Awaitable[Principal]]) -> None:
    """Hear the tenant's revocations and changes from every node while ``conn`` is open, then authenticate
    it again.

    ``conn`` must be among the node's sockets already. A revocation or change committed before the node
    listens is seen by the second check; one after it closes the socket (``hub.control``). Raises
    ``AuthenticationError`` (or ``PermissionDeniedError``) when the credential no longer holds, and
    ``ChangedWhileConnectingError`` when it gives another principal (a role or store changed: the client
    reconnects, as when the change closes an open socket). When the bus is away
    the socket is let in without listening (selling goes on; this node still acts on its own changes).
    """
    principal, control = conn.principal, conn.services.control
    try:
        await control.hold(principal.tenant_id, conn)
    except UnavailableError as exc:
        log.warning("socket of tenant %s let in without hearing revocations: %s", principal.tenant_id, exc)
    else:
        conn.on_close.append(lambda: control.release(principal.tenant_id, conn))
    if await authenticate() != principal:
        raise ChangedWhileConnectingError("changed while connecting: reconnect")


def _close_code(exc: StorehubError) -> int:
    if isinstance(exc, ChangedWhileConnectingError):
        return CLOSE_CHANGED
    if isinstance(exc, AuthenticationError):
        return CLOSE_UNAUTHENTICATED
    if isinstance(exc, PermissionDeniedError):
        return CLOSE_FORBIDDEN
    return CLOSE_TRY_LATER


async def handle_frame(conn: Connection, data: str | bytes) -> None:
    command_id: str | None = None
    try:
        raw = data.encode() if isinstance(data, str) else data
        limit = conn.services.settings.ws_max_frame_bytes
        if len(raw) > limit:
            raise FrameTooLargeError(f"frame of {len(raw)} bytes exceeds the limit of {limit}", limit=limit)
        try:
            envelope = decode_envelope(raw)
        except msgspec.ValidationError as exc:
            raise BadFrameError(f"not an envelope: {exc}") from None
        except msgspec.DecodeError as exc:
            raise BadJsonError(f"not valid JSON: {exc}") from None
        command_id = envelope.id
        spec = COMMANDS.get(envelope.type)
        if spec is None:
            raise UnknownTypeError(f"unknown command type {envelope.type!r}", type=envelope.type)
        spec.authorize(conn)
        try:
            payload = spec.decoder.decode(envelope.payload)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ValidationError(f"invalid {envelope.type} payload: {exc}") from None
        result = await spec.handler(conn, payload, command_id)
    except Exception as exc:
        conn.send(error_frame(exc, command_id))
        return
    if isinstance(result, ServerFrame):
        conn.send(result)
    elif result is not None:
        conn.send(Reply(id=command_id, payload=result))


async def _write(socket: WebSocket[Any, Any, Any], conn: Connection) -> None:
    try:
        while not conn.too_slow.is_set():
            data = await conn.outgoing.get()
            if data is None:
                break
            conn.writing = True
            try:
                await socket.send_data(data, mode="text")
            finally:
                conn.writing = False
        if conn.close_code is not None:
            await socket.close(code=conn.close_code[0], reason=conn.close_code[1][:120])
        elif conn.too_slow.is_set():
            await socket.close(code=CLOSE_TOO_SLOW, reason="too slow: reconnect and resume")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.debug("socket closed while writing", exc_info=True)
