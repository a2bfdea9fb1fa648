"""SQLAlchemy models. Every tenant table's primary key starts with ``tenant_id``."""

from schema.models.base import Base, TenantScoped
from schema.models.catalog import Category, Product, ProductBarcode, StockLevel
from schema.models.devices import Device
from schema.models.identity import ApiToken, AuthSession, Role, User
from schema.models.outbox import OutboxEvent
from schema.models.tenancy import KitchenStation, Register, Store, Tenant, Warehouse

# Tables protected by Row-Level Security on Postgres, with the column holding the tenant id.
TENANT_TABLES: dict[str, str] = {"tenants": "id"} | {
    m.__tablename__: "tenant_id"
    for m in (
        Warehouse,
        Store,
        Register,
        KitchenStation,
        User,
        AuthSession,
        ApiToken,
        Device,
        Category,
        Product,
        ProductBarcode,
        StockLevel,
        OutboxEvent,
    )
}

__all__ = [
    "TENANT_TABLES",
    "ApiToken",
    "AuthSession",
    "Base",
    "Category",
    "Device",
    "KitchenStation",
    "OutboxEvent",
    "Product",
    "ProductBarcode",
    "Register",
    "Role",
    "StockLevel",
    "Store",
    "Tenant",
    "TenantScoped",
    "User",
    "Warehouse",
]
