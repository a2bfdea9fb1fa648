"""Log records: JSON lines with request and tenant ids, or text."""

from __future__ import annotations

import json
import logging
import sys

from hub.logs import bind_tenant, configure_logging, request_id_from, request_id_var
from tests.hub.conftest import make_settings


def _format(handler: logging.Handler, message: str, exc: bool = False) -> str:
    record = logging.LogRecord("hub.test", logging.WARNING, __file__, 1, message, (), None)
    if exc:
        try:
            raise ValueError("bad")
        except ValueError:
            record.exc_info = sys.exc_info()
    record.fields = {"status": 404}
    for f in handler.filters:
        assert not isinstance(f, logging.Filter) or f.filter(record)
    return handler.format(record)


def test_json_lines_carry_request_and_tenant() -> None:
    handler = configure_logging(make_settings("sqlite+aiosqlite:///:memory:", log_format="json"))
    try:
        token = request_id_var.set("req-1")
        bind_tenant("t-1")
        line = _format(handler, "hello %s")
        data = json.loads(line)
        assert data["msg"] == "hello %s" and data["level"] == "WARNING" and data["logger"] == "hub.test"
        assert data["request_id"] == "req-1" and data["tenant_id"] == "t-1" and data["status"] == 404
        assert data["ts"].endswith("+00:00")
        with_exc = json.loads(_format(handler, "oops", exc=True))
        assert "ValueError: bad" in with_exc["exc"]
        assert "\n" not in _format(handler, "one\nline")  # one object per line
        request_id_var.reset(token)
        bind_tenant(None)
    finally:
        logging.getLogger().removeHandler(handler)


def test_text_format_and_idempotent_setup() -> None:
    settings = make_settings("sqlite+aiosqlite:///:memory:")
    first = configure_logging(settings)
    second = configure_logging(settings)
    try:
        assert first not in logging.getLogger().handlers and second in logging.getLogger().handlers
        token = request_id_var.set("req-2")
        text = _format(second, "plain")
        assert "plain" in text and "request_id=req-2" in text and "status=404" in text
        request_id_var.reset(token)
    finally:
        logging.getLogger().removeHandler(second)


def test_request_ids_are_sanitised() -> None:
    assert request_id_from("abc-DEF_1.2:3") == "abc-DEF_1.2:3"
    for bad in (None, "", "a b", "x" * 129, "evil\ninjected"):
        generated = request_id_from(bad)
        assert len(generated) == 32 and generated != bad
