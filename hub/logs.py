"""Logging: ``text`` for people, ``json`` (one object per line) for machines.

Every record carries the request id of the HTTP request or WebSocket it belongs to and, once the caller
is authenticated, its tenant id. Both live in context variables set at the edge (``hub.security``) and by
``hub.auth.authenticate``, so code deep inside never passes them around.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

from hub.settings import Settings

request_id_var: ContextVar[str | None] = ContextVar("storehub_request_id", default=None)
tenant_id_var: ContextVar[str | None] = ContextVar("storehub_tenant_id", default=None)

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HANDLER_NAME = "storehub"
_encoder = msgspec.json.Encoder()


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is short and harmless, else a fresh one (no log injection)."""
    if header and _VALID_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def bind_tenant(tenant_id: uuid.UUID | str | None) -> None:
    tenant_id_var.set(str(tenant_id) if tenant_id is not None else None)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.tenant_id = tenant_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "tenant_id"):
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update({k: v for k, v in extra.items() if k not in data})
        return _encoder.encode(data).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s%(context)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{k}={v}" for k in ("request_id", "tenant_id") if (v := getattr(record, k, None))]
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            parts.extend(f"{k}={v}" for k, v in extra.items())
        record.context = " [" + " ".join(parts) + "]" if parts else ""
        return super().format(record)


def configure_logging(settings: Settings) -> logging.Handler:
    """Install (or replace) Storehub's handler on the root logger. Idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    return handler
