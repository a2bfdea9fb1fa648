"""Row helpers for tests that write raw rows: copy a row into another tenant without key collisions."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import Column, String, Table, UniqueConstraint

from schema.models import TENANT_TABLES


def fresh_copy(table: Table, row: dict[str, Any], tenant_value: uuid.UUID) -> dict[str, Any]:
    """``row`` moved to tenant ``tenant_value``, with new values in key and unique columns that are not
    foreign keys, so the copy collides with nothing (foreign keys still point at the original's rows)."""
    row = dict(row)
    tenant_column = TENANT_TABLES[table.name]
    row[tenant_column] = tenant_value
    keyish: set[Column[Any]] = set(table.primary_key.columns)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keyish.update(constraint.columns)
    for index in table.indexes:
        if index.unique:
            keyish.update(c for c in index.columns if isinstance(c, Column))
    for column in keyish:
        if column.name == tenant_column or column.foreign_keys:
            continue
        if isinstance(row[column.name], uuid.UUID):
            row[column.name] = uuid.uuid4()
        elif isinstance(column.type, String):
            row[column.name] = secrets.token_hex(min(column.type.length or 32, 32) // 2)
    return row
