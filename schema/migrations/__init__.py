"""Alembic migrations. Run them with :func:`schema.migrate.upgrade` (or ``storehub migrate``)."""
