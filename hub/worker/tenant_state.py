"""One tenant's dashboard state as a mapping of its own, stored in a shared faust Table.

The aggregate code (``actors.dashboard_totals``) works over any ``MutableMapping[str, Any]`` whose top-level
values it reads once and assigns back. In the worker, every tenant's state lives in one Table: this view
prefixes the keys with the tenant id, so one tenant's state never sees another's, and remembers its key
names under one more key so it can be iterated. The Table writes each assignment to its changelog topic,
in the partition of the event being processed: a tenant's keys follow its events' partition.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, MutableMapping
from typing import Any

_KEYS = "__keys__"


class TenantState(MutableMapping[str, Any]):
    def __init__(self, table: MutableMapping[str, Any], tenant_id: uuid.UUID) -> None:
        self.table = table
        self.prefix = f"{tenant_id}/"

    def _key(self, name: str) -> str:
        if name == _KEYS:
            raise KeyError(name)
        return self.prefix + name

    def _names(self) -> list[str]:
        names: list[str] = self.table.get(self.prefix + _KEYS, [])
        return names

    def __getitem__(self, name: str) -> Any:
        return self.table[self._key(name)]

    def __setitem__(self, name: str, value: Any) -> None:
        key = self._key(name)
        names = self._names()
        if name not in names:
            self.table[self.prefix + _KEYS] = [*names, name]
        self.table[key] = value

    def __delitem__(self, name: str) -> None:
        key = self._key(name)
        names = self._names()
        if name not in names:
            raise KeyError(name)
        del self.table[key]
        self.table[self.prefix + _KEYS] = [n for n in names if n != name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def replace(self, state: dict[str, Any]) -> None:
        """Make the state exactly ``state`` (a rebuild): keys it lacks are removed."""
        for name in [n for n in self._names() if n not in state]:
            del self[name]
        for name, value in state.items():
            self[name] = value
