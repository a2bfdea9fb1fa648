"""Which principal may follow which stream.

Stream names live inside the principal's tenant (the bus keys them by tenant too):
``tenant`` (owner dashboard), ``store:<id>``, ``register:<id>``, ``kitchen:<id>``, ``device:<id>``,
``floor:<store id>`` (a restaurant store's tabs and plan: cashiers and up, never kitchen users).
An id of another tenant is simply not found: the lookup runs in the principal's tenant session.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from actors.floor_errors import NotRestaurantError
from hub.auth.principal import Principal
from schema.errors import NotFoundError, PermissionDeniedError, ValidationError
from schema.models import Device, KitchenStation, Register, Store
from schema.models.identity import Role

if TYPE_CHECKING:
    from hub.services import Services

_KINDS = {
    "store": Store,
    "register": Register,
    "kitchen": KitchenStation,
    "device": Device,
    "floor": Store,  # floor:<store id>
}


def parse_stream(stream: str) -> tuple[str, uuid.UUID | None]:
    if stream == "tenant":
        return "tenant", None
    kind, sep, raw_id = stream.partition(":")
    if not sep or kind not in _KINDS:
        raise ValidationError(
            f"unknown stream {stream!r}: expected tenant, store:<id>, register:<id>, kitchen:<id>, "
            "device:<id> or floor:<store id>"
        )
    try:
        return kind, uuid.UUID(raw_id)
    except ValueError:
        raise ValidationError(f"stream {stream!r} does not carry a valid id") from None


async def authorize_stream(principal: Principal, stream: str, services: Services) -> None:
    kind, object_id = parse_stream(stream)
    if kind == "tenant":
        principal.require(Role.MANAGER)
        return
    assert object_id is not None
    model = _KINDS[kind]
    async with services.db.tenant(principal.tenant_id) as session:
        row = await session.get(model, (principal.tenant_id, object_id))
    if row is None:
        raise NotFoundError(f"{kind} not found", stream=stream)
    store_id: uuid.UUID = row.id if isinstance(row, Store) else row.store_id  # type: ignore[attr-defined]
    if principal.kind == "device":
        if isinstance(row, Device) and row.id == principal.device_id:
            return
        if isinstance(row, Register) and principal.device_id is not None:
            async with services.db.tenant(principal.tenant_id) as session:
                me = await session.get(Device, (principal.tenant_id, principal.device_id))
            if me is not None and me.register_id == row.id:
                return
        raise PermissionDeniedError("this device may not follow that stream")
    principal.require_store(store_id)
    if kind == "floor":
        principal.require(Role.CASHIER)
        if isinstance(row, Store) and row.mode != "restaurant":
            raise NotRestaurantError("this store is not a restaurant", stream=stream)
    elif kind == "register":
        principal.require(Role.CASHIER)
    elif kind == "kitchen":
        principal.require(Role.KITCHEN)
    else:
        principal.require(Role.MANAGER)
