"""A register's working state as every hub node's RegisterActor of it can share: cart, session, reading.

Embedded (one hub process) the state lives in the RegisterActor's memory only (``LocalRegisterState``:
nothing is shared, nothing is stored). With several hub nodes a till and its customer display may be on
different nodes, a scale's agent on a third, and a till whose node died reconnects to another: each node
serving the register runs a RegisterActor of it. So the state is kept in Redis too
(``hub.redis_register_state``), and each change is a compare-and-swap on the cart's version:

* the actor applies a command to the state it holds and stores the result only if the store still has the
  version it started from; if not, it takes the stored state and applies the command again on it;
* a command refused on the actor's copy (a line it does not have, no open cash session) is tried again on
  the stored state when that is newer;
* the state carries the ids of the latest commands applied, so a till resending a command to another node
  (its node died before the answer) does not have it applied twice;
* the scale's latest reading is stored for a short while, so a weighed item can be added on a node other
  than the one the scale's agent talks to.

The database stays the last word on what a sale is (``actors.checkout``); this state is what the till shows
before the sale.
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

import msgspec

from schema.errors import UnavailableError
from schema.messages.catalog import ProductView
from schema.messages.till import ScaleReading

log = logging.getLogger("actors.register")

# Ids of the latest commands kept in the shared state: a till resends only the commands whose replies it
# lost, which are its latest.
APPLIED_KEPT = 16


class SavedLine(msgspec.Struct, frozen=True, array_like=True):
    line_id: int
    product: ProductView
    quantity: int
    discount_percent: int
    fixed_total: int | None


class SavedState(msgspec.Struct, frozen=True):
    """A register's cart and cash session at one version (the version counts the cart's changes)."""

    version: int
    next_line_id: int
    lines: list[SavedLine]
    session_id: uuid.UUID | None
    applied: list[str]  # latest command ids applied, oldest first


class SharedReading(msgspec.Struct, frozen=True):
    reading: ScaleReading
    taken_at: float  # wall-clock seconds when the reading was taken


class RegisterStateStore(Protocol):
    """Where RegisterActors of one register meet. ``shared`` is False when there is only one node."""

    shared: bool

    async def load(self, tenant_id: uuid.UUID, register_id: uuid.UUID) -> SavedState | None:
        """The stored state, or None when none is stored."""
        ...

    async def swap(
        self, tenant_id: uuid.UUID, register_id: uuid.UUID, expected: int | None, state: SavedState
    ) -> SavedState | None:
        """Store ``state`` if the stored version is ``expected`` (None: whatever it is), or nothing is stored.

        Returns None when stored; otherwise the stored state, which is newer than the caller's."""
        ...

    async def put_reading(
        self, tenant_id: uuid.UUID, register_id: uuid.UUID, reading: SharedReading
    ) -> None: ...

    async def reading(self, tenant_id: uuid.UUID, register_id: uuid.UUID) -> SharedReading | None:
        """The latest reading, if one was stored less than its freshness limit ago."""
        ...


class LocalRegisterState:
    """One hub node: the RegisterActor's memory is the state; nothing to share."""

    shared = False

    async def load(self, tenant_id: uuid.UUID, register_id: uuid.UUID) -> SavedState | None:
        return None

    async def swap(
        self, tenant_id: uuid.UUID, register_id: uuid.UUID, expected: int | None, state: SavedState
    ) -> SavedState | None:
        return None

    async def put_reading(self, tenant_id: uuid.UUID, register_id: uuid.UUID, reading: SharedReading) -> None:
        return None

    async def reading(self, tenant_id: uuid.UUID, register_id: uuid.UUID) -> SharedReading | None:
        return None


class StateLink:
    """A RegisterActor's side of its register's shared state. The store being away never stops a till:
    reads give nothing, writes are kept back (``unsynced``), and the next write that reaches the store
    stores this node's state unconditionally, since it holds changes the store has not."""

    def __init__(self, store: RegisterStateStore, tenant_id: uuid.UUID, register_id: uuid.UUID) -> None:
        self.store = store
        self.shared = store.shared
        self.tenant_id, self.register_id = tenant_id, register_id
        self.unsynced = False

    async def stored(self) -> SavedState | None:
        """The shared state (None: embedded, none stored, or the store is away)."""
        if not self.shared:
            return None
        try:
            return await self.store.load(self.tenant_id, self.register_id)
        except UnavailableError as exc:
            log.warning("register %s: shared cart unknown, using this node's: %s", self.register_id, exc)
            return None

    async def swap(self, expected: int, state: SavedState) -> SavedState | None:
        """Store ``state`` if the shared one is still at ``expected``: None when stored (or embedded, or
        kept back), else the newer shared state."""
        if not self.shared:
            return None
        try:
            newer = await self.store.swap(
                self.tenant_id, self.register_id, None if self.unsynced else expected, state
            )
        except UnavailableError as exc:
            log.warning("register %s: cart change not shared: %s", self.register_id, exc)
            self.unsynced = True
            return None
        self.unsynced = False
        return newer

    async def put_reading(self, reading: SharedReading) -> None:
        if not self.shared:
            return
        try:
            await self.store.put_reading(self.tenant_id, self.register_id, reading)
        except UnavailableError as exc:
            log.warning("register %s: reading not shared: %s", self.register_id, exc)

    async def reading(self) -> SharedReading | None:
        if not self.shared:
            return None
        try:
            return await self.store.reading(self.tenant_id, self.register_id)
        except UnavailableError as exc:
            log.warning("register %s: shared reading unknown: %s", self.register_id, exc)
            return None
