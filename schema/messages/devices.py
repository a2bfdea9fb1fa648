"""What the in-store device agent and the hub say to each other over the agent's WebSocket.

The agent authenticates with its device token (``Authorization: Bearer shd_…``), then:

* ``agent.hello`` lists the devices it drives (by their hub id); the hub answers with each one's binding
  and settings, or why it refuses it (another store's, revoked, wrong kind). Only devices accepted here
  may report on this socket.
* ``device.weight`` streams a scale's readings (>= 10 per second while it answers); ``age_ms`` is how long
  ago the agent read it, so a reading kept while the hub was unreachable is never taken as fresh.
* ``device.status`` reports a printer's or scale's state when it changes (paper out, cover open...).
* ``print.ack`` answers a ``print`` directive: printed (exactly once), held (the printer cannot print now;
  the agent keeps the job and acks ``printed`` later) or failed (the job cannot be printed at all).

The hub sends the agent :class:`schema.wire.Directive` frames: ``print`` (:class:`PrintDirective`),
``tare`` and ``zero`` (:class:`ScaleDirective`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec

from schema.wire import Message

DeviceKind = Literal["scale", "printer", "drawer", "agent"]
PrintOutcome = Literal["printed", "held", "failed"]
Reason = Annotated[str, msgspec.Meta(max_length=200)]


class HubMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Hub -> agent: decoded leniently, so an agent installed earlier ignores fields added later (a strict
    agent would fail on the hub's answer and reconnect forever)."""


class AgentDevice(Message, frozen=True, kw_only=True):
    device_id: uuid.UUID
    kind: DeviceKind


class AgentHello(Message, frozen=True, kw_only=True):
    agent: Annotated[str, msgspec.Meta(max_length=80)] = ""  # name and version, for the logs
    devices: Annotated[list[AgentDevice], msgspec.Meta(max_length=32)]


class DeviceAssignment(HubMessage, frozen=True, kw_only=True):
    device_id: uuid.UUID
    kind: str
    accepted: bool
    reason: str = ""  # why it was refused
    name: str = ""
    register_id: uuid.UUID | None = None  # the till it serves
    config: dict[str, Any] = {}


class AgentWelcome(HubMessage, frozen=True, kw_only=True):
    devices: list[DeviceAssignment]


class DeviceWeight(Message, frozen=True, kw_only=True):
    device_id: uuid.UUID
    grams: Annotated[int, msgspec.Meta(ge=-100_000, le=1_000_000)]
    stable: bool
    overload: bool = False
    under_zero: bool = False
    age_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] = 0


class DeviceStatusReport(Message, frozen=True, kw_only=True):
    device_id: uuid.UUID
    online: bool
    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False
    error: bool = False
    detail: Reason = ""


class PrintAck(Message, frozen=True, kw_only=True):
    device_id: uuid.UUID
    job_id: uuid.UUID
    outcome: PrintOutcome
    reason: Reason = ""


# -- hub -> agent (the payload of a ``directive`` frame) -----------------------------------------------


class PrintDirective(HubMessage, frozen=True, kw_only=True):
    device_id: uuid.UUID
    job_id: uuid.UUID
    kind: str  # receipt, kitchen, zreport, test
    data: bytes  # ESC/POS, base64 in JSON


class ScaleDirective(HubMessage, frozen=True, kw_only=True):
    device_id: uuid.UUID


# -- hub -> tills and dashboards (events) ----------------------------------------------------------------


class PrintJobView(Message, frozen=True, kw_only=True):
    job_id: uuid.UUID
    device_id: uuid.UUID
    register_id: uuid.UUID | None
    kind: str
    state: Literal["queued", "sent", "held", "printed", "failed"]
    reason: str = ""
    source_id: uuid.UUID | None = None  # the sale, ticket or cash session it prints
    attempts: int = 0
    created_at: str = ""
    printed_at: str | None = None


class DeviceStatusView(Message, frozen=True, kw_only=True):
    device_id: uuid.UUID
    kind: str
    name: str
    register_id: uuid.UUID | None
    connected: bool  # its agent is connected
    online: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False
    error: bool = False
    detail: str = ""
