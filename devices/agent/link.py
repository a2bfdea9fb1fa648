"""The agent's connection to the hub: connect out, say hello, exchange frames, reconnect with backoff.

Workers never touch the socket. They hand what they have to the :class:`Link`, which keeps it while the
hub is unreachable and sends it when it can, always in this order: unconfirmed print acks (from the
journal), then the latest status of each device, then scale readings. While away it keeps all acks, one
status per device and the newest ``readings_kept`` readings per scale; a reading's ``age_ms`` is computed
when its frame is sent, so the hub never takes a kept reading for a fresh one.

A close with 4401 or 4403 means the hub no longer knows the token: :meth:`Link.run` raises
:class:`AgentRevokedError` and the agent stops for good (reconnecting would only be refused again).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from devices.agent.journal import AckRow, Journal
from devices.agent.protocol import (
    PERMANENT_ACK_ERRORS,
    REVOKED_CODES,
    AgentRevokedError,
    ClientFrame,
    HubReplyError,
    backoff_delay,
    decode_incoming,
    decode_welcome,
    encode_frame,
    weight_frame,
    ws_url,
)
from devices.scales.reading import WeightReading
from schema.messages.devices import AgentHello, AgentWelcome, DeviceStatusReport

__all__ = ["DirectiveHandler", "Link", "WelcomeHandler"]

log = logging.getLogger("devices.agent.link")

WelcomeHandler = Callable[[AgentWelcome], Awaitable[None]]
DirectiveHandler = Callable[[str, msgspec.Raw], Awaitable[None]]


class Link:
    def __init__(
        self,
        hub_url: str,
        token: str,
        hello: AgentHello,
        journal: Journal,
        *,
        on_welcome: WelcomeHandler,
        on_directive: DirectiveHandler,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stable_after_s: float = 10.0,
        reply_timeout_s: float = 10.0,
        readings_kept: int = 50,
    ) -> None:
        self.url = ws_url(hub_url)
        self._token = token
        self._hello = hello
        self._journal = journal
        self._on_welcome = on_welcome
        self._on_directive = on_directive
        self._backoff_base = backoff_base_s
        self._backoff_max = backoff_max_s
        self._stable_after = stable_after_s
        self._reply_timeout = reply_timeout_s
        self._readings_kept = readings_kept
        self.accepted: set[uuid.UUID] = set()  # the hub's last answer; kept while disconnected
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()  # set from the end of a session to the next one's start
        self.sessions = 0  # connections that got as far as the hub's answer to hello
        self._readings: dict[uuid.UUID, deque[tuple[WeightReading, float]]] = {}
        self._status: dict[uuid.UUID, DeviceStatusReport] = {}
        self._status_dirty: set[uuid.UUID] = set()
        self._acks_dirty = True
        self._acks_inflight: set[int] = set()
        self._wake = asyncio.Event()
        self._welcomed = asyncio.Event()  # directives wait for the devices of this session to be set up
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(3)  # ids stay unique across the agent's restarts too
        self._close_code: int | None = None
        self._usable_since: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._logged_errors: set[str] = set()

    # -- what workers hand over (never blocks, never fails) -------------------------------------------

    def publish_weight(self, device_id: uuid.UUID, reading: WeightReading, read_at: float) -> None:
        """A reading taken at ``read_at`` (``time.monotonic()``); the oldest kept one goes when full."""
        if device_id not in self.accepted:
            return
        kept = self._readings.get(device_id)
        if kept is None:
            kept = self._readings[device_id] = deque(maxlen=self._readings_kept)
        kept.append((reading, read_at))
        self._wake.set()

    def publish_status(self, report: DeviceStatusReport) -> None:
        """A device's current state; sent only when it differs from the last one (and on every connect)."""
        if report.device_id not in self.accepted or self._status.get(report.device_id) == report:
            return
        self._status[report.device_id] = report
        self._status_dirty.add(report.device_id)
        self._wake.set()

    def acks_changed(self) -> None:
        """The journal's ack outbox has something new."""
        self._acks_dirty = True
        self._wake.set()

    # -- the connection loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until cancelled; raises :class:`AgentRevokedError` when the token is refused."""
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            self._close_code = None
            self._usable_since = None
            try:
                await self._session()
            except InvalidStatus as exc:
                # An HTTP refusal may come from a proxy in between: only the gateway's close codes are final.
                log.error("the hub at %s refused the connection: HTTP %s", self.url, exc.response.status_code)
            except (OSError, TimeoutError, WebSocketException, HubReplyError, msgspec.DecodeError) as exc:
                # Loud once per outage; a hub down for hours would otherwise fill the log every 30 s.
                level = logging.WARNING if attempt == 0 or self._usable_since is not None else logging.INFO
                log.log(level, "connection to %s lost or failed: %s: %s", self.url, type(exc).__name__, exc)
            except Exception:
                # A bug in a handler must not end the agent: it would stop printing for good.
                log.exception("connection to %s ended by an unexpected error", self.url)
            finally:
                self.connected.clear()
                self.disconnected.set()
            if self._close_code in REVOKED_CODES:
                raise AgentRevokedError(f"the hub closed the connection with {self._close_code}")
            since = self._usable_since
            if since is not None and loop.time() - since > self._stable_after:
                attempt = 0
            delay = backoff_delay(attempt, self._backoff_base, self._backoff_max)
            attempt += 1
            log.info("reconnecting to %s in %.1f s", self.url, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        """One connection, from handshake to its end (normally an exception saying why it ended)."""
        headers = {"Authorization": f"Bearer {self._token}"}
        async with connect(
            self.url, additional_headers=headers, open_timeout=10, close_timeout=5, max_size=8 * 2**20
        ) as ws:
            try:
                first = decode_incoming(await asyncio.wait_for(ws.recv(), self._reply_timeout))
            except ConnectionClosed as exc:
                self._close_code = exc.rcvd.code if exc.rcvd else None
                raise
            if first.type != "welcome":
                raise HubReplyError(first.code or "protocol", f"expected welcome, got {first.type!r}")
            self._welcomed.clear()
            reader = asyncio.create_task(self._read(ws), name="agent-link-reader")
            sender: asyncio.Task[None] | None = None
            try:
                reply = await self._request(ws, "agent.hello", self._hello)
                welcome = decode_welcome(reply)
                self.accepted = {d.device_id for d in welcome.devices if d.accepted}
                for device in welcome.devices:
                    if not device.accepted:
                        log.warning("the hub refused device %s: %s", device.device_id, device.reason)
                await self._on_welcome(welcome)
                self._welcomed.set()
                self._usable_since = asyncio.get_running_loop().time()
                self._on_connected()
                log.info("connected to %s; %d device(s) accepted", self.url, len(self.accepted))
                sender = asyncio.create_task(self._send_loop(ws), name="agent-link-sender")
                done, _ = await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                tasks = [reader, *self._tasks] + ([sender] if sender is not None else [])
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(BaseException):
                        await task
                self._fail_pending()
                self._acks_inflight.clear()

    def _on_connected(self) -> None:
        # The hub forgets nothing durable, but may have restarted: everything is told again.
        self._status_dirty = set(self._status) & self.accepted
        for device_id in set(self._readings) - self.accepted:
            del self._readings[device_id]
        self._acks_dirty = True
        self._logged_errors.clear()
        self.sessions += 1
        self.disconnected.clear()
        self.connected.set()
        self._wake.set()

    # -- frames ----------------------------------------------------------------------------------------

    def _frame(self, type_: str, payload: Any) -> tuple[str, str]:
        command_id = f"{self._id_prefix}-{next(self._ids)}"
        return command_id, encode_frame(ClientFrame(command_id, type_, payload))

    async def _request(self, ws: ClientConnection, type_: str, payload: Any) -> msgspec.Raw:
        command_id, text = self._frame(type_, payload)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        try:
            await ws.send(text)
            result: msgspec.Raw = await asyncio.wait_for(future, self._reply_timeout)
            return result
        finally:
            self._pending.pop(command_id, None)

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection to the hub lost"))

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            try:
                data = await ws.recv()
            except ConnectionClosed as exc:
                self._close_code = exc.rcvd.code if exc.rcvd else None
                self._fail_pending()  # whoever waits for a reply learns now, not at its timeout
                raise
            try:
                frame = decode_incoming(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("ignoring a frame from the hub that is not valid: %s", exc)
                continue
            if frame.type == "reply" and frame.id is not None:
                future = self._pending.pop(frame.id, None)
                if future is not None and not future.done():
                    future.set_result(frame.payload)
            elif frame.type == "error":
                future = self._pending.pop(frame.id, None) if frame.id is not None else None
                if future is not None and not future.done():
                    future.set_exception(HubReplyError(frame.code, frame.message))
                elif frame.code not in self._logged_errors:
                    # Weights and statuses are not awaited: log each kind of refusal once per connection.
                    self._logged_errors.add(frame.code)
                    log.warning("the hub answered %s: %s (%s)", frame.id, frame.message, frame.code)
            elif frame.type == "directive":
                # The hub may send directives right behind its answer to hello: they must find the
                # workers of the devices it just accepted.
                await self._welcomed.wait()
                try:
                    await self._on_directive(frame.name, frame.payload)
                except Exception:
                    log.exception("directive %r failed", frame.name)

    async def _send_loop(self, ws: ClientConnection) -> None:
        while True:
            self._wake.clear()
            await self._flush(ws)
            await self._wake.wait()

    async def _flush(self, ws: ClientConnection) -> None:
        if self._acks_dirty:
            self._acks_dirty = False
            for row in await asyncio.to_thread(self._journal.unconfirmed):
                if row.seq in self._acks_inflight:
                    continue
                self._acks_inflight.add(row.seq)
                command_id, text = self._frame("print.ack", row.ack)
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                self._pending[command_id] = future
                self._spawn(self._confirm(command_id, future, row))
                await ws.send(text)
        for device_id in list(self._status_dirty):
            self._status_dirty.discard(device_id)
            await ws.send(self._frame("device.status", self._status[device_id])[1])
        for device_id, kept in list(self._readings.items()):
            while kept:
                reading, read_at = kept.popleft()
                weight = weight_frame(device_id, reading, read_at, time.monotonic())
                await ws.send(self._frame("device.weight", weight)[1])

    async def _confirm(self, command_id: str, future: asyncio.Future[Any], row: AckRow) -> None:
        try:
            await asyncio.wait_for(future, self._reply_timeout)
        except TimeoutError:
            log.warning(
                "no reply to the ack of job %s within %g s; sending it again",
                row.ack.job_id,
                self._reply_timeout,
            )
            self._acks_dirty = True
            self._wake.set()
            return
        except HubReplyError as exc:
            if exc.code not in PERMANENT_ACK_ERRORS:
                log.warning(
                    "the hub did not take the ack of job %s (%s); it stays queued", row.ack.job_id, exc
                )
                return
            log.warning("the hub refused the ack of job %s for good (%s); dropping it", row.ack.job_id, exc)
        except ConnectionError:
            return
        finally:
            self._pending.pop(command_id, None)
            if not future.done() or future.cancelled() or future.exception() is not None:
                self._acks_inflight.discard(row.seq)
        # Confirmed: out of the journal *before* it leaves the in-flight set, or a flush in between would
        # find it unconfirmed and not in flight, and send it again.
        try:
            await asyncio.to_thread(self._journal.confirm, row.seq)
        finally:
            self._acks_inflight.discard(row.seq)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
