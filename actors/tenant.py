"""TenantActor: one per tenant; owns the catalog cache and serialises the tenant's catalog changes.

State is reloaded from the database in ``on_start`` (first start, restart after a crash, reactivation
after passivation). Writes go to the database first, in one transaction with their outbox events; the cache
changes only after the commit, so a failed write never leaves the cache ahead of the database. Changes made
elsewhere (the REST API, another hub node) arrive as ``ProductChanged`` on the tenant's ``catalog`` stream
and reload that product.

The tenant's selling settings (stock policy, scale label rules, the cashier's discount limit) travel the same
way: loaded with the catalog into the :class:`~actors.catalog_ref.CatalogRef` the registers read, and
reloaded from the database when ``TenantSettingsChanged`` arrives on the ``catalog`` stream (the REST API
writes them), so every till of the tenant, on every node, sells by the new rules without a restart.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import select

from actors.catalog_ref import CatalogRef, SellingRules
from actors.deps import ActorDeps
from actors.runtime import Actor, MailboxFull
from actors.sales.catalog_index import CatalogIndex
from actors.sales.scale_barcodes import ScaleBarcodeRules, ScaleKind
from hub.events.bus import StreamEvent, Subscription
from hub.events.outbox import emit
from schema.errors import NotFoundError, ValidationError
from schema.messages.catalog import (
    CATALOG_STREAM,
    LookupProduct,
    PriceChanged,
    ProductChanged,
    ProductView,
    SetPrice,
)
from schema.messages.till import SearchProducts
from schema.models import Product, ProductBarcode, Register, Store, Tenant


class TenantCommand:
    """An actor message: the wire payload plus who sent it (already authorized by the gateway)."""

    __slots__ = ("payload", "user_id")

    def __init__(self, payload: Any, user_id: uuid.UUID | None) -> None:
        self.payload = payload
        self.user_id = user_id


class GetCatalog:
    """Ask for the tenant's catalog reference (registers read it directly; see actors.catalog_ref)."""


class ReloadSellingRules:
    """The tenant's selling settings changed (somewhere): read them again from the database."""


class RegisterInfo:
    """Where a register is: answered with a RegisterPlace, or NotFoundError for an unknown id."""

    __slots__ = ("register_id",)

    def __init__(self, register_id: uuid.UUID) -> None:
        self.register_id = register_id


class RegisterPlace:
    __slots__ = ("register_id", "store_id", "warehouse_id")

    def __init__(self, register_id: uuid.UUID, store_id: uuid.UUID, warehouse_id: uuid.UUID) -> None:
        self.register_id, self.store_id, self.warehouse_id = register_id, store_id, warehouse_id


def tenant_address(tenant_id: uuid.UUID) -> str:
    return f"tenant/{tenant_id}"


