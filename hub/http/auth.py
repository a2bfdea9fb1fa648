"""``/api/v1/auth``: sign in, sign out, who am I."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from hub.auth.sessions import login, logout
from hub.auth.tokens import SESSION_COOKIE
from hub.http.common import In, Out, PrincipalDep, ServicesDep, current_tenant, get_or_404, tenant_session
from hub.security import client_address, origin_allowed
from hub.services import Services
from schema.errors import PermissionDeniedError, ValidationError
from schema.models import Device, Tenant, User


class LoginIn(In, frozen=True):
    tenant: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class UserInfo(Out, frozen=True):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    store_id: uuid.UUID | None


class TenantInfo(Out, frozen=True):
    id: uuid.UUID
    slug: str
    name: str
    country: str
    currency: str


class DeviceInfo(Out, frozen=True):
    id: uuid.UUID
    name: str
    kind: str
    store_id: uuid.UUID


class LoginOut(Out, frozen=True):
    csrf_token: str
    user: UserInfo
    tenant: TenantInfo


class MeOut(Out, frozen=True):
    kind: str
    role: str
    tenant: TenantInfo
    user: UserInfo | None = None
    device: DeviceInfo | None = None
    csrf_token: str | None = None


def user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        store_id=user.store_id,
    )


def tenant_info(tenant: Tenant) -> TenantInfo:
    return TenantInfo(
        id=tenant.id, slug=tenant.slug, name=tenant.name, country=tenant.country, currency=tenant.currency
    )


def session_cookie(services: Services, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path="/",
        httponly=True,
        samesite="strict",
        secure=services.settings.tls,
        max_age=max_age,
    )


@post("/auth/login", status_code=HTTP_200_OK, summary="Sign in (browser session)", tags=["auth"])
async def login_handler(
    request: Request[Any, Any, Any], data: JSONBody[LoginIn], services: ServicesDep
) -> Response[LoginOut]:
    """Sets the ``storehub_session`` cookie and returns the CSRF token to send in ``X-CSRF-Token``."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ValidationError("Content-Type must be application/json")
    origin = request.headers.get("origin")
    if origin is not None and not origin_allowed(origin, request.headers.get("host"), services.settings):
        raise PermissionDeniedError("cross-origin sign-in refused")
    signed = await login(
        services, data.tenant, data.username, data.password, client_address(request.scope, services.settings)
    )
    body = LoginOut(
        csrf_token=signed.csrf_token, user=user_info(signed.user), tenant=tenant_info(signed.tenant)
    )
    max_age = services.settings.session_hours * 3600
    return Response(body, cookies=[session_cookie(services, signed.cookie, max_age)])


@post("/auth/logout", status_code=HTTP_204_NO_CONTENT, summary="Sign out", tags=["auth"])
async def logout_handler(
    request: Request[Any, Any, Any], principal: PrincipalDep, services: ServicesDep
) -> Response[None]:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and principal.csrf_token is not None:
        await logout(services, cookie)
    return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=[session_cookie(services, "", 0)])


@get("/auth/me", summary="The caller: user or device, role, tenant", tags=["auth"])
async def me_handler(principal: PrincipalDep, services: ServicesDep) -> MeOut:
    async with tenant_session(services, principal) as session:
        tenant = tenant_info(await current_tenant(session, principal))
        if principal.kind == "device" and principal.device_id is not None:
            device = await get_or_404(session, Device, principal.device_id, "device")
            info = DeviceInfo(id=device.id, name=device.name, kind=device.kind, store_id=device.store_id)
            return MeOut(kind="device", role=principal.role.value, tenant=tenant, device=info)
        assert principal.user_id is not None
        user = await get_or_404(session, User, principal.user_id, "user")
    return MeOut(
        kind="user",
        role=principal.role.value,
        tenant=tenant,
        user=user_info(user),
        csrf_token=principal.csrf_token,
    )


ROUTES = [login_handler, logout_handler, me_handler]
