"""The hub fixtures the device tests share with the gateway's tests (a real hub on SQLite and Postgres)."""

from tests.hub.gateway.conftest import database_url, world

__all__ = ["database_url", "world"]
