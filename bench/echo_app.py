"""The baseline for bench/till_load.py: a bare Litestar WebSocket echo, served by uvicorn like the hub."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, WebSocket, websocket


@websocket("/ws")
async def echo(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("text") or message.get("bytes") or b""
        await socket.send_data(data if isinstance(data, str) else data.decode(), mode="text")


app = Litestar(route_handlers=[echo], logging_config=None)
