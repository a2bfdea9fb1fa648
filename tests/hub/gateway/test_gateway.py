"""The gateway over real sockets: authentication, bad input, authorization, routing and live events."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from websockets.exceptions import ConnectionClosed

from hub.auth.tokens import SESSION_COOKIE, digest, new_secret, session_cookie_value
from hub.db import Database
from schema.errors import UnavailableError
from schema.models import TENANT_TABLES, AuthSession, User
from tests.hub.gateway.conftest import Client, World, connect, product_snapshot


async def database_snapshot(db: Database, *tenant_ids: uuid.UUID) -> dict[str, list[Any]]:
    """Every row of every tenant table for these tenants (auth sessions aside: logins create them)."""
    snapshot: dict[str, list[Any]] = {}
    for tenant_id in tenant_ids:
        async with db.tenant(tenant_id) as session:
            for table, column in TENANT_TABLES.items():
                rows = await session.execute(
                    text(f"SELECT * FROM {table} WHERE {column} = :t"),  # noqa: S608 - names from the model
                    {"t": tenant_id if db.is_postgres else tenant_id.hex},
                )
                snapshot[f"{tenant_id}:{table}"] = sorted(map(str, rows.all()))
    return snapshot


async def expect_close(world: World, token: str | None, code: int, **kwargs: Any) -> None:
    async with connect(world, token, **kwargs) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code


async def test_unauthenticated_sockets_close_with_4401(world: World) -> None:
    await expect_close(world, None, 4401)
    await expect_close(world, "shk_" + "0" * 32 + "_" + "0" * 64, 4401)
    await expect_close(world, "garbage", 4401)


async def test_a_session_cookie_from_another_origin_closes_with_4403(world: World) -> None:
    async with world.db.tenant(world.a.tenant_id) as session:
        user_id = (await session.execute(select(User.id).where(User.username == "u-owner"))).scalar_one()
        secret = new_secret()
        session.add(
            AuthSession(
                id=digest(secret),
                user_id=user_id,
                csrf_token="c" * 32,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    cookie = {"Cookie": f"{SESSION_COOKIE}={session_cookie_value(world.a.tenant_id, secret)}"}
    host = world.http.removeprefix("http://")
    await expect_close(world, None, 4403, additional_headers=cookie, origin="https://evil.example")
    await expect_close(world, None, 4403, additional_headers=cookie)
    async with connect(world, None, additional_headers=cookie, origin=f"http://{host}") as socket:
        welcome = json.loads(await socket.recv())
    assert welcome["type"] == "welcome" and welcome["role"] == "owner"


async def test_welcome_names_the_principal(world: World) -> None:
    async with connect(world, world.a.tokens["cashier"]) as socket:
        welcome = await Client(socket).recv()
    assert welcome["type"] == "welcome"
    assert welcome["tenant_id"] == str(world.a.tenant_id)
    assert welcome["role"] == "cashier"
    assert welcome["max_frame_bytes"] == 4096


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2, 3]", "bad_frame"),
        ('{"id": "x1"}', "bad_frame"),
        ('{"id": 5, "type": "ping"}', "bad_frame"),
        ('{"id": "x1", "type": "sell.everything", "payload": {}}', "unknown_type"),
        (
            '{"id": "x1", "type": "catalog.set_price", "payload": {"product_id": "nope", "price": 1}}',
            "invalid",
        ),
        (
            '{"id": "x1", "type": "catalog.set_price", "payload": {"product_id": "%s", "price": "cien"}}',
            "invalid",
        ),
        (
            '{"id": "x1", "type": "catalog.set_price", "payload": {"product_id": "%s", "price": -5}}',
            "invalid",
        ),
        (
            '{"id": "x1", "type": "catalog.set_price", "payload": {"product_id": "%s", "price": 1, "x": 1}}',
            "invalid",
        ),
        ('{"id": "x1", "type": "catalog.set_price", "payload": [1]}', "invalid"),
        ('{"id": "x1", "type": "subscribe", "payload": {"stream": "register:not-a-uuid"}}', "invalid"),
        ('{"id": "x1", "type": "subscribe", "payload": {"stream": "everything"}}', "invalid"),
    ],
)
async def test_bad_frames_get_error_frames_and_change_nothing(world: World, frame: str, code: str) -> None:
    before = await database_snapshot(world.db, world.a.tenant_id, world.b.tenant_id)
    async with connect(world, world.a.tokens["owner"]) as socket:
        client = Client(socket)
        await client.recv()  # welcome
        await socket.send(frame.replace("%s", str(world.a.product_id)))
        error = await client.recv()
        assert error["type"] == "error"
        assert error["code"] == code, error
        assert error["message"]
        pong = await client.call("ping")  # the socket stays open and usable
        assert pong["type"] == "pong"
    assert await database_snapshot(world.db, world.a.tenant_id, world.b.tenant_id) == before


async def test_oversized_frames_are_refused_and_the_socket_stays_open(world: World) -> None:
    async with connect(world, world.a.tokens["owner"]) as socket:
        client = Client(socket)
        await client.recv()
        padding = "x" * 5000
        await socket.send(json.dumps({"id": "big", "type": "ping", "payload": {"pad": padding}}))
        error = await client.recv()
        assert (error["type"], error["code"]) == ("error", "frame_too_large")
        assert (await client.call("ping"))["type"] == "pong"


async def test_another_tenants_ids_are_not_found_and_change_nothing(world: World) -> None:
    before = await database_snapshot(world.db, world.a.tenant_id, world.b.tenant_id)
    async with connect(world, world.a.tokens["owner"]) as socket:
        client = Client(socket)
        await client.recv()
        for stream in (
            f"register:{world.b.register_id}",
            f"store:{world.b.store_id}",
            f"device:{world.b.device_id}",
            f"kitchen:{uuid.uuid4()}",
        ):
            answer = await client.call("subscribe", {"stream": stream})
            assert (answer["type"], answer["code"]) == ("error", "not_found"), answer
        answer = await client.call("catalog.set_price", {"product_id": str(world.b.product_id), "price": 1})
        assert (answer["type"], answer["code"]) == ("error", "not_found")
        answer = await client.call("catalog.lookup", {"code": world.b.barcode})
        # Both tenants use the same barcode: A must get A's product, never B's.
        assert answer["type"] == "reply" and answer["payload"]["id"] == str(world.a.product_id)
    assert await database_snapshot(world.db, world.a.tenant_id, world.b.tenant_id) == before


@pytest.mark.parametrize(
    ("role", "type_", "payload_of"),
    [
        ("cashier", "catalog.set_price", lambda w: {"product_id": str(w.a.product_id), "price": 1}),
        ("kitchen", "catalog.lookup", lambda w: {"code": w.a.barcode}),
        ("kitchen", "subscribe", lambda w: {"stream": f"register:{w.a.register_id}"}),
        ("cashier", "subscribe", lambda w: {"stream": "tenant"}),
        ("device", "catalog.lookup", lambda w: {"code": w.a.barcode}),
        ("device", "subscribe", lambda w: {"stream": "tenant"}),
    ],
)
async def test_roles_are_enforced_per_command_and_stream(
    world: World, role: str, type_: str, payload_of: Any
) -> None:
    before = await product_snapshot(world.db, world.a.tenant_id)
    async with connect(world, world.a.tokens[role]) as socket:
        client = Client(socket)
        await client.recv()
        answer = await client.call(type_, payload_of(world))
        assert (answer["type"], answer["code"]) == ("error", "forbidden"), answer
    assert await product_snapshot(world.db, world.a.tenant_id) == before


async def test_a_device_follows_its_own_register_and_itself(world: World) -> None:
    async with connect(world, world.a.tokens["device"]) as socket:
        client = Client(socket)
        welcome = await client.recv()
        assert welcome["device_id"] == str(world.a.device_id)
        for stream in (f"register:{world.a.register_id}", f"device:{world.a.device_id}"):
            assert (await client.call("subscribe", {"stream": stream}))["type"] == "subscribed"


async def test_a_command_travels_to_the_actor_and_its_event_to_the_tenant_stream_only(world: World) -> None:
    async with (
        connect(world, world.a.tokens["owner"]) as owner_a,
        connect(world, world.b.tokens["owner"]) as owner_b,
        connect(world, world.a.tokens["manager"]) as manager_a,
    ):
        dash_a, dash_b, manager = Client(owner_a), Client(owner_b), Client(manager_a)
        for client in (dash_a, dash_b, manager):
            await client.recv()
        sub_a = await dash_a.call("subscribe", {"stream": "tenant"})
        sub_b = await dash_b.call("subscribe", {"stream": "tenant"})
        assert sub_a["type"] == sub_b["type"] == "subscribed"
        reply = await manager.call(
            "catalog.set_price", {"product_id": str(world.a.product_id), "price": 1190}
        )
        assert reply["type"] == "reply"
        assert (reply["payload"]["id"], reply["payload"]["price"]) == (str(world.a.product_id), 1190)
        event = await dash_a.recv()
        assert event["type"] == "event" and event["event"] == "PriceChanged"
        assert event["stream"] == "tenant" and event["seq"] == sub_a["seq"] + 1
        assert event["payload"]["old_price"] == 1090 and event["payload"]["price"] == 1190
        lookup = await manager.call("catalog.lookup", {"code": world.a.barcode})
        assert lookup["payload"]["price"] == 1190
        # B's dashboard hears nothing: a ping answered proves its queue held no event before it.
        assert (await dash_b.call("ping"))["type"] == "pong"
        assert [f for f in dash_b.frames if f["type"] == "event"] == []
    assert (await product_snapshot(world.db, world.b.tenant_id))[0][1] == 1090


async def test_a_reconnecting_client_gets_what_it_missed_or_a_resync(world: World) -> None:
    async with connect(world, world.a.tokens["owner"]) as socket:
        client = Client(socket)
        await client.recv()
        position = await client.call("subscribe", {"stream": "tenant"})
    async with connect(world, world.a.tokens["manager"]) as socket:
        manager = Client(socket)
        await manager.recv()
        for price in (1100, 1200, 1300):
            reply = await manager.call(
                "catalog.set_price", {"product_id": str(world.a.product_id), "price": price}
            )
            assert reply["type"] == "reply"
    async with connect(world, world.a.tokens["owner"]) as socket:
        client = Client(socket)
        await client.recv()
        # The relay publishes after commit; wait until all three are on the stream, then resume.
        prices: list[int] = []
        async with asyncio.timeout(10):
            while len(prices) < 3:
                cid = await client.send(
                    "subscribe", {"stream": "tenant", "since": position["seq"], "epoch": position["epoch"]}
                )
                answer = await client.answer(cid)
                assert answer["type"] == "subscribed", answer
                prices = [(await client.recv())["payload"]["price"] for _ in range(answer["replayed"])]
        assert prices == [1100, 1200, 1300]
        stale = await client.call("subscribe", {"stream": "tenant", "since": 1, "epoch": "an-old-epoch"})
        assert stale["type"] == "resync"


async def test_events_of_a_new_epoch_reach_a_subscribed_client(world: World) -> None:
    """The bus restarted empty (Redis lost its keys): numbering starts at 1 again under a new epoch. The
    socket must pass those on, not drop them as older than what it sent, so the client sees the new epoch."""
    async with (
        connect(world, world.a.tokens["owner"]) as socket,
        connect(world, world.a.tokens["manager"]) as m,
    ):
        client, manager = Client(socket), Client(m)
        await client.recv()
        await manager.recv()
        subscribed = await client.call("subscribe", {"stream": "tenant"})

        async def set_price(price: int) -> dict[str, Any]:
            reply = await manager.call(
                "catalog.set_price", {"product_id": str(world.a.product_id), "price": price}
            )
            assert reply["type"] == "reply", reply
            return await client.recv()

        first = [await set_price(price) for price in (1100, 1200)]
        assert [e["seq"] for e in first] == [subscribed["seq"] + 1, subscribed["seq"] + 2]
        bus = world.services.bus  # the hub is idle between commands: nothing publishes meanwhile
        bus.epoch = "after-restart"  # what a Redis that came back empty looks like to the gateway
        for stream in bus._streams.values():
            stream.seq = 0
            stream.history.clear()
        fresh = await set_price(1300)
        assert (fresh["seq"], fresh["epoch"], fresh["payload"]["price"]) == (1, "after-restart", 1300)


async def test_with_the_bus_away_a_till_still_connects_and_sells(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis away (scaled mode): the socket cannot hear revocations and the cart cannot be pushed live, but
    the cashier is let in and every command still gets its answer: selling never stops for the bus."""

    async def away(*_args: Any, **_kwargs: Any) -> Any:
        raise UnavailableError("Redis is away (test)")

    monkeypatch.setattr(world.services.control, "hold", away)
    monkeypatch.setattr(world.services.bus, "publish", away)
    async with connect(world, world.a.tokens["cashier"]) as socket:
        till = Client(socket)
        assert (await till.recv())["type"] == "welcome"
        register = str(world.a.register_id)
        await till.call("cash.open", {"register_id": register, "float_amount": 0})
        added = await till.call("cart.add", {"register_id": register, "code": world.a.barcode})
        assert added["type"] == "reply", added
        assert [line["product_id"] for line in added["payload"]["lines"]] == [str(world.a.product_id)]
