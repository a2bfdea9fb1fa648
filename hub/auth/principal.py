"""Who is calling: a user (browser session or API token) or a paired device, always inside one tenant."""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec

from schema.errors import PermissionDeniedError
from schema.models.identity import Role

# Ranks for the back-office hierarchy; kitchen staff sit outside it (rank 0) and only see kitchen streams.
ROLE_RANK: dict[Role, int] = {Role.OWNER: 3, Role.MANAGER: 2, Role.CASHIER: 1, Role.KITCHEN: 0}


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    kind: Literal["user", "device"]
    role: Role
    user_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    # A principal bound to one store may only touch that store's registers, stations and devices.
    store_id: uuid.UUID | None = None
    # For browser sessions: the CSRF token the client must echo on unsafe requests.
    csrf_token: str | None = None
    # The credential it came with, as stored (a hash, never the secret): a browser session's id, or an API
    # token's. A sign-out or a revocation closes the sockets that carry it (``hub.auth.revocation``).
    session_id: str | None = None
    token_id: str | None = None

    def is_at_least(self, role: Role) -> bool:
        if role is Role.KITCHEN:
            return self.role is Role.KITCHEN or ROLE_RANK[self.role] >= ROLE_RANK[Role.MANAGER]
        return self.kind == "user" and ROLE_RANK[self.role] >= ROLE_RANK[role]

    def require(self, role: Role) -> None:
        if not self.is_at_least(role):
            raise PermissionDeniedError(f"requires role {role.value}", required=role.value)

    def can_access_store(self, store_id: uuid.UUID) -> bool:
        return self.store_id is None or self.store_id == store_id

    def require_store(self, store_id: uuid.UUID) -> None:
        if not self.can_access_store(store_id):
            raise PermissionDeniedError("not allowed for this store")
