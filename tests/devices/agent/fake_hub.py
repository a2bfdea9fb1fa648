"""The hub side of the agent protocol, small enough to read: a real WebSocket server for the agent's tests.

It checks the bearer token (an unknown one is closed with 4401, as the gateway does), sends ``welcome``,
answers ``agent.hello`` (accepting every device but those in ``refuse``), answers every other command,
records every frame, sends directives, and can be stopped and started again on the same port. With
``resend_unfinished`` it sends again, after each hello, every print job it has no printed/failed ack for,
as the hub's DeviceActor does when an agent comes back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve


class FakeHub:
    def __init__(
        self,
        *,
        tokens: frozenset[str] = frozenset({"good-token"}),
        refuse: frozenset[uuid.UUID] = frozenset(),
        resend_unfinished: bool = False,
    ) -> None:
        self.tokens = tokens
        self.refuse = refuse
        self.resend_unfinished = resend_unfinished
        self.reply_acks = True  # False: print.ack frames get no reply (the agent must keep them)
        self.port = 0
        self.frames: list[dict[str, Any]] = []  # every client frame, in arrival order, across connections
        self.hellos = 0
        self.jobs: dict[str, dict[str, Any]] = {}  # job_id -> print directive payload, in sending order
        self.acks: dict[str, list[str]] = {}  # job_id -> outcomes received, in order
        self._server: Server | None = None
        self._sockets: set[ServerConnection] = set()
        self._changed = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeHub:
        self._server = await serve(self._handle, "127.0.0.1", self.port)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def stop(self) -> None:
        """Go away as a crashed or restarting hub does: sockets dropped, port closed."""
        assert self._server is not None
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._server = None

    async def close_all(self, code: int, reason: str = "") -> None:
        for ws in list(self._sockets):
            await ws.close(code, reason)

    # -- waiting ---------------------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                if predicate():
                    return
                await self._changed.wait()

    def of_type(self, type_: str, since: int = 0) -> list[dict[str, Any]]:
        """Payloads of the frames of one type received from index ``since`` on."""
        return [f["payload"] for f in self.frames[since:] if f["type"] == type_]

    def final_acks(self) -> dict[str, list[str]]:
        return {job: [o for o in outcomes if o != "held"] for job, outcomes in self.acks.items()}

    # -- sending ---------------------------------------------------------------------------------------

    async def directive(self, name: str, payload: dict[str, Any]) -> None:
        frame = json.dumps({"type": "directive", "name": name, "payload": payload})
        for ws in list(self._sockets):
            await ws.send(frame)

    async def print_job(self, device_id: uuid.UUID, data: bytes, job_id: uuid.UUID | None = None) -> str:
        job = str(job_id or uuid.uuid4())
        payload = {
            "device_id": str(device_id),
            "job_id": job,
            "kind": "receipt",
            "data": base64.b64encode(data).decode(),
        }
        self.jobs[job] = payload
        await self.directive("print", payload)
        return job

    # -- the socket ------------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        token = ws.request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            await ws.close(4401, "unknown or revoked device token")
            return
        welcome = {
            "type": "welcome",
            "tenant_id": str(uuid.uuid4()),
            "device_id": str(uuid.uuid4()),
            "role": "device",
            "max_frame_bytes": 65536,
        }
        await ws.send(json.dumps(welcome))
        self._sockets.add(ws)
        # The agent may vanish (killed): what it sent is recorded, there is nothing else to do.
        with contextlib.suppress(Exception):
            async for raw in ws:
                await self._on_frame(ws, json.loads(raw))
        self._sockets.discard(ws)

    async def _on_frame(self, ws: ServerConnection, frame: dict[str, Any]) -> None:
        self.frames.append(frame)
        self._changed.set()
        payload = frame["payload"]
        match frame["type"]:
            case "agent.hello":
                self.hellos += 1
                devices = [
                    {
                        "device_id": d["device_id"],
                        "kind": d["kind"],
                        "accepted": uuid.UUID(d["device_id"]) not in self.refuse,
                        "reason": "belongs to another store"
                        if uuid.UUID(d["device_id"]) in self.refuse
                        else "",
                    }
                    for d in payload["devices"]
                ]
                await self._reply(ws, frame, {"devices": devices})
                if self.resend_unfinished:
                    for job, directive in list(self.jobs.items()):
                        if not set(self.acks.get(job, [])) & {"printed", "failed"}:
                            await ws.send(
                                json.dumps({"type": "directive", "name": "print", "payload": directive})
                            )
            case "print.ack":
                self.acks.setdefault(payload["job_id"], []).append(payload["outcome"])
                if self.reply_acks:
                    await self._reply(ws, frame, {"job_id": payload["job_id"]})
            case _:
                await self._reply(ws, frame, None)

    async def _reply(self, ws: ServerConnection, frame: dict[str, Any], payload: Any) -> None:
        with contextlib.suppress(Exception):
            await ws.send(json.dumps({"type": "reply", "id": frame["id"], "payload": payload}))
