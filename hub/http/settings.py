"""``/api/v1/settings``: the tenant's selling settings. Managers read them; only owners change them.

* ``stock_policy``: ``allow`` sells beyond the stock on hand (it goes negative), ``block`` refuses the sale.
* ``scale_prefixes``: which scale label prefixes (20..29) carry a weight in grams or a price in minor units
  (see ``actors.sales.scale_barcodes``); a PATCH replaces the whole mapping.
* ``max_cashier_discount``: the largest line discount (percent) a cashier may give; above it needs a manager.

A change is written with a ``TenantSettingsChanged`` event on the tenant's ``catalog`` stream in the same
transaction; every TenantActor of the tenant (on every node) reloads the settings from it, and its tills sell
by them from their next command, without a restart.
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

import msgspec
from litestar import Controller, get, patch
from litestar.params import JSONBody

from actors.sales.scale_barcodes import ScaleBarcodeRules, ScaleKind
from hub.events.outbox import emit
from hub.http.common import In, Out, PrincipalDep, ServicesDep, current_tenant, require_some, tenant_session
from schema.errors import NotFoundError
from schema.messages.catalog import CATALOG_STREAM, TenantSettingsChanged
from schema.models import Role, Tenant

StockPolicy = Literal["allow", "block"]  # same values as schema.models.tenancy.STOCK_POLICIES
# Only the shape here: ScaleBarcodeRules checks each prefix (20..29) and kind (weight, price) clearly.
ScalePrefixes = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=8)], Annotated[str, msgspec.Meta(max_length=16)]],
    msgspec.Meta(
        max_length=10,
        description='Scale label prefix ("20".."29") -> "weight" (grams) or "price" (minor units)',
        examples=[{"20": "weight", "21": "weight", "22": "price", "23": "price"}],
    ),
]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]


class SettingsOut(Out, frozen=True):
    stock_policy: StockPolicy
    scale_prefixes: dict[str, ScaleKind]
    max_cashier_discount: int  # percent


class SettingsPatch(In, frozen=True):
    stock_policy: StockPolicy | msgspec.UnsetType = msgspec.UNSET
    scale_prefixes: ScalePrefixes | msgspec.UnsetType = msgspec.UNSET  # replaces the whole mapping
    max_cashier_discount: Percent | msgspec.UnsetType = msgspec.UNSET


def _prefixes(tenant: Tenant) -> dict[str, ScaleKind]:
    rules = ScaleBarcodeRules(prefixes=cast("dict[str, ScaleKind]", tenant.scale_prefixes))
    return dict(sorted(rules.prefixes.items()))


def settings_out(tenant: Tenant) -> SettingsOut:
    return SettingsOut(
        stock_policy=msgspec.convert(tenant.stock_policy, StockPolicy),
        scale_prefixes=_prefixes(tenant),
        max_cashier_discount=tenant.max_cashier_discount,
    )


class SettingsController(Controller):
    path = "/settings"
    tags = ["settings"]

    @get("/", summary="The tenant's selling settings (managers and owners)")
    async def get_settings(self, principal: PrincipalDep, services: ServicesDep) -> SettingsOut:
        principal.require(Role.MANAGER)
        async with tenant_session(services, principal) as session:
            return settings_out(await current_tenant(session, principal))

    @patch("/", summary="Change selling settings (owners); the tills apply them from their next command")
    async def update_settings(
        self, data: JSONBody[SettingsPatch], principal: PrincipalDep, services: ServicesDep
    ) -> SettingsOut:
        principal.require(Role.OWNER)
        require_some(
            stock_policy=data.stock_policy,
            scale_prefixes=data.scale_prefixes,
            max_cashier_discount=data.max_cashier_discount,
        )
        scale = None
        if not isinstance(data.scale_prefixes, msgspec.UnsetType):
            # Raises InvalidScaleRulesError (400 invalid_scale_rules) naming the bad prefix or kind.
            scale = ScaleBarcodeRules(prefixes=cast("dict[str, ScaleKind]", data.scale_prefixes))
        async with tenant_session(services, principal) as session:
            # Locked to the commit: concurrent changes apply, and announce, one after the other.
            tenant = await session.get(Tenant, principal.tenant_id, with_for_update=True)
            if tenant is None:
                raise NotFoundError("tenant not found")
            if not isinstance(data.stock_policy, msgspec.UnsetType):
                tenant.stock_policy = data.stock_policy
            if scale is not None:
                tenant.scale_prefixes = dict(sorted(scale.prefixes.items()))
            if not isinstance(data.max_cashier_discount, msgspec.UnsetType):
                tenant.max_cashier_discount = data.max_cashier_discount
            out = settings_out(tenant)
            emit(
                session,
                CATALOG_STREAM,
                "TenantSettingsChanged",
                TenantSettingsChanged(
                    stock_policy=out.stock_policy,
                    scale_prefixes=out.scale_prefixes,
                    max_cashier_discount=out.max_cashier_discount,
                    by_user=principal.user_id,
                ),
            )
        return out


ROUTES = [SettingsController]
