"""``/api/v1/products/{id}/modifiers``: a product's options in restaurant mode ("Punto: a punto", "Agregado:
palta"), each with a ``price_delta`` added to the product's price when an item is ordered with it (negative
allowed; the item's price may not go below zero). Cashiers and up read them, managers and owners change them.

Another tenant's product or modifier, or a modifier of another product, is 404. The modifiers are part of
every restaurant store's ``FloorState``: a change takes each restaurant store's next floor ``rev`` (in store
order) and writes ``FloorChanged`` on its ``floor:<store_id>`` in the same transaction. Items already ordered
keep the modifiers they were ordered with.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.floor_views import next_rev
from hub.http.common import In, Out, PrincipalDep, ServicesDep, get_or_404, require_some, tenant_session
from hub.http.floor import Position, changed
from schema.errors import NotFoundError
from schema.models import Product, ProductModifier, Role, Store

GroupName = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
ModifierName = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
PriceDelta = Annotated[int, msgspec.Meta(ge=-(10**9), le=10**9)]


class ModifierIn(In, frozen=True):
    group: GroupName
    name: ModifierName
    price_delta: PriceDelta = 0
    position: Position = 0


class ModifierPatch(In, frozen=True):
    group: GroupName | msgspec.UnsetType = msgspec.UNSET
    name: ModifierName | msgspec.UnsetType = msgspec.UNSET
    price_delta: PriceDelta | msgspec.UnsetType = msgspec.UNSET
    position: Position | msgspec.UnsetType = msgspec.UNSET


class ModifierOut(Out, frozen=True):
    id: uuid.UUID
    product_id: uuid.UUID
    group: str
    name: str
    price_delta: int
    position: int


def modifier_out(m: ProductModifier) -> ModifierOut:
    return ModifierOut(id=m.id, product_id=m.product_id, group=m.group_name, name=m.name,
                       price_delta=m.price_delta, position=m.position)  # fmt: skip


async def _restaurants(session: AsyncSession) -> list[uuid.UUID]:
    """The tenant's restaurant stores, each with its next floor rev taken (in store order: no deadlock)."""
    stores = list(
        (
            await session.execute(select(Store.id).where(Store.mode == "restaurant").order_by(Store.id))
        ).scalars()
    )
    for store_id in stores:
        await next_rev(session, store_id)
    return stores


async def _announce_all(session: AsyncSession, stores: list[uuid.UUID]) -> None:
    for store_id in stores:
        await changed(session, store_id)


async def _modifier(session: AsyncSession, product_id: uuid.UUID, modifier_id: uuid.UUID) -> ProductModifier:
    modifier = await get_or_404(session, ProductModifier, modifier_id, "modifier")
    if modifier.product_id != product_id:
        raise NotFoundError("modifier not found", id=str(modifier_id))
    return modifier


class ModifierController(Controller):
    path = "/products/{product_id:uuid}/modifiers"
    tags = ["restaurant"]

    @get("/", summary="A product's modifiers (options with a price delta)")
    async def list_modifiers(
        self, product_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> list[ModifierOut]:
        principal.require(Role.CASHIER)
        async with tenant_session(services, principal) as session:
            await get_or_404(session, Product, product_id, "product")
            rows = await session.execute(
                select(ProductModifier)
                .where(ProductModifier.product_id == product_id)
                .order_by(ProductModifier.group_name, ProductModifier.position, ProductModifier.name)
            )
            return [modifier_out(m) for m in rows.scalars()]

    @post("/", summary="Add a modifier to a product")
    async def add_modifier(
        self,
        product_id: FromPath[uuid.UUID],
        data: JSONBody[ModifierIn],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> ModifierOut:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            await get_or_404(session, Product, product_id, "product")
            stores = await _restaurants(session)
            modifier = ProductModifier(
                product_id=product_id, group_name=data.group.strip(), name=data.name.strip(),
                price_delta=data.price_delta, position=data.position,
            )  # fmt: skip
            session.add(modifier)
            await _announce_all(session, stores)
            return modifier_out(modifier)

    @patch("/{modifier_id:uuid}", summary="Change a modifier")
    async def patch_modifier(
        self,
        product_id: FromPath[uuid.UUID],
        modifier_id: FromPath[uuid.UUID],
        data: JSONBody[ModifierPatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> ModifierOut:
        principal.require(Role.MANAGER)
        require_some(group=data.group, name=data.name, price_delta=data.price_delta, position=data.position)
        async with tenant_session(services, principal) as session:
            modifier = await _modifier(session, product_id, modifier_id)
            stores = await _restaurants(session)
            if not isinstance(data.group, msgspec.UnsetType):
                modifier.group_name = data.group.strip()
            if not isinstance(data.name, msgspec.UnsetType):
                modifier.name = data.name.strip()
            if not isinstance(data.price_delta, msgspec.UnsetType):
                modifier.price_delta = data.price_delta
            if not isinstance(data.position, msgspec.UnsetType):
                modifier.position = data.position
            await _announce_all(session, stores)
            return modifier_out(modifier)

    @delete("/{modifier_id:uuid}", summary="Delete a modifier (items already ordered keep it)")
    async def delete_modifier(
        self,
        product_id: FromPath[uuid.UUID],
        modifier_id: FromPath[uuid.UUID],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> None:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            modifier = await _modifier(session, product_id, modifier_id)
            stores = await _restaurants(session)
            await session.execute(sql_delete(ProductModifier).where(ProductModifier.id == modifier.id))
            await _announce_all(session, stores)


ROUTES = [ModifierController]
