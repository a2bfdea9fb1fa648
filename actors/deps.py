"""What domain actors need from the hub, passed in explicitly so actors stay testable."""

from __future__ import annotations

from dataclasses import dataclass

from hub.db import Database
from hub.events.bus import Bus


@dataclass(frozen=True, slots=True)
class ActorDeps:
    db: Database
    bus: Bus