class TenantActor(Actor):
    def __init__(self, tenant_id: uuid.UUID, deps: ActorDeps) -> None:
        self.tenant_id = tenant_id
        self.deps = deps
        self.catalog = CatalogRef(CatalogIndex())
        self.registers: dict[uuid.UUID, RegisterPlace] = {}
        self._catalog_feed: Subscription | None = None
        self._stale = False

    async def on_start(self) -> None:
        # Follow first, then load: a change committed in between is reloaded once more, never missed.
        feed = await self.deps.bus.subscribe(self.tenant_id, CATALOG_STREAM, self._on_catalog_event)
        self._catalog_feed = feed.subscription
        await self._load_all()

    async def on_stop(self) -> None:
        self.catalog.stale = True  # registers holding it ask the next incarnation for a fresh one
        if self._catalog_feed is not None:
            self._catalog_feed.close()
            self._catalog_feed = None

    def _on_catalog_event(self, event: StreamEvent) -> None:
        try:
            if event.event == "TenantSettingsChanged":
                self.ref.tell_nowait(ReloadSellingRules())
            else:
                self.ref.tell_nowait(ProductChanged(product_id=uuid.UUID(event.payload["product_id"])))
        except (MailboxFull, KeyError, ValueError, TypeError):
            self._stale = True  # reload everything before the next message instead

    async def _load_all(self) -> None:
        async with self.deps.db.tenant(self.tenant_id) as session:
            products = (await session.execute(select(Product).where(Product.active))).scalars().all()
            barcodes = (await session.execute(select(ProductBarcode))).scalars().all()
            tenant = (await session.execute(select(Tenant))).scalar_one()
        codes: dict[uuid.UUID, list[str]] = {}
        for barcode in barcodes:
            codes.setdefault(barcode.product_id, []).append(barcode.barcode)
        self.catalog.replace(CatalogIndex(_view(p, codes.get(p.id, [])) for p in products))
        self.catalog.replace_rules(selling_rules(tenant))
        self._stale = False

    async def _reload_rules(self) -> None:
        async with self.deps.db.tenant(self.tenant_id) as session:
            tenant = (await session.execute(select(Tenant))).scalar_one()
        self.catalog.replace_rules(selling_rules(tenant))

    async def _load_registers(self) -> None:
        query = select(Register.id, Store.id, Store.warehouse_id).join(
            Store, (Store.id == Register.store_id) & (Store.tenant_id == Register.tenant_id)
        )
        async with self.deps.db.tenant(self.tenant_id) as session:
            rows = (await session.execute(query)).all()
        self.registers = {r: RegisterPlace(r, store, warehouse) for r, store, warehouse in rows}

    async def _register(self, register_id: uuid.UUID) -> RegisterPlace:
        if register_id not in self.registers:
            await self._load_registers()  # a register created since we loaded
        place = self.registers.get(register_id)
        if place is None:
            raise NotFoundError("register not found", register_id=str(register_id))
        return place

    async def _reload(self, product_id: uuid.UUID) -> None:
        async with self.deps.db.tenant(self.tenant_id) as session:
            product = await session.get(Product, (self.tenant_id, product_id))
            codes = (
                await session.execute(
                    select(ProductBarcode.barcode).where(ProductBarcode.product_id == product_id)
                )
            ).scalars()
            barcodes = list(codes)
        if product is None or not product.active:
            self.catalog.current().remove(product_id)
        else:
            self.catalog.current().put(_view(product, barcodes))

    async def receive(self, message: object) -> object:
        if self._stale:
            await self._load_all()
        if isinstance(message, ProductChanged):
            await self._reload(message.product_id)
            return None
        if isinstance(message, ReloadSellingRules):
            await self._reload_rules()
            return None
        if isinstance(message, GetCatalog):
            return self.catalog
        if isinstance(message, RegisterInfo):
            return await self._register(message.register_id)
        if not isinstance(message, TenantCommand):
            raise ValidationError(f"TenantActor cannot handle {type(message).__name__}")
        match message.payload:
            case LookupProduct(code=code):
                return self._lookup(code)
            case SearchProducts(q=q, limit=limit):
                return self.catalog.current().search(q, limit)
            case SetPrice() as cmd:
                return await self._set_price(cmd, message.user_id)
            case other:
                raise ValidationError(f"TenantActor cannot handle {type(other).__name__}")

    def _lookup(self, code: str) -> ProductView:
        product = self.catalog.current().by_code(code.strip())
        if product is None:
            raise NotFoundError(f"no product with code {code!r}", code=code)
        return product

    async def _set_price(self, cmd: SetPrice, user_id: uuid.UUID | None) -> ProductView:
        async with self.deps.db.tenant(self.tenant_id) as session:
            product = await session.get(Product, (self.tenant_id, cmd.product_id), with_for_update=True)
            if product is None or not product.active:
                raise NotFoundError("product not found", product_id=str(cmd.product_id))
            old_price = product.price
            product.price = cmd.price
            event = PriceChanged(
                product_id=product.id, sku=product.sku, old_price=old_price, price=cmd.price, by_user=user_id
            )
            emit(session, "tenant", "PriceChanged", event)
            emit(session, CATALOG_STREAM, "ProductChanged", ProductChanged(product_id=product.id))
        view = self.catalog.current().get(product.id)
        updated = _view(product, view.barcodes if view is not None else [])
        self.catalog.current().put(updated)
        return updated


def selling_rules(tenant: Tenant) -> SellingRules:
    """The tills' rules from the tenant's row (validated when written; a bad row fails loudly here)."""
    return SellingRules(
        block_negative_stock=tenant.stock_policy == "block",
        # ScaleBarcodeRules checks every prefix and kind itself.
        scale=ScaleBarcodeRules(prefixes=cast("dict[str, ScaleKind]", tenant.scale_prefixes)),
        max_cashier_discount=tenant.max_cashier_discount,
    )


def _view(product: Product, barcodes: list[str]) -> ProductView:
    return ProductView(
        id=product.id,
        sku=product.sku,
        name=product.name,
        price=product.price,
        tax_class=product.tax_class,
        weighable=product.weighable,
        unit=product.unit,
        category_id=product.category_id,
        barcodes=sorted(barcodes),
    )
