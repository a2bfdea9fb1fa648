"""`storehub seed-demo`: a Chilean minimarket and an Ecuadorian restaurant, ready to sell.

Idempotent: a tenant that already exists is left alone (``reset=True`` deletes and recreates it).
The demo password is for the demo only; real tenants are made with ``create-tenant`` / ``create-user``.

The minimarket gets a Chilean fiscal setup through the same services the API uses (``fiscal.cl.setup``):
emitter data, a test certificate of its sender and CAFs for boletas (39: 1-1000), facturas (33: 1-500) and
notas de crédito (61: 1-200) issued by the SII simulator's authority. The certificate and CAFs are sealed
with ``STOREHUB_SECRET_KEY`` (or ``secret_key``): without one the seed refuses to start, since secrets
sealed with a throwaway key would not open in the hub (``make run`` keeps one in ``var/demo-secret-key``).
"""

from __future__ import annotations

import os
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from fiscal.certificates import make_test_certificate
from fiscal.cl.authority_keys import simulator_authority
from fiscal.cl.setup import SetupData, save_setup, upload_caf, upload_certificate
from fiscal.keys import at_rest_key
from hub.admin import create_tenant, create_user
from hub.db import Database
from hub.progress import Progress
from hub.seed.catalog_cl import BRAND_LINES, PACKAGED, WEIGHED
from hub.seed.menu_ec import FLOOR, MENU, MODIFIERS, STATIONS
from schema.barcodes import make_ean13
from schema.ids import uuid7
from schema.models import (
    Category,
    Device,
    FloorArea,
    FloorTable,
    KitchenRoute,
    KitchenStation,
    Product,
    ProductBarcode,
    ProductModifier,
    Register,
    StockLevel,
    Tenant,
)

DEMO_PASSWORD = "demo1234"  # noqa: S105 - printed for the demo; never used for real tenants
DEMO_MANAGER_PIN = "2468"  # the managers' PIN that approves a cashier's return at the till


@dataclass(frozen=True, slots=True)
class DemoLogin:
    tenant: str
    username: str
    role: str


MINIMARKET = {"slug": "donarosa", "name": "Minimarket Doña Rosa", "tax_id": "76.354.771-K"}
RESTAURANT = {"slug": "guayaquilena", "name": "Restaurante La Guayaquileña", "tax_id": "0992397535001"}
MINIMARKET_USERS = [
    ("dueno", "owner", "Rosa Pérez"),
    ("encargado", "manager", "Jorge Soto"),
    ("caja1", "cashier", "Camila Rojas"),
    ("caja2", "cashier", "Matías Díaz"),
]
RESTAURANT_USERS = [
    ("duena", "owner", "María Vera"),
    ("mesero", "cashier", "Luis Mora"),
    ("cocina", "kitchen", "Ana Castro"),
]


MINIMARKET_FISCAL = SetupData(
    rut="76354771-K",  # the tenant's tax id
    sender_rut="13185095-6",  # Rosa Pérez, authorised to send; her certificate signs
    razon_social="Minimarket Doña Rosa SpA",
    giro="Venta al por menor de alimentos en minimarkets",
    acteco=[471100],
    address="Av. Irarrázaval 2840",
    comuna="Ñuñoa",
    city="Santiago",
    email="dona.rosa@example.cl",
    resolution_number=0,  # SII's certification environment
    resolution_date=date(2014, 8, 22),
)
MINIMARKET_CERTIFICATE_HOLDER = "Rosa Pérez (certificado de prueba)"
# Folio ranges per document type: boletas, facturas, notas de crédito.
MINIMARKET_CAFS = ((39, 1, 1000), (33, 1, 500), (61, 1, 200))


def search_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


