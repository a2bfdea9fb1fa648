"""``hub.control`` on the in-process bus: who holds a tenant's ear, and which notices are acted on."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
import pytest

from hub.control import TenantControl
from hub.events.bus import Listener, LocalBus, SubscribeResult
from schema.errors import UnavailableError
from schema.messages.control_notices import (
    CONTROL_STREAM,
    ControlNotice,
    DeviceChanged,
    DeviceRevoked,
    TokenRevoked,
    UserChanged,
)

TENANT = uuid.uuid4()
DEVICE = uuid.uuid4()
USER = uuid.uuid4()


class Heard:
    def __init__(self) -> None:
        self.notices: list[tuple[uuid.UUID, ControlNotice]] = []

    def __call__(self, tenant_id: uuid.UUID, notice: ControlNotice) -> None:
        self.notices.append((tenant_id, notice))


async def tell(bus: LocalBus, notice: ControlNotice, tenant_id: uuid.UUID = TENANT) -> None:
    """As the outbox relay publishes it: the payload as plain JSON values."""
    await bus.publish(tenant_id, CONTROL_STREAM, type(notice).__name__, msgspec.to_builtins(notice))


async def test_a_tenant_is_heard_from_the_first_hold_until_the_last_release() -> None:
    bus, heard = LocalBus(), Heard()
    control = TenantControl(bus, heard)
    other = DeviceRevoked(device_id=DEVICE, origin="another node")
    await tell(bus, other)
    assert heard.notices == [] and not control.listening(TENANT)

    await control.hold(TENANT, "socket 1")
    await control.hold(TENANT, "socket 2")
    await control.hold(TENANT, "socket 2")  # the same holder again: still one
    assert control.listening(TENANT) and control.holders(TENANT) == 2
    await tell(bus, other)
    await tell(bus, other, uuid.uuid4())  # another tenant's: not ours
    assert heard.notices == [(TENANT, other)]

    control.release(TENANT, "socket 1")
    await tell(bus, DeviceChanged(device_id=DEVICE, origin="another node"))
    assert len(heard.notices) == 2 and isinstance(heard.notices[1][1], DeviceChanged)

    control.release(TENANT, "socket 2")
    control.release(TENANT, "socket 2")  # twice: nothing more
    assert not control.listening(TENANT) and control.holders(TENANT) == 0
    await tell(bus, other)
    assert len(heard.notices) == 2


async def test_its_own_notices_unknown_ones_and_bad_ones_are_not_acted_on() -> None:
    bus, heard = LocalBus(), Heard()
    control = TenantControl(bus, heard)
    await control.hold(TENANT, "socket")
    await tell(bus, control.notice(DeviceRevoked, device_id=DEVICE))  # made here: acted on when it was made
    await bus.publish(TENANT, CONTROL_STREAM, "DeviceRenamedInVersion9", {"device_id": str(DEVICE)})
    await bus.publish(TENANT, CONTROL_STREAM, "DeviceRevoked", {"device_id": "not a uuid"})
    assert heard.notices == []
    await tell(bus, DeviceRevoked(device_id=DEVICE, origin="another node"))
    await tell(bus, control.notice(UserChanged, user_id=USER))  # of a user too: its own, skipped
    await tell(bus, TokenRevoked(user_id=USER, token_id="t" * 64, origin="another node"))
    assert [n for _, n in heard.notices] == [
        DeviceRevoked(device_id=DEVICE, origin="another node"),
        TokenRevoked(user_id=USER, token_id="t" * 64, origin="another node"),
    ]


async def test_a_failing_handler_does_not_reach_the_publisher() -> None:
    def broken(tenant_id: uuid.UUID, notice: ControlNotice) -> None:
        raise RuntimeError("boom")

    bus = LocalBus()
    control = TenantControl(bus, broken)
    await control.hold(TENANT, "socket")
    await tell(bus, DeviceChanged(device_id=DEVICE, origin="another node"))  # logged, not raised


class SlowBus(LocalBus):
    """Subscribes when told to, or fails."""

    def __init__(self) -> None:
        super().__init__()
        self.go: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def subscribe(
        self, tenant_id: uuid.UUID, stream: str, listener: Listener, **kwargs: Any
    ) -> SubscribeResult:
        if not await self.go:
            raise UnavailableError("bus away (test)")
        return await super().subscribe(tenant_id, stream, listener, **kwargs)


async def test_holders_that_leave_while_it_subscribes_leave_nothing_open() -> None:
    bus, heard = SlowBus(), Heard()
    control = TenantControl(bus, heard)
    waiting = asyncio.create_task(control.hold(TENANT, "socket"))
    await asyncio.sleep(0)
    assert control.holders(TENANT) == 1 and not control.listening(TENANT)
    waiting.cancel()  # the socket went away while its tenant was being subscribed
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert control.holders(TENANT) == 0 and not control.listening(TENANT)
    bus.go.set_result(True)  # the forgotten subscribe completes first, then this one
    await control.hold(TENANT, "the next socket")
    await tell(bus, DeviceRevoked(device_id=DEVICE, origin="another node"))
    assert len(heard.notices) == 1  # the forgotten subscription was closed, or it would be heard twice


async def test_a_failed_subscribe_is_raised_to_every_holder_waiting_and_leaves_nothing() -> None:
    bus, heard = SlowBus(), Heard()
    control = TenantControl(bus, heard)
    first = asyncio.create_task(control.hold(TENANT, "socket 1"))
    second = asyncio.create_task(control.hold(TENANT, "socket 2"))
    await asyncio.sleep(0)
    bus.go.set_result(False)
    for waiting in (first, second):
        with pytest.raises(UnavailableError):
            await waiting
    assert control.holders(TENANT) == 0 and not control.listening(TENANT)


async def test_stop_closes_every_ear() -> None:
    bus, heard = LocalBus(), Heard()
    control = TenantControl(bus, heard)
    await control.hold(TENANT, "socket")
    await control.stop()
    await tell(bus, DeviceRevoked(device_id=DEVICE, origin="another node"))
    assert heard.notices == [] and not control.listening(TENANT)
