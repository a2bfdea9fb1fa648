"""``/api/v1/products``: the catalog. Deleting a product only deactivates it (sales keep pointing at it)."""

from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.events.outbox import emit
from hub.http.catalog_rules import (
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    validate_barcodes,
    validate_tax_class,
    validate_unit,
)  # fmt: skip
from hub.http.common import (
    Limit,
    Offset,
    PrincipalDep,
    SearchText,
    ServicesDep,
    current_tenant,
    flush_or_conflict,
    get_or_404,
    like_prefix,
    search_key,
    tenant_session,
    utc_required,
)  # fmt: skip
from schema.errors import ConflictError, ValidationError
from schema.messages.catalog import CATALOG_STREAM, ProductChanged
from schema.models import Category, Product, ProductBarcode, Role


async def _barcodes(session: AsyncSession, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    result: dict[uuid.UUID, list[str]] = {pid: [] for pid in product_ids}
    if product_ids:
        query = select(ProductBarcode).where(ProductBarcode.product_id.in_(product_ids))
        for row in (await session.execute(query.order_by(ProductBarcode.barcode))).scalars():
            result[row.product_id].append(row.barcode)
    return result


def product_out(p: Product, barcodes: list[str]) -> ProductOut:
    return ProductOut(
        id=p.id,
        sku=p.sku,
        name=p.name,
        category_id=p.category_id,
        price=p.price,
        tax_class=p.tax_class,
        weighable=p.weighable,
        unit=p.unit,
        min_stock=p.min_stock,
        active=p.active,
        barcodes=barcodes,
        created_at=utc_required(p.created_at),
        updated_at=utc_required(p.updated_at),
    )


async def _check_category(session: AsyncSession, category_id: uuid.UUID | None) -> None:
    if category_id is not None:
        await get_or_404(session, Category, category_id, "category")


async def _replace_barcodes(session: AsyncSession, product: Product, barcodes: list[str]) -> None:
    if barcodes:
        taken = (
            (
                await session.execute(
                    select(ProductBarcode.barcode).where(
                        ProductBarcode.barcode.in_(barcodes), ProductBarcode.product_id != product.id
                    )
                )
            )
            .scalars()
            .all()
        )
        if taken:
            raise ConflictError(f"barcode {taken[0]} belongs to another product", barcode=taken[0])
    await session.execute(sql_delete(ProductBarcode).where(ProductBarcode.product_id == product.id))
    session.add_all(ProductBarcode(barcode=code, product_id=product.id) for code in barcodes)


def _announce(session: AsyncSession, product_id: uuid.UUID) -> None:
    """Tell every cache of this catalog (TenantActors on every node) to reload the product after commit."""
    emit(session, CATALOG_STREAM, "ProductChanged", ProductChanged(product_id=product_id))


async def _with_barcodes(session: AsyncSession, product: Product) -> ProductOut:
    return product_out(product, (await _barcodes(session, [product.id]))[product.id])


class ProductController(Controller):
    path = "/products"
    tags = ["catalog"]

    @get("/", summary="List products; `q` is a prefix of the name (accents ignored) or SKU, or a barcode")
    async def list_products(
        self,
        principal: PrincipalDep,
        services: ServicesDep,
        q: SearchText = None,
        category_id: FromQuery[uuid.UUID | None] = None,
        include_inactive: FromQuery[bool] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ProductPage:
        principal.require(Role.CASHIER)
        query = select(Product)
        if q and q.strip():
            key = search_key(q)
            query = query.where(
                or_(
                    Product.search_name.like(like_prefix(key), escape="\\"),
                    func.lower(Product.sku).like(like_prefix(q.strip().lower()), escape="\\"),
                    Product.id.in_(
                        select(ProductBarcode.product_id).where(ProductBarcode.barcode == q.strip())
                    ),
                )
            )
        if category_id is not None:
            query = query.where(Product.category_id == category_id)
        if not include_inactive:
            query = query.where(Product.active.is_(True))
        query = query.order_by(Product.search_name, Product.id).limit(limit + 1).offset(offset)
        async with tenant_session(services, principal) as session:
            products = list((await session.execute(query)).scalars())
            more = len(products) > limit
            products = products[:limit]
            codes = await _barcodes(session, [p.id for p in products])
        return ProductPage(
            items=[product_out(p, codes[p.id]) for p in products],
            limit=limit,
            offset=offset,
            next_offset=offset + limit if more else None,
        )

    @get("/{product_id:uuid}")
    async def get_product(
        self, product_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> ProductOut:
        principal.require(Role.CASHIER)
        async with tenant_session(services, principal) as session:
            return await _with_barcodes(session, await get_or_404(session, Product, product_id, "product"))

    @post("/")
    async def create_product(
        self, data: JSONBody[ProductIn], principal: PrincipalDep, services: ServicesDep
    ) -> ProductOut:
        principal.require(Role.MANAGER)
        barcodes = validate_barcodes(data.barcodes)
        validate_unit(data.weighable, data.unit)
        async with tenant_session(services, principal) as session:
            validate_tax_class(data.tax_class, (await current_tenant(session, principal)).country)
            await _check_category(session, data.category_id)
            product = Product(
                sku=data.sku,
                name=data.name,
                search_name=search_key(data.name),
                category_id=data.category_id,
                price=data.price,
                tax_class=data.tax_class,
                weighable=data.weighable,
                unit=data.unit,
                min_stock=data.min_stock,
            )
            session.add(product)
            await flush_or_conflict(session, f"SKU {data.sku} already exists")
            await _replace_barcodes(session, product, barcodes)
            await flush_or_conflict(session, "barcode already in use")
            _announce(session, product.id)
            return await _with_barcodes(session, product)

    @patch("/{product_id:uuid}")
    async def update_product(
        self,
        product_id: FromPath[uuid.UUID],
        data: JSONBody[ProductPatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> ProductOut:
        principal.require(Role.MANAGER)
        changes = {f: v for f in data.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
        if not changes:
            raise ValidationError("nothing to change")
        async with tenant_session(services, principal) as session:
            product = await get_or_404(session, Product, product_id, "product")
            if "tax_class" in changes:
                validate_tax_class(changes["tax_class"], (await current_tenant(session, principal)).country)
            if "category_id" in changes:
                await _check_category(session, changes["category_id"])
            validate_unit(changes.get("weighable", product.weighable), changes.get("unit", product.unit))
            barcodes = changes.pop("barcodes", None)
            for field, value in changes.items():
                setattr(product, field, value)
            if "name" in changes:
                product.search_name = search_key(changes["name"])
            await flush_or_conflict(session, "SKU already exists")
            if barcodes is not None:
                await _replace_barcodes(session, product, validate_barcodes(barcodes))
                await flush_or_conflict(session, "barcode already in use")
            _announce(session, product.id)
            return await _with_barcodes(session, product)

    @delete("/{product_id:uuid}", summary="Deactivate a product (it stays for past sales)")
    async def delete_product(
        self, product_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> None:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            product = await get_or_404(session, Product, product_id, "product")
            product.active = False
            _announce(session, product.id)


ROUTES = [ProductController]
