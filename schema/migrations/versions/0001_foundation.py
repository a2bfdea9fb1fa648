"""Foundation: the first tables, and on PostgreSQL the tenant isolation around them.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Tables
    Exactly what ``schema.models`` defined when this was written (generated, then reviewed). Every tenant
    table's primary key starts with ``tenant_id`` (``tenants``: ``id``).

PostgreSQL only
    Roles (cluster-wide, so created only when missing and never dropped here: other databases of the
    cluster may use them):

    ``storehub_app``    NOLOGIN, no superuser, no BYPASSRLS. The hub's login role switches to it at the
                        start of every transaction (``hub.db``); it may SELECT/INSERT/UPDATE/DELETE the
                        tables and execute the two lookup functions, nothing else.
    ``storehub_lookup`` NOLOGIN, no superuser, no BYPASSRLS. Owns the two SECURITY DEFINER functions and
                        may read only ``tenants(id, slug)`` and ``outbox(tenant_id, published_at)``.

    Row-Level Security is enabled and FORCEd (so the tables' owner is subject too) on every tenant table,
    with one policy ``tenant_isolation`` for all commands and all roles::

        <tenant column> = NULLIF(current_setting('storehub.tenant_id', true), '')::uuid

    in both USING and WITH CHECK: a transaction without the setting sees no row and can write none.
    ``tenants`` and ``outbox`` also have a read-only policy ``storehub_lookup`` that admits every row only
    while ``current_user`` is ``storehub_lookup``, which is the case only inside the two functions.

    ``storehub_tenant_by_slug(slug)`` and ``storehub_tenants_with_pending_outbox()`` are the only ways
    across tenants (login by slug, the outbox relay). They are SECURITY DEFINER functions owned by
    ``storehub_lookup`` with a fixed search_path; EXECUTE is revoked from PUBLIC and granted to
    ``storehub_app``. Owning them by a dedicated role rather than the migrating role keeps FORCE meaningful
    for the owner (the owner outside ``storehub_app`` sees no rows either) and does not depend on the
    owner being a superuser or having BYPASSRLS: superusers bypass RLS, so functions owned by one would
    have worked in tests while failing in production.

    Production expectation. Run migrations as the role that owns the database (and its ``public``
    schema), which must either be a superuser, or have CREATEROLE and thereby create the two roles and
    grant them to itself, or, when a DBA creates the roles beforehand, already be a member of both (on
    PostgreSQL 16+ a CREATEROLE role may only grant roles it has ADMIN OPTION on). Membership in
    ``storehub_lookup`` is needed to hand it the functions; membership in ``storehub_app`` lets the hub's
    login role ``SET ROLE storehub_app``: when the hub logs in as a role other than the migrating one,
    ``GRANT storehub_app TO <that role>``. Neither superuser nor BYPASSRLS is needed, and the hub's login
    role should have neither (a superuser login still works, since every transaction switches to
    ``storehub_app``, but it would bypass RLS wherever code goes around ``hub.db``).

Adding a tenant table in a later migration (the isolation tests fail until it is done)::

    ALTER TABLE t ENABLE ROW LEVEL SECURITY; ALTER TABLE t FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON t FOR ALL USING (<same expression>) WITH CHECK (<same expression>);
    GRANT SELECT, INSERT, UPDATE, DELETE ON t TO storehub_app;
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "storehub_app"
LOOKUP_ROLE = "storehub_lookup"

# Frozen copy of schema.models.TENANT_TABLES as of this revision: table -> column holding the tenant id.
TENANT_TABLES = {
    "tenants": "id",
    "warehouses": "tenant_id",
    "stores": "tenant_id",
    "registers": "tenant_id",
    "kitchen_stations": "tenant_id",
    "users": "tenant_id",
    "auth_sessions": "tenant_id",
    "api_tokens": "tenant_id",
    "devices": "tenant_id",
    "categories": "tenant_id",
    "products": "tenant_id",
    "product_barcodes": "tenant_id",
    "stock_levels": "tenant_id",
    "outbox": "tenant_id",
}

TENANT_FILTER = "{column} = NULLIF(current_setting('storehub.tenant_id', true), '')::uuid"


def upgrade() -> None:
    create_tables()
    if op.get_bind().dialect.name == "postgresql":
        secure_postgres()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        unsecure_postgres()
    drop_tables()


def create_tables() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tax_id", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("stock_policy", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("country IN ('CL', 'EC')", name=op.f("ck_tenants_country")),
        sa.CheckConstraint("stock_policy IN ('allow', 'block')", name=op.f("ck_tenants_stock_policy")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
    )
    op.create_table(
        "categories",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("sort", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_categories_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_categories")),
    )
    op.create_table(
        "outbox",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("stream", sa.String(length=80), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_outbox_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "id"], unique=False)
    op.create_table(
        "warehouses",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_warehouses_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_warehouses")),
    )
    op.create_table(
        "products",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("search_name", sa.String(length=200), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("tax_class", sa.String(length=10), nullable=False),
        sa.Column("weighable", sa.Boolean(), nullable=False),
        sa.Column("unit", sa.String(length=4), nullable=False),
        sa.Column("min_stock", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "tax_class IN ('cl_iva', 'cl_exempt', 'ec_iva15', 'ec_iva5', 'ec_iva0', 'ec_exempt')",
            name=op.f("ck_products_tax_class"),
        ),
        sa.CheckConstraint("unit IN ('unit', 'kg')", name=op.f("ck_products_unit")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_products_price_nonnegative")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["categories.tenant_id", "categories.id"],
            name=op.f("fk_products_tenant_id_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_products_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_products")),
    )
    op.create_index("ix_products_tenant_search", "products", ["tenant_id", "search_name"], unique=False)
    op.create_index("ix_products_tenant_sku", "products", ["tenant_id", "sku"], unique=True)
    op.create_table(
        "stores",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=80), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('retail', 'restaurant')", name=op.f("ck_stores_mode")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "warehouse_id"],
            ["warehouses.tenant_id", "warehouses.id"],
            name=op.f("fk_stores_tenant_id_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_stores_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stores")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_stores_tenant_id_code")),
    )
    op.create_table(
        "kitchen_stations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "store_id"],
            ["stores.tenant_id", "stores.id"],
            name=op.f("fk_kitchen_stations_tenant_id_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_kitchen_stations")),
        sa.UniqueConstraint(
            "tenant_id", "store_id", "code", name=op.f("uq_kitchen_stations_tenant_id_store_id_code")
        ),
    )
    op.create_table(
        "product_barcodes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("barcode", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name=op.f("fk_product_barcodes_tenant_id_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "barcode", name=op.f("pk_product_barcodes")),
    )
    op.create_table(
        "registers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "store_id"],
            ["stores.tenant_id", "stores.id"],
            name=op.f("fk_registers_tenant_id_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_registers")),
        sa.UniqueConstraint(
            "tenant_id", "store_id", "code", name=op.f("uq_registers_tenant_id_store_id_code")
        ),
    )
    op.create_table(
        "stock_levels",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name=op.f("fk_stock_levels_tenant_id_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "warehouse_id"],
            ["warehouses.tenant_id", "warehouses.id"],
            name=op.f("fk_stock_levels_tenant_id_warehouse_id_warehouses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "warehouse_id", "product_id", name=op.f("pk_stock_levels")),
    )
    op.create_table(
        "users",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'manager', 'cashier', 'kitchen')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "store_id"],
            ["stores.tenant_id", "stores.id"],
            name=op.f("fk_users_tenant_id_store_id_stores"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_users_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_users")),
        sa.UniqueConstraint("tenant_id", "username", name=op.f("uq_users_tenant_id_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_api_tokens_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_api_tokens")),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_auth_sessions_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_auth_sessions")),
    )
    op.create_table(
        "devices",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("register_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("pairing_code_hash", sa.String(length=64), nullable=True),
        sa.Column("pairing_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("paired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('scale', 'printer', 'drawer', 'agent')", name=op.f("ck_devices_kind")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "register_id"],
            ["registers.tenant_id", "registers.id"],
            name=op.f("fk_devices_tenant_id_register_id_registers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "store_id"],
            ["stores.tenant_id", "stores.id"],
            name=op.f("fk_devices_tenant_id_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_devices_token_hash")),
    )


def drop_tables() -> None:
    for table in (
        "devices",
        "auth_sessions",
        "api_tokens",
        "users",
        "stock_levels",
        "registers",
        "product_barcodes",
        "kitchen_stations",
        "stores",
        "products",
        "warehouses",
        "outbox",
        "categories",
        "tenants",
    ):
        op.drop_table(table)  # indexes go with their table


def secure_postgres() -> None:
    bind = op.get_bind()
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    q = bind.dialect.identifier_preparer.quote
    s = q(schema)
    tables = ", ".join(q(t) for t in TENANT_TABLES)

    # Roles are cluster-wide: another database (or a concurrent migration) may have made them already.
    op.execute(
        f"""
        DO $$
        DECLARE
            role_name text;
        BEGIN
            FOREACH role_name IN ARRAY ARRAY['{APP_ROLE}', '{LOOKUP_ROLE}'] LOOP
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
                    BEGIN
                        EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS', role_name);
                    EXCEPTION WHEN duplicate_object OR unique_violation THEN
                        NULL;  -- created by a concurrent transaction
                    END;
                END IF;
                IF EXISTS (SELECT FROM pg_roles WHERE rolname = role_name AND (rolsuper OR rolbypassrls)) THEN
                    RAISE EXCEPTION 'role % is a superuser or bypasses RLS: no isolation', role_name;
                END IF;
                IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                        AND NOT pg_has_role(current_user, role_name, 'MEMBER') THEN
                    EXECUTE format('GRANT %I TO %I', role_name, current_user);
                END IF;
            END LOOP;
        END
        $$
        """
    )

    op.execute(f"GRANT USAGE ON SCHEMA {s} TO {APP_ROLE}, {LOOKUP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {tables} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {APP_ROLE}")

    for table, column in TENANT_TABLES.items():
        t = q(table)
        check = TENANT_FILTER.format(column=q(column))
        op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {t} FOR ALL USING ({check}) WITH CHECK ({check})")

    # The definer functions run as storehub_lookup: it reads only the columns it needs, and only there.
    op.execute(f"GRANT SELECT (id, slug) ON TABLE {s}.tenants TO {LOOKUP_ROLE}")
    op.execute(f"GRANT SELECT (tenant_id, published_at) ON TABLE {s}.outbox TO {LOOKUP_ROLE}")
    for table in ("tenants", "outbox"):
        op.execute(
            f"CREATE POLICY {LOOKUP_ROLE} ON {s}.{table} FOR SELECT TO {LOOKUP_ROLE} "
            f"USING (current_user = '{LOOKUP_ROLE}')"
        )

    search_path = f"pg_catalog, {s}, pg_temp"
    op.execute(
        f"""
        CREATE FUNCTION {s}.storehub_tenant_by_slug(slug text) RETURNS uuid
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {search_path}
            AS $$ SELECT id FROM {s}.tenants WHERE tenants.slug = $1 $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION {s}.storehub_tenants_with_pending_outbox() RETURNS SETOF uuid
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {search_path}
            AS $$ SELECT DISTINCT tenant_id FROM {s}.outbox WHERE published_at IS NULL $$
        """
    )
    functions = f"{s}.storehub_tenant_by_slug(text), {s}.storehub_tenants_with_pending_outbox()"
    op.execute(f"REVOKE ALL ON FUNCTION {functions} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {functions} TO {APP_ROLE}")
    # A non-superuser may give a function away only to a role that can create in its schema; lend that
    # privilege for the hand-over if storehub_lookup does not have it already.
    op.execute(
        f"""
        DO $$
        DECLARE
            lend boolean := NOT has_schema_privilege('{LOOKUP_ROLE}', current_schema(), 'CREATE');
        BEGIN
            IF lend THEN
                EXECUTE format('GRANT CREATE ON SCHEMA %I TO {LOOKUP_ROLE}', current_schema());
            END IF;
            ALTER FUNCTION {s}.storehub_tenant_by_slug(text) OWNER TO {LOOKUP_ROLE};
            ALTER FUNCTION {s}.storehub_tenants_with_pending_outbox() OWNER TO {LOOKUP_ROLE};
            IF lend THEN
                EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM {LOOKUP_ROLE}', current_schema());
            END IF;
        END
        $$
        """
    )


def unsecure_postgres() -> None:
    """Drop what would outlive the tables; policies and table grants go with the tables, roles stay."""
    bind = op.get_bind()
    s = bind.dialect.identifier_preparer.quote(
        bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    )
    op.execute(f"DROP FUNCTION IF EXISTS {s}.storehub_tenants_with_pending_outbox()")
    op.execute(f"DROP FUNCTION IF EXISTS {s}.storehub_tenant_by_slug(text)")
    op.execute(f"REVOKE USAGE ON ALL SEQUENCES IN SCHEMA {s} FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA {s} FROM {APP_ROLE}, {LOOKUP_ROLE}")