async def seed_demo(db: Database, *, reset: bool = False, secret_key: str | None = None) -> list[DemoLogin]:
    """Create the demo tenants that are missing. ``secret_key`` defaults to ``STOREHUB_SECRET_KEY``; without
    one nothing is written (fiscal.keys.MissingSecretKeyError)."""
    if secret_key is None:
        secret_key = os.environ.get("STOREHUB_SECRET_KEY", "")
    key = at_rest_key(secret_key)
    logins: list[DemoLogin] = []
    for spec, users, builder in (
        (MINIMARKET, MINIMARKET_USERS, _fill_minimarket),
        (RESTAURANT, RESTAURANT_USERS, _fill_restaurant),
    ):
        existing = await db.tenant_id_by_slug(spec["slug"])
        if existing is not None and reset:
            async with db.tenant(existing) as session:
                await session.execute(delete(Tenant).where(Tenant.id == existing))
            existing = None
        if existing is None:
            country = "CL" if spec is MINIMARKET else "EC"
            mode = "retail" if spec is MINIMARKET else "restaurant"
            store = "Local Ñuñoa" if spec is MINIMARKET else "Local Urdesa"
            new = await create_tenant(
                db,
                slug=spec["slug"],
                name=spec["name"],
                country=country,
                tax_id=spec["tax_id"],
                store_name=store,
                store_mode=mode,
            )
            await builder(db, new.tenant_id, new.store_id, new.warehouse_id, new.register_id)
            if spec is MINIMARKET:
                await fiscal_ready(db, new.tenant_id, key)
            for username, role, display in users:
                await create_user(
                    db,
                    tenant_slug=spec["slug"],
                    username=username,
                    role=role,
                    password=DEMO_PASSWORD,
                    display_name=display,
                    pin=DEMO_MANAGER_PIN if role == "manager" else None,
                )
        logins += [DemoLogin(spec["slug"], u, r) for u, r, _ in users]
    return logins


