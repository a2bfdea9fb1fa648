"""Settings, read from ``STOREHUB_*`` environment variables only.

With nothing set, Storehub runs embedded: a SQLite file under ``./var/``, an in-process bus and relay.
Every variable is listed in ``ENV_VARS`` (the README's configuration table is checked against it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

import msgspec

from schema.errors import ValidationError


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///./var/storehub.db"
    redis_url: str = ""
    kafka_url: str = ""
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    log_level: str = "INFO"
    log_format: str = "text"
    session_hours: int = 12
    login_attempts_per_minute: int = 10
    ws_max_frame_bytes: int = 65536
    ws_mailbox_size: int = 256
    db_pool_size: int = 10
    ask_timeout_seconds: float = 5.0
    actor_idle_seconds: float = 600.0
    trust_proxy_headers: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tls(self) -> bool:
        """Whether browsers reach us over HTTPS (decides HSTS and secure cookies)."""
        return self.public_url.startswith("https://")


ENV_VARS: dict[str, str] = {
    "STOREHUB_DATABASE_URL": "SQLAlchemy URL. Default `sqlite+aiosqlite:///./var/storehub.db`; "
    "production: `postgresql+asyncpg://user@host/db`",
    "STOREHUB_REDIS_URL": "Redis URL for fan-out between hub nodes and login rate limits. Empty: in-process",
    "STOREHUB_KAFKA_URL": "Kafka bootstrap servers for the event stream. Empty: in-process relay",
    "STOREHUB_SECRET_KEY": "Secret for signing and encryption at rest (32+ chars). Empty: a random one per "
    "process (sessions end on restart), fine only for the demo",
    "STOREHUB_HOST": "Address `serve` binds. Default `127.0.0.1`",
    "STOREHUB_PORT": "Port `serve` binds. Default `8000`",
    "STOREHUB_PUBLIC_URL": "URL browsers use, e.g. `https://hub.example.cl`; `https://` turns on HSTS and "
    "`Secure` cookies",
    "STOREHUB_LOG_LEVEL": "DEBUG, INFO, WARNING, ERROR. Default INFO",
    "STOREHUB_LOG_FORMAT": "`text` or `json` (one JSON object per line). Default text",
    "STOREHUB_SESSION_HOURS": "Browser session lifetime. Default 12",
    "STOREHUB_LOGIN_ATTEMPTS_PER_MINUTE": "Failed logins allowed per account and per client address. "
    "Default 10",
    "STOREHUB_WS_MAX_FRAME_BYTES": "Largest WebSocket frame accepted. Default 65536",
    "STOREHUB_WS_MAILBOX_SIZE": "Outgoing frames queued per socket before it is dropped as too slow. "
    "Default 256",
    "STOREHUB_DB_POOL_SIZE": "Database connections per hub process. Default 10",
    "STOREHUB_ASK_TIMEOUT_SECONDS": "How long the gateway waits for an actor's answer. Default 5",
    "STOREHUB_ACTOR_IDLE_SECONDS": "Idle actors are passivated after this long. Default 600",
    "STOREHUB_TRUST_PROXY_HEADERS": "Trust X-Forwarded-For/-Proto from a reverse proxy. Default false",
}

_PREFIX = "STOREHUB_"


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment (or ``env``), then ``overrides``; bad values raise."""
    source = os.environ if env is None else env
    # STOREHUB_TEST_* belong to the test suite (which servers to use), not to the hub.
    unknown = sorted(
        k
        for k in source
        if k.startswith(_PREFIX) and k not in ENV_VARS and not k.startswith(_PREFIX + "TEST_")
    )
    if unknown:
        raise ValidationError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(ENV_VARS)}")
    raw: dict[str, Any] = {}
    for name in ENV_VARS:
        if name in source:
            raw[name.removeprefix(_PREFIX).lower()] = source[name]
    raw.update(overrides)
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationError(f"bad setting: {exc}") from exc
    if settings.secret_key and len(settings.secret_key) < 32:
        raise ValidationError("STOREHUB_SECRET_KEY must be at least 32 characters")
    if settings.log_format not in ("text", "json"):
        raise ValidationError("STOREHUB_LOG_FORMAT must be 'text' or 'json'")
    if not settings.secret_key:
        settings = msgspec.structs.replace(settings, secret_key=secrets.token_urlsafe(48))
    return settings
