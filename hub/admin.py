"""Administrative operations shared by the CLI, the demo seed and the API: tenants and users."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from fiscal.cl import rut
from fiscal.ec import ruc
from hub.auth.passwords import hash_password
from hub.db import Database
from schema.errors import ConflictError, NotFoundError, ValidationError
from schema.ids import uuid7
from schema.models import Register, Store, Tenant, User, Warehouse
from schema.models.identity import Role

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
USERNAME = re.compile(r"^[a-z0-9._-]{2,60}$")
PIN = re.compile(r"^[0-9]{4,8}$")  # as the users API accepts them
COUNTRY_DEFAULTS = {"CL": ("CLP", "America/Santiago"), "EC": ("USD", "America/Guayaquil")}
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class NewTenant:
    tenant_id: uuid.UUID
    store_id: uuid.UUID
    warehouse_id: uuid.UUID
    register_id: uuid.UUID


def normalize_tax_id(country: str, tax_id: str) -> str:
    if country == "CL":
        return rut.normalize(tax_id)
    if country == "EC":
        return ruc.validate(tax_id)
    raise ValidationError(f"country must be CL or EC, not {country!r}")


async def create_tenant(
    db: Database,
    *,
    slug: str,
    name: str,
    country: str,
    tax_id: str,
    legal_name: str = "",
    store_name: str = "Casa matriz",
    store_mode: str = "retail",
) -> NewTenant:
    """A tenant with its first warehouse, store (code 1) and register (code 1)."""
    if not SLUG.match(slug):
        raise ValidationError("slug must be 3-40 lower-case letters, digits or dashes")
    if not name.strip():
        raise ValidationError("name is required")
    country = country.upper()
    tax = normalize_tax_id(country, tax_id)
    if store_mode not in ("retail", "restaurant"):
        raise ValidationError("store mode must be retail or restaurant")
    if await db.tenant_id_by_slug(slug) is not None:
        raise ConflictError(f"a tenant with slug {slug!r} already exists")
    currency, timezone = COUNTRY_DEFAULTS[country]
    tenant_id = uuid7()
    async with db.tenant(tenant_id) as session:
        session.add(
            Tenant(
                id=tenant_id,
                slug=slug,
                name=name.strip(),
                legal_name=legal_name or name.strip(),
                country=country,
                tax_id=tax,
                currency=currency,
                timezone=timezone,
            )
        )
        await session.flush()
        warehouse = Warehouse(tenant_id=tenant_id, name=f"Bodega {store_name}")
        session.add(warehouse)
        await session.flush()
        store = Store(
            tenant_id=tenant_id, code="1", name=store_name, mode=store_mode, warehouse_id=warehouse.id
        )
        session.add(store)
        await session.flush()
        register = Register(tenant_id=tenant_id, store_id=store.id, code="1", name="Caja 1")
        session.add(register)
    return NewTenant(tenant_id, store.id, warehouse.id, register.id)


async def create_user(
    db: Database,
    *,
    tenant_slug: str,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    store_code: str | None = None,
    pin: str | None = None,
) -> uuid.UUID:
    tenant_id = await db.tenant_id_by_slug(tenant_slug)
    if tenant_id is None:
        raise NotFoundError(f"no tenant with slug {tenant_slug!r}")
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise ValidationError("username must be 2-60 characters: letters, digits, '.', '_' or '-'")
    try:
        role_value = Role(role)
    except ValueError:
        raise ValidationError(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"password must have at least {MIN_PASSWORD} characters")
    if pin is not None and not PIN.match(pin):
        raise ValidationError("a PIN is 4 to 8 digits")
    password_hash = hash_password(password)
    pin_hash = hash_password(pin) if pin is not None else None
    async with db.tenant(tenant_id) as session:
        if (await session.execute(select(User.id).where(User.username == username))).first():
            raise ConflictError(f"user {username!r} already exists in {tenant_slug}")
        store_id = None
        if store_code is not None:
            store_id = (await session.execute(select(Store.id).where(Store.code == store_code))).scalar()
            if store_id is None:
                raise NotFoundError(f"no store with code {store_code!r}")
        user = User(
            tenant_id=tenant_id,
            username=username,
            display_name=display_name or username,
            role=role_value.value,
            store_id=store_id,
            password_hash=password_hash,
            pin_hash=pin_hash,
        )
        session.add(user)
    return user.id
