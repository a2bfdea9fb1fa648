"""This node's ear on each tenant's control stream: back-office changes of devices and users, print jobs
and sign-outs made on any hub node.

The node that serves the change acts on it at once (``hub.devices.DeviceService``,
``hub.auth.revocation.UserSockets``) and writes a notice (``schema.messages.control_notices``) to the
outbox; every other node acts on it when it hears it. A node listens to a tenant only while something here
holds state of it: each socket (a device's or a user's), each DeviceActor, the printer lookups. The first
holder opens the subscription, the last one's release closes it.

``hold`` returns once the subscription is live, and that is what makes a check done *after* it exact: a
notice this node will not hear was published before ``hold`` returned, so after its commit. That is how a
socket that connects while its device, token, session or user is revoked or changed elsewhere cannot slip
through (the gateway authenticates it again after ``hold``), and why a DeviceActor holds before it loads
its row.

Listeners run on the bus's reader (or inside ``publish`` on the in-process bus): they must not block, and
nothing they raise reaches the bus.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from hub.events.bus import Bus, StreamEvent, Subscription
from schema.messages.control_notices import CONTROL_STREAM, ControlNotice, decode_notice

log = logging.getLogger("hub.control")

NoticeHandler = Callable[[uuid.UUID, ControlNotice], None]
N = TypeVar("N", bound=ControlNotice)


@dataclass(eq=False, slots=True)
class _Ear:
    opened: asyncio.Task[None] | None = None
    holders: set[Hashable] = field(default_factory=set)
    subscription: Subscription | None = None


class TenantControl:
    def __init__(self, bus: Bus, on_notice: NoticeHandler) -> None:
        self.bus = bus
        self.origin = secrets.token_hex(8)  # this node, as notices name it
        self._on_notice = on_notice
        self._ears: dict[uuid.UUID, _Ear] = {}

    def notice(self, kind: type[N], **fields: Any) -> N:
        """A notice made here: this node skips it when it hears it (it acts on it at once instead)."""
        return kind(origin=self.origin, **fields)

    def listening(self, tenant_id: uuid.UUID) -> bool:
        ear = self._ears.get(tenant_id)
        return ear is not None and ear.subscription is not None

    def holders(self, tenant_id: uuid.UUID) -> int:
        ear = self._ears.get(tenant_id)
        return 0 if ear is None else len(ear.holders)

    async def hold(self, tenant_id: uuid.UUID, holder: Hashable) -> None:
        """Listen to the tenant's notices for ``holder`` (again: no change); returns once listening.

        Raises what the bus raises (``UnavailableError``); ``holder`` holds nothing then."""
        ear = self._ears.get(tenant_id)
        if ear is None:
            ear = self._ears[tenant_id] = _Ear()
            ear.opened = asyncio.get_running_loop().create_task(
                self._open(tenant_id, ear), name=f"control-ear-{tenant_id}"
            )
            ear.opened.add_done_callback(_retrieved)
        ear.holders.add(holder)
        assert ear.opened is not None
        try:
            await asyncio.shield(ear.opened)
        except BaseException:
            if self._ears.get(tenant_id) is ear:
                self.release(tenant_id, holder)
            raise

    def release(self, tenant_id: uuid.UUID, holder: Hashable) -> None:
        ear = self._ears.get(tenant_id)
        if ear is None:
            return
        ear.holders.discard(holder)
        if ear.holders:
            return
        del self._ears[tenant_id]
        if ear.subscription is not None:
            ear.subscription.close()
        # Still opening: ``_open`` finds it forgotten and closes what it gets.

    async def stop(self) -> None:
        ears, self._ears = list(self._ears.values()), {}
        opening = [ear.opened for ear in ears if ear.opened is not None and not ear.opened.done()]
        for task in opening:
            task.cancel()
        await asyncio.gather(*opening, return_exceptions=True)
        for ear in ears:
            if ear.subscription is not None:
                ear.subscription.close()

    async def _open(self, tenant_id: uuid.UUID, ear: _Ear) -> None:
        try:
            result = await self.bus.subscribe(
                tenant_id, CONTROL_STREAM, lambda event: self._heard(tenant_id, event)
            )
        except BaseException:
            if self._ears.get(tenant_id) is ear:
                del self._ears[tenant_id]
            raise
        if self._ears.get(tenant_id) is ear:
            ear.subscription = result.subscription
        else:  # every holder left meanwhile
            result.subscription.close()

    def _heard(self, tenant_id: uuid.UUID, event: StreamEvent) -> None:
        try:
            notice = decode_notice(event.event, event.payload)
        except (msgspec.ValidationError, msgspec.DecodeError):
            log.error("tenant %s: undecodable %s notice #%d skipped", tenant_id, event.event, event.seq)
            return
        if notice is None or notice.origin == self.origin:
            return  # a notice this node does not know, or its own: acted on when it was made
        try:
            self._on_notice(tenant_id, notice)
        except Exception:
            log.exception("tenant %s: acting on %s failed: %r", tenant_id, event.event, notice)


def _retrieved(task: asyncio.Task[None]) -> None:
    """A failed subscribe was raised to every holder waiting then; none may be left to look at it."""
    if not task.cancelled():
        task.exception()
