"""SQLAlchemy models. Every tenant table's primary key starts with ``tenant_id``."""

from schema.models.base import Base, TenantScoped
from schema.models.catalog import Category, Product, ProductBarcode, StockLevel
from schema.models.devices import Device, PrintJob
from schema.models.fiscal import CafFile, FiscalCertificate, FiscalEnvelope, FiscalSetup
from schema.models.identity import ApiToken, AuthSession, Role, User
from schema.models.kitchen import KitchenItem, KitchenRoute, KitchenSettings, KitchenTicket
from schema.models.outbox import OutboxEvent
from schema.models.restaurant import (
    FloorArea,
    FloorSettings,
    FloorTable,
    ProductModifier,
    Tab,
    TabItem,
)
from schema.models.sales import (
    CashMovement,
    CashSession,
    Counter,
    FiscalDocument,
    FolioRange,
    Sale,
    SaleLine,
    SaleTender,
    StockMovement,
)
from schema.models.tenancy import KitchenStation, Register, Store, Tenant, Warehouse

# Tables protected by Row-Level Security on Postgres, with the column holding the tenant id.
TENANT_TABLES: dict[str, str] = {"tenants": "id"} | {
    m.__tablename__: "tenant_id"
    for m in (
        Warehouse,
        Store,
        Register,
        KitchenStation,
        KitchenRoute,
        KitchenSettings,
        KitchenTicket,
        KitchenItem,
        FloorSettings,
        FloorArea,
        FloorTable,
        ProductModifier,
        Tab,
        TabItem,
        User,
        AuthSession,
        ApiToken,
        Device,
        PrintJob,
        Category,
        Product,
        ProductBarcode,
        StockLevel,
        OutboxEvent,
        Counter,
        CashSession,
        CashMovement,
        Sale,
        SaleLine,
        SaleTender,
        StockMovement,
        FolioRange,
        FiscalDocument,
        FiscalSetup,
        FiscalCertificate,
        CafFile,
        FiscalEnvelope,
    )
}

__all__ = [
    "TENANT_TABLES",
    "ApiToken",
    "AuthSession",
    "Base",
    "CafFile",
    "CashMovement",
    "CashSession",
    "Category",
    "Counter",
    "Device",
    "FiscalCertificate",
    "FiscalDocument",
    "FiscalEnvelope",
    "FiscalSetup",
    "FloorArea",
    "FloorSettings",
    "FloorTable",
    "FolioRange",
    "KitchenItem",
    "KitchenRoute",
    "KitchenSettings",
    "KitchenStation",
    "KitchenTicket",
    "OutboxEvent",
    "PrintJob",
    "Product",
    "ProductBarcode",
    "ProductModifier",
    "Register",
    "Role",
    "Sale",
    "SaleLine",
    "SaleTender",
    "StockLevel",
    "StockMovement",
    "Store",
    "Tab",
    "TabItem",
    "Tenant",
    "TenantScoped",
    "User",
    "Warehouse",
]
