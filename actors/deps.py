"""What domain actors need from the hub, passed in explicitly so actors stay testable."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from actors.register_state import LocalRegisterState, RegisterStateStore
from hub.db import Database
from hub.events.bus import Bus


@dataclass(frozen=True, slots=True)
class ActorDeps:
    db: Database
    bus: Bus
    # Called with the tenant id after a commit that made a fiscal document (wakes its FiscalActor).
    documents_made: Callable[[uuid.UUID], None] = lambda _tenant_id: None
    # Called with (tenant, register, kind, source id) after a commit that has something to print: a sale's
    # or credit note's receipt ("receipt"), a closed cash session's Z-report ("zreport").
    printable: Callable[[uuid.UUID, uuid.UUID, str, uuid.UUID], None] = lambda _t, _r, _k, _s: None
    # Where the RegisterActors of one register on several hub nodes share its cart (embedded: nowhere).
    registers: RegisterStateStore = field(default_factory=LocalRegisterState)
