"""Frames written straight to the transport (``hub.gateway.direct``): same bytes, same order, same limits.

The hub of these tests is a real uvicorn server configured as ``storehub serve`` configures it, so the direct
path is what every gateway test goes through; these tests check that it is taken (a uvicorn upgrade that
changes what it reads must fail here, not make the hub silently slower), that its frames are the ones the
``websockets`` library builds, that it never reorders frames with the queued path, and that a client too slow
to read is still disconnected (1013) instead of making the hub hold its frames without bound.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
import websockets
from websockets.frames import Frame, Opcode

from hub.gateway.connection import Connection
from hub.gateway.direct import DirectWriter, text_frame
from hub.settings import load_settings
from tests.hub.gateway.conftest import Client, World, connect, make_world_tenant, running_hub


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_a_frame_is_the_one_the_websockets_library_builds(size: int) -> None:
    text = ("ñandú €" * (size // 9 + 1))[:size]
    assert text_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


def _conns(world: World, tenant_id: uuid.UUID) -> list[Connection]:
    return [c for c in world.services.sockets if c.principal.tenant_id == tenant_id]


async def test_events_and_replies_take_the_direct_path_in_order(world: World) -> None:
    async with connect(world, world.a.tokens["owner"]) as socket:
        client = Client(socket)
        await client.recv()  # welcome
        assert (await client.call("subscribe", {"stream": "tenant"}))["type"] == "subscribed"
        (conn,) = _conns(world, world.a.tenant_id)
        assert conn.direct is not None, "uvicorn's websockets-sansio protocol is no longer recognised"
        before = conn.direct.written
        bus = world.services.bus
        # Events and command answers interleaved, some queued behind a frame the writer task is sending.
        sent = []
        for n in range(60):
            await bus.publish(world.a.tenant_id, "tenant", "Probe", {"n": n, "pad": "x" * (n * 97)})
            sent.append(("event", n))
            if n % 7 == 0:
                sent.append(("reply", await client.send("ping")))
        seen = []
        async with asyncio.timeout(10):
            while len(seen) < len(sent):
                frame = await client.recv()
                if frame["type"] == "event" and frame["event"] == "Probe":
                    seen.append(("event", frame["payload"]["n"]))
                elif frame["type"] == "pong":
                    seen.append(("reply", frame["id"]))
        events = [item for item in seen if item[0] == "event"]
        assert events == [("event", n) for n in range(60)]  # each once, in the bus's order
        assert [item for item in seen if item[0] == "reply"] == [item for item in sent if item[0] == "reply"]
        assert conn.direct.written - before >= 60  # taken, not the fallback


async def test_a_frame_queued_before_is_never_overtaken(world: World) -> None:
    async with connect(world, world.a.tokens["owner"]) as socket:
        client = Client(socket)
        await client.recv()
        await client.call("subscribe", {"stream": "tenant"})
        (conn,) = _conns(world, world.a.tenant_id)
        conn.outgoing.put_nowait(
            '{"type":"event","stream":"x","seq":0,"epoch":"","event":"First","payload":{}}'
        )
        await world.services.bus.publish(world.a.tenant_id, "tenant", "Second", {})  # queue not empty: queued
        first, second = await client.recv(), await client.recv()
        assert (first["event"], second["event"]) == ("First", "Second")


@pytest.fixture
async def small_world(database_url: str) -> AsyncIterator[World]:
    """A hub whose sockets may leave only a little unsent: 4 frames' worth."""
    settings = load_settings(
        env={}, database_url=database_url, ws_max_frame_bytes=4096, ws_mailbox_size=4, fiscal_runner="hub"
    )
    async with running_hub(settings) as (host, services):
        a = await make_world_tenant(services.db, f"a-{uuid.uuid4().hex[:8]}")
        b = await make_world_tenant(services.db, f"b-{uuid.uuid4().hex[:8]}")
        yield World(url=f"ws://{host}/ws", http=f"http://{host}", db=services.db, a=a, b=b, services=services)


async def test_a_client_that_stops_reading_is_disconnected_with_1013(small_world: World) -> None:
    world = small_world
    # max_queue=1: the client library stops reading the socket once one frame waits, as a frozen screen would.
    async with connect(world, world.a.tokens["owner"], max_queue=1) as socket:
        await socket.recv()  # welcome
        await socket.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"stream": "tenant"}}))
        assert json.loads(await socket.recv())["id"] == "s"
        (conn,) = _conns(world, world.a.tenant_id)
        assert conn.direct is not None
        bus = world.services.bus
        async with asyncio.timeout(30):
            n = 0
            while not conn.too_slow.is_set():  # the kernel's buffers fill first, then the transport's
                await bus.publish(world.a.tenant_id, "tenant", "Bulk", {"n": n, "pad": "y" * 8000})
                n += 1
                if n % 50 == 0:
                    await asyncio.sleep(0)  # let the transport try to write
        assert conn.direct.backed_up()
        async with asyncio.timeout(30):
            closed = await _read_until_closed(socket)
        assert closed.rcvd is not None and closed.rcvd.code == 1013
    async with asyncio.timeout(10):
        while _conns(world, world.a.tenant_id):
            await asyncio.sleep(0.05)


async def test_a_server_with_compression_falls_back_to_queued_sends(database_url: str) -> None:
    """Per-message deflate changes the frames' bytes: such a socket is not written directly, and works."""
    settings = load_settings(env={}, database_url=database_url, ws_max_frame_bytes=4096, fiscal_runner="hub")
    async with running_hub(settings, per_message_deflate=True) as (host, services):
        tenant = await make_world_tenant(services.db, f"z-{uuid.uuid4().hex[:8]}")
        async with websockets.connect(
            f"ws://{host}/ws", additional_headers={"Authorization": f"Bearer {tenant.tokens['owner']}"}
        ) as socket:
            client = Client(socket)
            await client.recv()
            await client.call("subscribe", {"stream": "tenant"})
            (conn,) = [c for c in services.sockets if c.principal.tenant_id == tenant.tenant_id]
            assert conn.direct is None
            await services.bus.publish(tenant.tenant_id, "tenant", "Probe", {"n": 1})
            assert (await client.recv())["event"] == "Probe"


async def _read_until_closed(socket: websockets.ClientConnection) -> websockets.ConnectionClosed:
    try:
        while True:
            await socket.recv()
    except websockets.ConnectionClosed as closed:
        return closed


def test_only_a_known_server_send_gives_a_direct_writer() -> None:
    async def send(_message: object) -> None:
        return None

    assert DirectWriter.of(send, 1024) is None
    assert DirectWriter.of(None, 1024) is None
