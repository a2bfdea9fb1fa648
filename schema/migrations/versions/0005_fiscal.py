"""Fiscal: the taxpayer's setup, sealed certificates and CAF files, the envelopes sent to the authority,
and the pipeline's state on each fiscal document; a factura's buyer on its sale; an index for a sale's
credit notes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

``fiscal_setups``, ``fiscal_certificates``, ``caf_files`` and ``fiscal_envelopes`` are tenant tables: on
PostgreSQL they get the same forced Row-Level Security, policy and grants as in 0001_foundation (whose
docstring explains them). ``fiscal_documents`` gains the signed XML, its envelope, the authority's state,
attempts and the time of the next one; existing documents start pending with no attempts.

``storehub_tenants_with_fiscal_work(now)`` is a third SECURITY DEFINER lookup across tenants (see 0001):
the hub's periodic sweep wakes the fiscal pipeline of each tenant with documents or envelopes due.
``storehub_lookup`` may read only ``tenant_id``, ``status``, ``folio`` and ``next_attempt_at`` of the two
tables, and only inside the function.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "storehub_app"
LOOKUP_ROLE = "storehub_lookup"
NEW_TENANT_TABLES = ("fiscal_setups", "fiscal_certificates", "caf_files", "fiscal_envelopes")
TENANT_FILTER = "tenant_id = NULLIF(current_setting('storehub.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table('fiscal_certificates',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('rut', sa.String(length=12), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sealed_pfx', sa.LargeBinary(), nullable=False),
    sa.Column('sealed_password', sa.LargeBinary(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('uploaded_by', sa.Uuid(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_fiscal_certificates_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_fiscal_certificates'))
    )
    op.create_table('fiscal_envelopes',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('documents', sa.BigInteger(), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('track_id', sa.String(length=40), nullable=True),
    sa.Column('authority_state', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.BigInteger(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=400), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('boleta', 'dte')", name=op.f('ck_fiscal_envelopes_kind')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_fiscal_envelopes_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_fiscal_envelopes'))
    )
    with op.batch_alter_table('fiscal_envelopes', schema=None) as batch_op:
        batch_op.create_index('ix_fiscal_envelopes_due', ['tenant_id', 'status', 'next_attempt_at'], unique=False)

    op.create_table('fiscal_setups',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('rut', sa.String(length=12), nullable=False),
    sa.Column('sender_rut', sa.String(length=12), nullable=False),
    sa.Column('razon_social', sa.String(length=100), nullable=False),
    sa.Column('giro', sa.String(length=80), nullable=False),
    sa.Column('acteco', sa.JSON(), nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('comuna', sa.String(length=20), nullable=False),
    sa.Column('city', sa.String(length=20), nullable=False),
    sa.Column('branch_code', sa.BigInteger(), nullable=True),
    sa.Column('email', sa.String(length=80), nullable=False),
    sa.Column('resolution_number', sa.BigInteger(), nullable=False),
    sa.Column('resolution_date', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_fiscal_setups_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_fiscal_setups'))
    )
    op.create_table('caf_files',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('doc_type', sa.BigInteger(), nullable=False),
    sa.Column('first_folio', sa.BigInteger(), nullable=False),
    sa.Column('last_folio', sa.BigInteger(), nullable=False),
    sa.Column('authorized', sa.Date(), nullable=False),
    sa.Column('expires', sa.Date(), nullable=True),
    sa.Column('idk', sa.BigInteger(), nullable=False),
    sa.Column('sealed_xml', sa.LargeBinary(), nullable=False),
    sa.Column('folio_range_id', sa.Uuid(), nullable=False),
    sa.Column('uploaded_by', sa.Uuid(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'folio_range_id'], ['folio_ranges.tenant_id', 'folio_ranges.id'], name=op.f('fk_caf_files_tenant_id_folio_range_id_folio_ranges'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_caf_files_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_caf_files')),
    sa.UniqueConstraint('tenant_id', 'doc_type', 'first_folio', name=op.f('uq_caf_files_tenant_id_doc_type_first_folio'))
    )
    with op.batch_alter_table('fiscal_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('xml', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('envelope_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('authority_state', sa.String(length=8), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('attempts', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()))
        batch_op.alter_column('status',
               existing_type=sa.VARCHAR(length=20),
               type_=sa.String(length=24),
               existing_nullable=False)
        batch_op.create_index('ix_fiscal_documents_due', ['tenant_id', 'status', 'next_attempt_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_fiscal_documents_tenant_id_envelope_id_fiscal_envelopes'), 'fiscal_envelopes', ['tenant_id', 'envelope_id'], ['tenant_id', 'id'])

    with op.batch_alter_table('fiscal_documents', schema=None) as batch_op:  # defaults only filled old rows
        for column in ('authority_state', 'attempts', 'next_attempt_at', 'updated_at'):
            batch_op.alter_column(column, server_default=None)
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buyer', sa.JSON(), nullable=True))
        batch_op.create_index('ix_sales_original', ['tenant_id', 'original_sale_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        secure_postgres()


def secure_postgres() -> None:
    quote = op.get_bind().dialect.identifier_preparer.quote
    for table in NEW_TENANT_TABLES:
        t = quote(table)
        op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {t} FOR ALL USING ({TENANT_FILTER}) WITH CHECK ({TENANT_FILTER})"
        )
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {t} TO {APP_ROLE}")
    bind = op.get_bind()
    s = quote(bind.execute(sa.text("SELECT current_schema()")).scalar_one())
    for table, columns in (
        ("fiscal_documents", "tenant_id, status, folio, next_attempt_at"),
        ("fiscal_envelopes", "tenant_id, status, next_attempt_at"),
    ):
        op.execute(f"GRANT SELECT ({columns}) ON TABLE {s}.{table} TO {LOOKUP_ROLE}")
        op.execute(
            f"CREATE POLICY {LOOKUP_ROLE} ON {s}.{table} FOR SELECT TO {LOOKUP_ROLE} "
            f"USING (current_user = '{LOOKUP_ROLE}')"
        )
    op.execute(
        f"""
        CREATE FUNCTION {s}.storehub_tenants_with_fiscal_work(now timestamptz) RETURNS SETOF uuid
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {s}, pg_temp
            AS $$
                SELECT tenant_id FROM {s}.fiscal_documents
                 WHERE (status = 'pending' AND (folio IS NULL OR next_attempt_at <= $1)) OR status = 'signed'
                UNION
                SELECT tenant_id FROM {s}.fiscal_envelopes
                 WHERE status IN ('built', 'sent') AND next_attempt_at <= $1
            $$
        """
    )
    function = f"{s}.storehub_tenants_with_fiscal_work(timestamptz)"
    op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")
    op.execute(
        f"""
        DO $$
        DECLARE
            lend boolean := NOT has_schema_privilege('{LOOKUP_ROLE}', current_schema(), 'CREATE');
        BEGIN
            IF lend THEN
                EXECUTE format('GRANT CREATE ON SCHEMA %I TO {LOOKUP_ROLE}', current_schema());
            END IF;
            ALTER FUNCTION {function} OWNER TO {LOOKUP_ROLE};
            IF lend THEN
                EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM {LOOKUP_ROLE}', current_schema());
            END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        s = bind.dialect.identifier_preparer.quote(bind.execute(sa.text("SELECT current_schema()")).scalar_one())
        op.execute(f"DROP FUNCTION IF EXISTS {s}.storehub_tenants_with_fiscal_work(timestamptz)")
        op.execute(f"DROP POLICY IF EXISTS {LOOKUP_ROLE} ON {s}.fiscal_documents")
        op.execute(f"REVOKE SELECT ON TABLE {s}.fiscal_documents FROM {LOOKUP_ROLE}")
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_original')
        batch_op.drop_column('buyer')

    with op.batch_alter_table('fiscal_documents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_fiscal_documents_tenant_id_envelope_id_fiscal_envelopes'), type_='foreignkey')
        batch_op.drop_index('ix_fiscal_documents_due')
        batch_op.alter_column('status',
               existing_type=sa.String(length=24),
               type_=sa.VARCHAR(length=20),
               existing_nullable=False)
        batch_op.drop_column('updated_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('authority_state')
        batch_op.drop_column('envelope_id')
        batch_op.drop_column('xml')

    op.drop_table('caf_files')
    op.drop_table('fiscal_setups')
    with op.batch_alter_table('fiscal_envelopes', schema=None) as batch_op:
        batch_op.drop_index('ix_fiscal_envelopes_due')

    op.drop_table('fiscal_envelopes')
    op.drop_table('fiscal_certificates')
