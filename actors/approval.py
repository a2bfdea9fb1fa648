"""What a sale or a change needs from outside the cart: a manager's approval (by role, or a manager's
username and PIN typed at the till, with a limit on wrong PINs) and a factura's buyer.

Shared by the till's returns (``actors.register``) and a restaurant tab's voids and payments
(``actors.floor``).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec
from sqlalchemy import select

from fiscal.cl.rut import normalize as normalize_rut
from hub.auth.passwords import default_passwords
from hub.auth.principal import Principal
from hub.db import Database
from schema.errors import PermissionDeniedError, RateLimitedError, ValidationError
from schema.messages.till import Buyer
from schema.models import User
from schema.models.identity import Role

PIN_FAILURES_PER_MINUTE = 5  # wrong manager PINs a till may try before it must wait
CONSUMIDOR_FINAL_RUT = "66666666-6"  # SII's anonymous buyer: boletas only


class PinGuard:
    """Wrong manager PINs typed at one place (a till, a restaurant floor): after too many in a minute, the
    next approval by PIN must wait."""

    def __init__(self, where: str = "this till") -> None:
        self.where = where
        self.failures: list[float] = []  # monotonic times of wrong PINs

    async def approve(
        self,
        db: Database,
        tenant_id: uuid.UUID,
        principal: Principal,
        approver: str | None,
        pin: str | None,
        *,
        what: str = "a return",
    ) -> uuid.UUID:
        """The approving manager's id (see :func:`manager_approval`), counting wrong PINs."""
        now = time.monotonic()
        self.failures = [t for t in self.failures if now - t < 60]
        if len(self.failures) >= PIN_FAILURES_PER_MINUTE:
            wait = int(60 - (now - self.failures[0])) + 1
            raise RateLimitedError(
                f"too many wrong PINs at {self.where}; try again in {wait} s", retry_after=wait
            )
        try:
            return await manager_approval(db, tenant_id, principal, approver, pin, what=what)
        except PermissionDeniedError:
            if pin is not None:
                self.failures.append(now)
            raise


async def manager_approval(
    db: Database,
    tenant_id: uuid.UUID,
    principal: Principal,
    approver: str | None,
    pin: str | None,
    *,
    what: str = "a return",
) -> uuid.UUID:
    """Who approves: the sender if a manager, else a manager's username and PIN typed at the till."""
    if principal.is_at_least(Role.MANAGER) and principal.user_id is not None:
        return principal.user_id
    if approver is None or pin is None:
        raise PermissionDeniedError(f"{what} needs a manager's approval (username and PIN)")
    async with db.tenant(tenant_id) as session:
        manager = (
            await session.execute(select(User).where(User.username == approver.strip().lower()))
        ).scalar_one_or_none()
    pin_hash = manager.pin_hash if manager is not None else None
    ok = await asyncio.to_thread(default_passwords().verify_pin, pin_hash, pin)
    if not ok or manager is None or not manager.active or manager.role not in (Role.MANAGER, Role.OWNER):
        raise PermissionDeniedError("manager approval refused")
    return manager.id


def buyer_of(doc_type: int, buyer: Buyer | None) -> dict[str, str] | None:
    """A factura's buyer, its RUT checked and normalised; a boleta has none."""
    if doc_type != 33:
        if buyer is not None:
            raise ValidationError("a boleta has no buyer: choose factura (33) to issue one to a company")
        return None
    if buyer is None:
        raise ValidationError("a factura needs the buyer: RUT, razón social, giro, address and comuna")
    rut = normalize_rut(buyer.rut)
    if rut == CONSUMIDOR_FINAL_RUT:
        raise ValidationError("a factura cannot be issued to 66.666.666-6 (consumidor final): sell a boleta")
    return msgspec.to_builtins(msgspec.structs.replace(buyer, rut=rut))  # type: ignore[no-any-return]