async def _fill_minimarket(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, warehouse_id: uuid.UUID, register_id: uuid.UUID
) -> None:
    rows = [(cat, name, price, "kg", True) for cat, items in WEIGHED.items() for name, price in items]
    for cat, items in PACKAGED.items():
        for name, price, sizes in items:
            for brand, pct in BRAND_LINES:
                for size in sizes:
                    full = " ".join(p for p in (name, brand, size) if p)
                    rows.append((cat, full, (price * pct + 500) // 1000 * 10, "unit", False))
    progress = Progress("Minimarket catalog", len(rows))
    async with db.tenant(tenant_id) as session:
        register2 = Register(tenant_id=tenant_id, store_id=store_id, code="2", name="Caja 2")
        session.add(register2)
        categories = _categories(session, tenant_id, list(dict.fromkeys(r[0] for r in rows)))
        await session.flush()
        for n, (cat, name, price, unit, weighable) in enumerate(rows, start=1):
            product = Product(
                id=uuid7(),
                tenant_id=tenant_id,
                sku=f"{n:05d}",
                name=name,
                search_name=search_name(name),
                category_id=categories[cat],
                price=int(price),
                tax_class="cl_iva",
                weighable=weighable,
                unit=unit,
                min_stock=2000 if weighable else 6000,
            )
            session.add(product)
            if not weighable:
                session.add(
                    ProductBarcode(
                        tenant_id=tenant_id, barcode=make_ean13(f"780{n:09d}"), product_id=product.id
                    )
                )
            quantity = 8000 if weighable else 24000  # 8 kg or 24 units
            cost_per_unit = price * 100 // 119 * 65 // 100  # net price less a 35 % margin
            session.add(
                StockLevel(
                    tenant_id=tenant_id,
                    warehouse_id=warehouse_id,
                    product_id=product.id,
                    quantity=quantity,
                    avg_cost=cost_per_unit * 10_000,
                )
            )
            progress.advance()
        session.add_all(
            [
                Device(
                    tenant_id=tenant_id,
                    store_id=store_id,
                    register_id=register_id,
                    kind="scale",
                    name="Balanza Caja 1",
                    config={"protocol": "toledo8217"},
                ),
                Device(
                    tenant_id=tenant_id,
                    store_id=store_id,
                    register_id=register_id,
                    kind="printer",
                    name="Impresora Caja 1",
                    config={"paper_mm": 80},
                ),
            ]
        )
    progress.finish()


async def fiscal_ready(
    db: Database,
    tenant_id: uuid.UUID,
    key: bytes,
    cafs: tuple[tuple[int, int, int], ...] = MINIMARKET_CAFS,
) -> None:
    """Emitter data, the sender's test certificate and the simulator's CAFs (``(doc_type, first, last)``
    each), through the API's services: the minimarket's, so the tenant's tax id must be its RUT. The demo
    and the benchmarks make their Chilean tenant sign and submit its documents with it."""
    setup = MINIMARKET_FISCAL
    await save_setup(db, tenant_id, setup)
    password = secrets.token_urlsafe(16)  # sealed with the .pfx; nobody needs to type it
    pfx = make_test_certificate(setup.sender_rut, MINIMARKET_CERTIFICATE_HOLDER, password)
    await upload_certificate(db, tenant_id, pfx, password, key=key, user_id=None)
    authority = simulator_authority()
    today = datetime.now(ZoneInfo("America/Santiago")).date()
    for doc_type, first, last in cafs:
        caf = authority.issue_caf(setup.rut, setup.razon_social, doc_type, first, last, today)
        await upload_caf(
            db, tenant_id, caf, authority_keys=authority.keys, key=key, user_id=None, today=today
        )


async def _fill_restaurant(
    db: Database, tenant_id: uuid.UUID, store_id: uuid.UUID, warehouse_id: uuid.UUID, register_id: uuid.UUID
) -> None:
    total = sum(len(items) for items in MENU.values())
    progress = Progress("Restaurant menu", total)
    async with db.tenant(tenant_id) as session:
        categories = _categories(session, tenant_id, list(MENU))
        stations: dict[str, uuid.UUID] = {}
        for code, name, _ in STATIONS:
            stations[code] = uuid7()
            session.add(
                KitchenStation(
                    id=stations[code], tenant_id=tenant_id, store_id=store_id, code=code, name=name
                )
            )
        await session.flush()
        # Default routing: each category to the station that cooks it (the back office can change it).
        session.add_all(
            KitchenRoute(
                tenant_id=tenant_id, store_id=store_id, category_id=categories[cat], station_id=stations[code]
            )
            for code, _, routed in STATIONS
            for cat in routed
        )
        n = 0
        dishes: dict[str, uuid.UUID] = {}
        for cat, items in MENU.items():
            for name, net in items:
                n += 1
                dishes[name] = uuid7()
                session.add(
                    Product(
                        id=dishes[name],
                        tenant_id=tenant_id,
                        sku=f"M{n:03d}",
                        name=name,
                        search_name=search_name(name),
                        category_id=categories[cat],
                        price=(net * 115 + 50) // 100,
                        tax_class="ec_iva15",
                        weighable=False,
                        unit="unit",
                    )
                )
                progress.advance()
        await session.flush()
        session.add_all(
            ProductModifier(
                tenant_id=tenant_id, product_id=dishes[dish], group_name=group, name=name, price_delta=delta,
                position=position,
            )
            for dish, options in MODIFIERS.items()
            for position, (group, name, delta) in enumerate(options)
        )  # fmt: skip
        # Restaurant mode: the floor plan the waiters open tabs on.
        for position, (area_name, tables) in enumerate(FLOOR.items()):
            area = FloorArea(
                id=uuid7(), tenant_id=tenant_id, store_id=store_id, name=area_name, position=position
            )
            session.add(area)
            await session.flush()
            session.add_all(
                FloorTable(
                    tenant_id=tenant_id, store_id=store_id, area_id=area.id, name=name, seats=seats, x=x, y=y,
                    shape=shape, active=True,
                )
                for name, seats, x, y, shape in tables
            )  # fmt: skip
        session.add(
            Device(
                tenant_id=tenant_id,
                store_id=store_id,
                register_id=register_id,
                kind="printer",
                name="Impresora comandas",
                config={"paper_mm": 80},
            )
        )
    progress.finish()


def _categories(session: AsyncSession, tenant_id: uuid.UUID, names: list[str]) -> dict[str, uuid.UUID]:
    ids: dict[str, uuid.UUID] = {}
    for sort, name in enumerate(names):
        ids[name] = uuid7()
        session.add(Category(id=ids[name], tenant_id=tenant_id, name=name, sort=sort))
    return ids
