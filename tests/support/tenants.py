"""``make_tenant``: a complete tenant with one row (or more) in every tenant table, for any test to reuse.

Everything is written through ``db.tenant(tenant_id)``, so on Postgres it also proves the app role can
create a tenant under Row-Level Security. Secrets follow ``hub.auth.tokens``' formats: the database keeps
only the SHA-256 of each secret; the fixture returns the plain tokens so tests can authenticate.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import NamedTuple

from argon2 import PasswordHasher

from hub.db import Database
from schema.models import (
    ApiToken,
    AuthSession,
    CafFile,
    CashMovement,
    CashSession,
    Category,
    Counter,
    Device,
    FiscalCertificate,
    FiscalDocument,
    FiscalEnvelope,
    FiscalSetup,
    FloorArea,
    FloorSettings,
    FloorTable,
    FolioRange,
    KitchenItem,
    KitchenRoute,
    KitchenSettings,
    KitchenStation,
    KitchenTicket,
    OutboxEvent,
    PrintJob,
    Product,
    ProductBarcode,
    ProductModifier,
    Register,
    Role,
    Sale,
    SaleLine,
    SaleTender,
    StockLevel,
    StockMovement,
    Store,
    Tab,
    TabItem,
    Tenant,
    User,
    Warehouse,
)
from schema.models.base import new_id

PASSWORD = "correct horse battery staple"
PIN = "2468"


class _Country(NamedTuple):
    currency: str
    timezone: str
    tax_class: str
    price: int  # minor units
    city: str


_COUNTRY = {
    "CL": _Country("CLP", "America/Santiago", "cl_iva", 1290, "Santiago"),
    "EC": _Country("USD", "America/Guayaquil", "ec_iva15", 125, "Quito"),
}


@dataclass(frozen=True)
class TenantFixture:
    tenant_id: uuid.UUID
    slug: str
    country: str
    warehouse_id: uuid.UUID
    store_id: uuid.UUID
    register_id: uuid.UUID
    kitchen_station_id: uuid.UUID
    category_id: uuid.UUID
    product_id: uuid.UUID
    barcode: str
    users: dict[Role, uuid.UUID]
    usernames: dict[Role, str]
    api_token: str  # "shk_<tenant hex>_<secret>", belongs to the owner
    api_token_id: str  # sha256 of the secret
    session_cookie: str  # "<tenant hex>.<secret>", the owner's browser session
    auth_session_id: str
    csrf_token: str
    device_id: uuid.UUID
    device_token: str  # "shd_<tenant hex>_<secret>", a paired printer bound to the register
    outbox_id: uuid.UUID
    print_job_id: uuid.UUID
    password: str = PASSWORD  # every user's password
    pin: str = PIN  # every user's PIN
    # Rows created per table (name -> count); tests compare what a tenant can see against it.
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def owner_id(self) -> uuid.UUID:
        return self.users[Role.OWNER]

    @property
    def cashier_id(self) -> uuid.UUID:
        return self.users[Role.CASHIER]


@cache
def _hashes() -> tuple[str, str]:
    # Minimal Argon2id cost: verify() reads the cost from the hash, so these check fast and still verify
    # with the hub's normal hasher.
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return hasher.hash(PASSWORD), hasher.hash(PIN)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def rut(body: int) -> str:
    """A Chilean RUT with its check digit, normalised as ``12345678-5``."""
    total, factor = 0, 2
    for digit in reversed(str(body)):
        total += int(digit) * factor
        factor = 2 if factor == 7 else factor + 1
    check = 11 - total % 11
    digit = {10: "K", 11: "0"}.get(check, str(check))
    return f"{body}-{digit}"


def ruc(body: int) -> str:
    """An Ecuadorian RUC of a private company (third digit 9): 9 digits, mod-11 check digit, ``001``."""
    digits = f"179{body % 1_000_000:06d}"  # 17: Pichincha; 9: private company
    total = sum(int(d) * w for d, w in zip(digits, (4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True))
    check = (11 - total % 11) % 11
    if check == 10:  # no valid check digit for this body: take the next one
        return ruc(body + 1)
    return f"{digits}{check}001"


def ean13(prefix: str) -> str:
    body = prefix + "".join(str(secrets.randbelow(10)) for _ in range(12 - len(prefix)))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


async def make_tenant(db: Database, slug: str | None = None, country: str = "CL") -> TenantFixture:
    """Create a tenant with a warehouse, store, register, kitchen station, category, product with a barcode
    and a stock level, a user of each role, an API token, a browser session, a device, an outbox row, a
    served kitchen ticket and a floor plan with a paid tab."""
    if country not in _COUNTRY:
        raise ValueError(f"country must be one of {sorted(_COUNTRY)}")
    conf = _COUNTRY[country]
    tenant_id = new_id()
    slug = slug or f"t-{secrets.token_hex(5)}"
    password_hash, pin_hash = _hashes()
    now = datetime.now(UTC)
    tax_id = (
        rut(70_000_000 + secrets.randbelow(9_999_999)) if country == "CL" else ruc(secrets.randbelow(10**6))
    )

    warehouse = Warehouse(id=new_id(), name="Bodega central")
    store = Store(id=new_id(), code="001", name="Casa matriz", warehouse_id=warehouse.id, city=conf.city)
    register = Register(id=new_id(), store_id=store.id, code="001", name="Caja 1")
    station = KitchenStation(id=new_id(), store_id=store.id, code="HOT", name="Cocina caliente")
    category = Category(id=new_id(), name="Almacén", sort=1)
    product = Product(
        id=new_id(),
        sku="1001",
        name="Pan amasado",
        search_name="pan amasado",
        category_id=category.id,
        price=conf.price,
        tax_class=conf.tax_class,
    )
    barcode = ProductBarcode(barcode=ean13("780" if country == "CL" else "786"), product_id=product.id)
    stock = StockLevel(
        warehouse_id=warehouse.id, product_id=product.id, quantity=50_000, avg_cost=800 * 10_000
    )
    users = {
        role: User(
            id=new_id(),
            username=role.value,
            display_name=role.value.title(),
            role=role.value,
            # Cashiers and kitchen staff work in one store; owners and managers in all of them.
            store_id=store.id if role in (Role.CASHIER, Role.KITCHEN) else None,
            password_hash=password_hash,
            pin_hash=pin_hash,
        )
        for role in Role
    }
    owner = users[Role.OWNER]
    token_secret, session_secret, device_secret = (secrets.token_hex(32) for _ in range(3))
    api_token = ApiToken(id=_digest(token_secret), user_id=owner.id, name="tests")
    auth_session = AuthSession(
        id=_digest(session_secret),
        user_id=owner.id,
        csrf_token=secrets.token_hex(32),
        expires_at=now + timedelta(hours=12),
    )
    device = Device(
        id=new_id(),
        store_id=store.id,
        register_id=register.id,
        kind="printer",
        name="Impresora caja 1",
        config={"transport": "file"},
        token_hash=_digest(device_secret),
        paired_at=now,
    )
    outbox = OutboxEvent(id=new_id(), stream="tenant", event="TenantCreated", payload={"slug": slug})
    # A sale of one product, made in an open cash session, with its ledger row and pending document.
    cash_session = CashSession(id=new_id(), register_id=register.id, opened_by=owner.id, float_amount=10_000)
    cash_movement = CashMovement(
        id=new_id(), session_id=cash_session.id, direction="in", amount=5_000, reason="sencillo"
    )
    sale = Sale(
        id=new_id(), number=1, register_id=register.id, store_id=store.id, cash_session_id=cash_session.id,
        user_id=owner.id, command_id="make-tenant-1", doc_type=39, folio=1, total=conf.price,
        to_pay=conf.price, taxes=[], cost=800,
    )  # fmt: skip
    sale_line = SaleLine(
        sale_id=sale.id, line_no=1, product_id=product.id, sku=product.sku, name=product.name, unit="unit",
        tax_class=conf.tax_class, quantity=1000, unit_price=conf.price, total=conf.price, cost=800,
    )  # fmt: skip
    sale_tender = SaleTender(sale_id=sale.id, n=1, kind="card", amount=conf.price, tendered=conf.price)
    movement = StockMovement(
        id=new_id(), warehouse_id=warehouse.id, product_id=product.id, kind="sale", quantity=-1000, cost=800,
        avg_cost_after=800 * 10_000, quantity_after=49_000, ref_id=sale.id,
    )  # fmt: skip
    folios = FolioRange(id=new_id(), doc_type=39, first_folio=1, last_folio=100, next_folio=2)
    counter = Counter(name="sale", value=1)
    tab_counter = Counter(name="tab", value=1)  # the tab below is number 1
    # Its fiscal setup (placeholder secrets: these rows are about isolation, not cryptography).
    setup = FiscalSetup(
        rut=tax_id if country == "CL" else "76354771-K", sender_rut="13185095-6",
        razon_social=f"Tienda {slug} SpA", giro="Comercio",
        acteco=[471100], address="Av. Siempre Viva 742", comuna="Santiago", resolution_date=date(2014, 8, 22),
    )  # fmt: skip
    certificate = FiscalCertificate(
        id=new_id(), rut="13185095-6", holder="Firma de prueba", not_after=now + timedelta(days=365),
        sealed_pfx=b"sealed-pfx", sealed_password=b"sealed-password",
    )  # fmt: skip
    caf = CafFile(
        id=new_id(), doc_type=39, first_folio=1, last_folio=100, authorized=date(2026, 11, 1), idk=100,
        sealed_xml=b"sealed-caf", folio_range_id=folios.id,
    )  # fmt: skip
    envelope = FiscalEnvelope(
        id=new_id(), kind="boleta", documents=1, xml=b"<EnvioBOLETA/>", digest="0" * 64, status="done",
        track_id="123456", authority_state="EPR",
    )  # fmt: skip
    # Printed already (final), so a printer's DeviceActor has nothing to resume.
    print_job = PrintJob(
        id=new_id(), device_id=device.id, register_id=register.id, kind="receipt", source_id=sale.id,
        data=b"\x1b@recibo", state="printed", printed_at=now,
    )  # fmt: skip
    # The kitchen: the category routed to the station, and one ticket of one item, served already (final),
    # so the station's KitchenActor has nothing open to resume.
    route = KitchenRoute(store_id=store.id, category_id=category.id, station_id=station.id)
    kitchen_settings = KitchenSettings(station_id=station.id, rev=1)
    ticket = KitchenTicket(
        id=new_id(), station_id=station.id, store_id=store.id, order_id=new_id(), table_label="4",
        server="Mesero", state="served", rev=1, created_at=now, started_at=now, ready_at=now, served_at=now,
    )  # fmt: skip
    ticket_item = KitchenItem(
        ticket_id=ticket.id, line_no=1, product_id=product.id, name=product.name, quantity=1000,
        modifiers=["sin sal"], state="served",
    )  # fmt: skip
    # Restaurant mode: a floor with one table, a modifier, and a tab paid by the sale (closed, so a store's
    # FloorActor has nothing open to deliver).
    floor_settings = FloorSettings(store_id=store.id, rev=2)
    area = FloorArea(id=new_id(), store_id=store.id, name="Salón", position=0)
    table = FloorTable(id=new_id(), store_id=store.id, area_id=area.id, name="M1", seats=4, x=10, y=20)
    modifier = ProductModifier(id=new_id(), product_id=product.id, group_name="Punto", name="tostado")
    tab = Tab(
        id=new_id(), store_id=store.id, table_id=table.id, number=1, status="closed", guests=2,
        opened_by=users[Role.CASHIER].id, closed_at=now, rev=2,
    )  # fmt: skip
    tab_item = TabItem(
        tab_id=tab.id, n=1, product_id=product.id, name=product.name, unit_price=conf.price, quantity=1000,
        modifiers=[{"group": "Punto", "name": "tostado", "price_delta": 0}], sent_at=now, sale_id=sale.id,
    )  # fmt: skip
    # Final, so the hub's fiscal sweep leaves these placeholder rows alone.
    document = FiscalDocument(
        id=new_id(), sale_id=sale.id, doc_type=39, folio=1, envelope_id=envelope.id, status="accepted",
        authority_state="DOK",
    )  # fmt: skip

    # One flush per layer: the models have no relationships to order the inserts by.
    layers: list[list[object]] = [
        [Tenant(id=tenant_id, slug=slug, name=f"Tienda {slug}", legal_name=f"Tienda {slug} SpA",
                country=country, tax_id=tax_id, currency=conf.currency, timezone=conf.timezone)],
        [warehouse, category],
        [store, product],
        [register, station, barcode, stock, *users.values(), floor_settings, area, modifier, tab_counter],
        [api_token, auth_session, device, outbox, cash_session, folios, counter, setup, certificate,
         route, kitchen_settings, ticket, table],
        [cash_movement, sale, movement, caf, envelope, print_job, ticket_item, tab],
        [sale_line, sale_tender, document, tab_item],
    ]  # fmt: skip
    async with db.tenant(tenant_id) as session:
        for layer in layers:
            session.add_all(layer)
            await session.flush()

    row_counts: dict[str, int] = {}
    for layer in layers:
        for obj in layer:
            table = type(obj).__table__.name  # type: ignore[attr-defined]
            row_counts[table] = row_counts.get(table, 0) + 1
    return TenantFixture(
        tenant_id=tenant_id,
        slug=slug,
        country=country,
        warehouse_id=warehouse.id,
        store_id=store.id,
        register_id=register.id,
        kitchen_station_id=station.id,
        category_id=category.id,
        product_id=product.id,
        barcode=barcode.barcode,
        users={role: user.id for role, user in users.items()},
        usernames={role: user.username for role, user in users.items()},
        api_token=f"shk_{tenant_id.hex}_{token_secret}",
        api_token_id=api_token.id,
        session_cookie=f"{tenant_id.hex}.{session_secret}",
        auth_session_id=auth_session.id,
        csrf_token=auth_session.csrf_token,
        device_id=device.id,
        device_token=f"shd_{tenant_id.hex}_{device_secret}",
        outbox_id=outbox.id,
        print_job_id=print_job.id,
        row_counts=row_counts,
    )


async def add_store(
    db: Database, tenant_id: uuid.UUID, code: str = "002"
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Another store of the tenant with its own warehouse and one register: (store, warehouse, register)."""
    async with db.tenant(tenant_id) as session:
        warehouse = Warehouse(name=f"Bodega {code}")
        session.add(warehouse)
        await session.flush()
        store = Store(code=code, name=f"Sucursal {code}", warehouse_id=warehouse.id)
        session.add(store)
        await session.flush()
        register = Register(store_id=store.id, code="1", name="Caja 1")
        session.add(register)
        await session.flush()
        return store.id, warehouse.id, register.id
