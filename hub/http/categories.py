"""``/api/v1/categories``: product categories (also route tickets to kitchen stations)."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from sqlalchemy import func, select

from hub.http.common import (
    In,
    Out,
    PrincipalDep,
    ServicesDep,
    flush_or_conflict,
    get_or_404,
    require_some,
    tenant_session,
)
from schema.errors import ConflictError
from schema.models import Category, Product, Role

CategoryName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Sort = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]


class CategoryOut(Out, frozen=True):
    id: uuid.UUID
    name: str
    sort: int


class CategoryIn(In, frozen=True):
    name: CategoryName
    sort: Sort = 0


class CategoryPatch(In, frozen=True):
    name: CategoryName | msgspec.UnsetType = msgspec.UNSET
    sort: Sort | msgspec.UnsetType = msgspec.UNSET


def category_out(c: Category) -> CategoryOut:
    return CategoryOut(id=c.id, name=c.name, sort=c.sort)


class CategoryController(Controller):
    path = "/categories"
    tags = ["catalog"]

    @get("/")
    async def list_categories(self, principal: PrincipalDep, services: ServicesDep) -> list[CategoryOut]:
        principal.require(Role.CASHIER)
        async with tenant_session(services, principal) as session:
            rows = (await session.execute(select(Category).order_by(Category.sort, Category.name))).scalars()
            return [category_out(c) for c in rows]

    @get("/{category_id:uuid}")
    async def get_category(
        self, category_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> CategoryOut:
        principal.require(Role.CASHIER)
        async with tenant_session(services, principal) as session:
            return category_out(await get_or_404(session, Category, category_id, "category"))

    @post("/")
    async def create_category(
        self, data: JSONBody[CategoryIn], principal: PrincipalDep, services: ServicesDep
    ) -> CategoryOut:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            category = Category(name=data.name, sort=data.sort)
            session.add(category)
            await flush_or_conflict(session, "category conflicts with an existing one")
            return category_out(category)

    @patch("/{category_id:uuid}")
    async def update_category(
        self,
        category_id: FromPath[uuid.UUID],
        data: JSONBody[CategoryPatch],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> CategoryOut:
        principal.require(Role.MANAGER)
        require_some(name=data.name, sort=data.sort)
        async with tenant_session(services, principal) as session:
            category = await get_or_404(session, Category, category_id, "category")
            if not isinstance(data.name, msgspec.UnsetType):
                category.name = data.name
            if not isinstance(data.sort, msgspec.UnsetType):
                category.sort = data.sort
            await flush_or_conflict(session, "category conflicts with an existing one")
            return category_out(category)

    @delete("/{category_id:uuid}")
    async def delete_category(
        self, category_id: FromPath[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> None:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            category = await get_or_404(session, Category, category_id, "category")
            used = (
                await session.execute(
                    select(func.count()).select_from(Product).where(Product.category_id == category.id)
                )
            ).scalar_one()
            if used:
                raise ConflictError(f"{used} product(s) use this category; move them first", products=used)
            await session.delete(category)
            await flush_or_conflict(session, "category is still referenced")


ROUTES = [CategoryController]
