"""Baselines served by uvicorn like the hub: a bare Litestar WebSocket echo (bench/till_load.py) and a bare
broadcast to every connected socket (bench/fanout.py)."""

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


_fan: set[WebSocket[Any, Any, Any]] = set()


@websocket("/fan")
async def fan(socket: WebSocket[Any, Any, Any]) -> None:
    """The baseline for bench/fanout.py: what one socket sends, every connected socket gets."""
    await socket.accept()
    _fan.add(socket)
    try:
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text") or message.get("bytes") or b""
            text = data if isinstance(data, str) else data.decode()
            for peer in list(_fan):
                try:
                    await peer.send_data(text, mode="text")
                except Exception:  # a peer that left meanwhile  # noqa: S112
                    continue
    finally:
        _fan.discard(socket)


app = Litestar(route_handlers=[echo, fan], logging_config=None)
