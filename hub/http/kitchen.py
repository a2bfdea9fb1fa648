"""``/api/v1/kitchen``: the stations (for the KDS's station picker), their age thresholds, and which
station cooks which category (routing rules).

* ``GET /kitchen/stations?store_id=``: kitchen staff, managers and owners; a principal bound to a store
  sees that store's stations only.
* ``PUT /kitchen/stations/{id}/settings``: managers; goes through the station's KitchenActor, so the change
  is numbered with the station's other changes and every screen gets it as ``KitchenStationChanged``.
* ``GET`` / ``PUT /kitchen/routes?store_id=``: managers. A PUT replaces the store's rules; a category
  without a rule goes to the store's first station by code (``default_station_id``). Another tenant's
  store, category or station is ``not_found``, as is a station of another store.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, get, put
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.kitchen import SetThresholds, kitchen_ref
from hub.http.common import (
    In,
    Out,
    PrincipalDep,
    ServicesDep,
    in_store_or_404,
    store_for,
    store_scoped,
    tenant_session,
)
from schema.errors import NotFoundError, ValidationError
from schema.messages.kitchen import StationView
from schema.models import Category, KitchenRoute, KitchenSettings, KitchenStation, Role
from schema.models.kitchen import DEFAULT_LATE_AFTER_S, DEFAULT_WARN_AFTER_S

Seconds = Annotated[int, msgspec.Meta(ge=30, le=24 * 3600)]


class StationOut(Out, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID
    code: str
    name: str
    warn_after_s: int
    late_after_s: int


class ThresholdsIn(In, frozen=True):
    warn_after_s: Seconds  # the ticket turns yellow on the screen
    late_after_s: Seconds  # ... and red; must be later


class RouteIn(In, frozen=True):
    category_id: uuid.UUID
    station_id: uuid.UUID


class RoutesIn(In, frozen=True):
    routes: Annotated[list[RouteIn], msgspec.Meta(max_length=1000)]


class RouteOut(Out, frozen=True):
    category_id: uuid.UUID
    station_id: uuid.UUID


class RoutesOut(Out, frozen=True):
    store_id: uuid.UUID
    default_station_id: uuid.UUID | None  # where unrouted categories go; None: the store has no station
    routes: list[RouteOut]


class KitchenController(Controller):
    path = "/kitchen"
    tags = ["kitchen"]

    @get("/stations")
    async def list_stations(
        self, principal: PrincipalDep, services: ServicesDep, store_id: FromQuery[uuid.UUID | None] = None
    ) -> list[StationOut]:
        principal.require(Role.KITCHEN)
        query = select(KitchenStation, KitchenSettings).outerjoin(
            KitchenSettings,
            (KitchenSettings.tenant_id == KitchenStation.tenant_id)
            & (KitchenSettings.station_id == KitchenStation.id),
        )
        query = store_scoped(query, KitchenStation, principal, store_id)
        async with tenant_session(services, principal) as session:
            rows = (await session.execute(query.order_by(KitchenStation.code, KitchenStation.id))).all()
        return [
            StationOut(
                id=station.id,
                store_id=station.store_id,
                code=station.code,
                name=station.name,
                warn_after_s=settings.warn_after_s if settings else DEFAULT_WARN_AFTER_S,
                late_after_s=settings.late_after_s if settings else DEFAULT_LATE_AFTER_S,
            )
            for station, settings in rows
        ]

    @put("/stations/{station_id:uuid}/settings", summary="Change a station's age thresholds")
    async def set_thresholds(
        self,
        station_id: FromPath[uuid.UUID],
        data: JSONBody[ThresholdsIn],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> StationView:
        principal.require(Role.MANAGER)
        if data.late_after_s <= data.warn_after_s:
            raise ValidationError("late_after_s must be later than warn_after_s")
        async with tenant_session(services, principal) as session:
            await in_store_or_404(session, principal, KitchenStation, station_id, "kitchen station")
        ref = kitchen_ref(services.actors, services.actor_deps, principal.tenant_id, station_id)
        view: StationView = await ref.ask(
            SetThresholds(data.warn_after_s, data.late_after_s), timeout=services.settings.ask_timeout_seconds
        )
        return view

    @get("/routes", summary="Which station cooks each category of a store")
    async def get_routes(
        self, store_id: FromQuery[uuid.UUID], principal: PrincipalDep, services: ServicesDep
    ) -> RoutesOut:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            await store_for(session, principal, store_id)
            return await _routes(session, store_id)

    @put("/routes", summary="Replace a store's routing rules")
    async def put_routes(
        self,
        store_id: FromQuery[uuid.UUID],
        data: JSONBody[RoutesIn],
        principal: PrincipalDep,
        services: ServicesDep,
    ) -> RoutesOut:
        principal.require(Role.MANAGER)
        categories = [r.category_id for r in data.routes]
        if len(set(categories)) != len(categories):
            raise ValidationError("a category is routed twice")
        async with tenant_session(services, principal) as session:
            await store_for(session, principal, store_id)
            known = set(
                (await session.execute(select(Category.id).where(Category.id.in_(categories)))).scalars()
            )
            for category_id in categories:
                if category_id not in known:
                    raise NotFoundError("category not found", id=str(category_id))
            wanted = {r.station_id for r in data.routes}
            here = set(
                (
                    await session.execute(
                        select(KitchenStation.id).where(
                            KitchenStation.id.in_(wanted), KitchenStation.store_id == store_id
                        )
                    )
                ).scalars()
            )
            for station_id in wanted - here:
                raise NotFoundError("kitchen station not found in this store", id=str(station_id))
            await session.execute(delete(KitchenRoute).where(KitchenRoute.store_id == store_id))
            session.add_all(
                KitchenRoute(store_id=store_id, category_id=r.category_id, station_id=r.station_id)
                for r in data.routes
            )
            await session.flush()
            return await _routes(session, store_id)


async def _routes(session: AsyncSession, store_id: uuid.UUID) -> RoutesOut:
    first = (
        await session.execute(
            select(KitchenStation.id)
            .where(KitchenStation.store_id == store_id)
            .order_by(KitchenStation.code, KitchenStation.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    rows = await session.execute(
        select(KitchenRoute.category_id, KitchenRoute.station_id)
        .where(KitchenRoute.store_id == store_id)
        .order_by(KitchenRoute.category_id)
    )
    return RoutesOut(
        store_id=store_id,
        default_station_id=first,
        routes=[RouteOut(category_id=c, station_id=s) for c, s in rows.tuples()],
    )


ROUTES = [KitchenController]
