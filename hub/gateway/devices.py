"""The device agent's commands, and the till's device commands.

An agent socket authenticates with a device token. ``agent.hello`` names the devices the agent drives; each
is accepted only if it is a device of the agent's tenant (RLS: another tenant's is simply not found) and
store, not revoked, of the kind the agent says. Readings, statuses and acknowledgements are taken only for
devices accepted on this very socket, and go to each device's DeviceActor. When the socket closes, the
actors learn their agent is gone.

Before a device socket is welcomed, the node listens to its tenant's notices
(``hub.gateway.route.follow_revocation``), so a revocation made on any hub node closes it; then its token
is checked once more, for a revocation that committed while it was connecting.

Tills (cashiers) ask for the devices bound to their register (``devices.status``), reprint a sale's receipt
(``print.reprint``) and tare or zero their scale.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from sqlalchemy import select

from actors.device import AttachAgent, DetachAgent, GetDeviceStatus, ScaleCommand
from actors.tenant import RegisterInfo, RegisterPlace
from hub.gateway.catalog import tenant_ref
from hub.gateway.commands import command
from hub.gateway.connection import Connection
from schema.errors import NotFoundError, PermissionDeniedError, ValidationError
from schema.messages.devices import (
    AgentHello,
    AgentWelcome,
    DeviceAssignment,
    DeviceStatusReport,
    DeviceStatusView,
    DeviceWeight,
    PrintAck,
)
from schema.models import Device, Sale
from schema.models.identity import Role
from schema.wire import Message, Reply

DEVICE_KINDS = frozenset({"device"})


class RegisterDevices(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID


class Reprint(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    sale_id: uuid.UUID


class ScaleAction(Message, frozen=True, kw_only=True):
    register_id: uuid.UUID
    action: Annotated[str, msgspec.Meta(pattern="^(tare|zero)$")]


def _refusal(device: Device | None, agent: Device, kind: str) -> str:
    if device is None:
        return "no such device"
    if device.revoked_at is not None:
        return "the device was revoked"
    if device.store_id != agent.store_id:
        return "the device belongs to another store"
    if device.kind != kind:
        return f"the device is a {device.kind}, not a {kind}"
    if device.kind == "agent":
        return "an agent is not a device it drives"
    return ""


@command("agent.hello", AgentHello, kinds=DEVICE_KINDS)
async def agent_hello(conn: Connection, msg: AgentHello, command_id: str | None) -> None:
    principal, services = conn.principal, conn.services
    if len({d.device_id for d in msg.devices}) != len(msg.devices):
        raise ValidationError("a device is listed twice")
    async with services.db.tenant(principal.tenant_id) as session:
        agent = await session.get(Device, (principal.tenant_id, principal.device_id))
        if agent is None:
            raise PermissionDeniedError("unknown device")
        rows = {
            d.id: d
            for d in (
                await session.execute(select(Device).where(Device.id.in_([d.device_id for d in msg.devices])))
            ).scalars()
        }
    _detach_all(conn)
    answers: list[DeviceAssignment] = []
    accepted: list[Device] = []
    for wanted in msg.devices:
        row = rows.get(wanted.device_id)
        reason = _refusal(row, agent, wanted.kind)
        if row is None or reason:
            answers.append(
                DeviceAssignment(device_id=wanted.device_id, kind=wanted.kind, accepted=False, reason=reason)
            )
            continue
        accepted.append(row)
        answers.append(
            DeviceAssignment(
                device_id=row.id,
                kind=row.kind,
                accepted=True,
                name=row.name,
                register_id=row.register_id,
                config=dict(row.config or {}),
            )
        )
    # The answer goes out before any directive (an attached printer hands over its queue at once), so the
    # agent knows its devices before their first print job arrives.
    conn.send(Reply(id=command_id, payload=AgentWelcome(devices=answers)))
    for row in accepted:
        ref = services.devices.ref(principal.tenant_id, row.id)
        conn.agent_devices[row.id] = ref
        await ref.ask(AttachAgent(conn), timeout=services.settings.ask_timeout_seconds)
    conn.on_close.append(lambda: _detach_all(conn))


def _detach_all(conn: Connection) -> None:
    devices, conn.agent_devices = conn.agent_devices, {}
    for ref in devices.values():
        ref.tell_nowait(DetachAgent(conn))


async def _to_device(conn: Connection, device_id: uuid.UUID, message: object) -> Any:
    ref = conn.agent_devices.get(device_id)
    if ref is None:
        raise PermissionDeniedError(
            "this device was not accepted on this socket (send agent.hello first)", device_id=str(device_id)
        )
    return await ref.ask(message, timeout=conn.services.settings.ask_timeout_seconds)


@command("device.weight", DeviceWeight, kinds=DEVICE_KINDS)
async def device_weight(conn: Connection, msg: DeviceWeight, command_id: str | None) -> Any:
    return await _to_device(conn, msg.device_id, msg)


@command("device.status", DeviceStatusReport, kinds=DEVICE_KINDS)
async def device_status(conn: Connection, msg: DeviceStatusReport, command_id: str | None) -> Any:
    return await _to_device(conn, msg.device_id, msg)


@command("print.ack", PrintAck, kinds=DEVICE_KINDS)
async def print_ack(conn: Connection, msg: PrintAck, command_id: str | None) -> Any:
    return await _to_device(conn, msg.device_id, msg)


# -- the till's side ---------------------------------------------------------------------------------


async def _register_store(conn: Connection, register_id: uuid.UUID) -> uuid.UUID:
    place: RegisterPlace = await tenant_ref(conn).ask(
        RegisterInfo(register_id), timeout=conn.services.settings.ask_timeout_seconds
    )
    conn.principal.require_store(place.store_id)
    return place.store_id


async def _bound(conn: Connection, register_id: uuid.UUID, kind: str | None = None) -> list[Device]:
    principal = conn.principal
    async with conn.services.db.tenant(principal.tenant_id) as session:
        query = select(Device).where(Device.register_id == register_id, Device.revoked_at.is_(None))
        if kind is not None:
            query = query.where(Device.kind == kind)
        return list((await session.execute(query.order_by(Device.created_at, Device.id))).scalars())


@command("devices.status", RegisterDevices, role=Role.CASHIER)
async def devices_status(
    conn: Connection, msg: RegisterDevices, command_id: str | None
) -> list[DeviceStatusView]:
    await _register_store(conn, msg.register_id)
    tenant_id, devices = conn.principal.tenant_id, conn.services.devices
    views: list[DeviceStatusView] = []
    for device in await _bound(conn, msg.register_id):
        ref = devices.ref(tenant_id, device.id)
        view = await ref.ask(GetDeviceStatus(), timeout=conn.services.settings.ask_timeout_seconds)
        if not view.connected and devices.presence is not None:  # its agent may be on another hub node
            view = await devices.presence.shared(tenant_id, device.id) or view
        views.append(view)
    return views


@command("print.reprint", Reprint, role=Role.CASHIER)
async def reprint(conn: Connection, msg: Reprint, command_id: str | None) -> Any:
    await _register_store(conn, msg.register_id)
    principal, services = conn.principal, conn.services
    async with services.db.tenant(principal.tenant_id) as session:
        sale = await session.get(Sale, (principal.tenant_id, msg.sale_id))
    if sale is None or sale.register_id != msg.register_id:
        raise NotFoundError("no such sale at this register", sale_id=str(msg.sale_id))
    job = await services.devices.print_for_register(
        principal.tenant_id, msg.register_id, "receipt", sale.id, reprint_of=sale.id
    )
    if job is None:
        raise NotFoundError("this register has no printer")
    return job


@command("scale.action", ScaleAction, role=Role.CASHIER)
async def scale_action(conn: Connection, msg: ScaleAction, command_id: str | None) -> Any:
    await _register_store(conn, msg.register_id)
    scales = await _bound(conn, msg.register_id, "scale")
    if not scales:
        raise NotFoundError("this register has no scale")
    ref = conn.services.devices.ref(conn.principal.tenant_id, scales[0].id)
    return await ref.ask(ScaleCommand(msg.action), timeout=conn.services.settings.ask_timeout_seconds)
