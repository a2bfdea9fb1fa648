"""Settings, read from ``STOREHUB_*`` environment variables only.

With nothing set, Storehub runs embedded: a SQLite file under ``./var/``, an in-process bus and relay.
Every variable is listed in ``ENV_VARS`` (the README's configuration table is checked against it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
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
    sii_environment: str = "simulator"
    sii_simulator_url: str = "http://127.0.0.1:8090"
    sii_certs: str = ""
    sii_schemas_dir: str = ""
    folios_low: int = 50
    sii_timeout_seconds: float = 30.0
    fiscal_runner: str = "auto"
    fiscal_envelope_seconds: float = 2.0

    @property
    def fiscal_in_child(self) -> bool:
        """Whether ``storehub serve`` runs the fiscal pipeline in a child process (``hub.fiscal_process``)."""
        if self.fiscal_runner == "auto":
            # Signing and submitting every boleta, the child keeps the tills' and screens' tails lower even
            # on two CPUs (bench/fanout.py and bench/till_load.py, docs/architecture.md).
            return not self.is_sqlite
        return self.fiscal_runner == "process"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tls(self) -> bool:
        """Whether browsers reach us over HTTPS (decides HSTS and secure cookies)."""
        return self.public_url.startswith("https://")

    @property
    def sii_cert_paths(self) -> tuple[str, ...]:
        """SII's CAF-signing certificates (``STOREHUB_SII_CERTS``, comma-separated)."""
        return tuple(p.strip() for p in self.sii_certs.split(",") if p.strip())

    @property
    def sii_schemas_path(self) -> Path | None:
        """SII's XSD directory: ``STOREHUB_SII_SCHEMAS_DIR``, else ``../shared/reference/sii/schemas`` next to
        the repository if it exists, else None."""
        if self.sii_schemas_dir:
            return Path(self.sii_schemas_dir)
        default = _REPO_ROOT.parent / "shared" / "reference" / "sii" / "schemas"
        return default if default.is_dir() else None


ENV_VARS: dict[str, str] = {
    "STOREHUB_DATABASE_URL": "SQLAlchemy URL. Default `sqlite+aiosqlite:///./var/storehub.db`; "
    "production: `postgresql+asyncpg://user@host/db`",
    "STOREHUB_REDIS_URL": "Redis URL: the bus between hub nodes (live fan-out, replay window) and login rate "
    "limits. Empty: in-process",
    "STOREHUB_KAFKA_URL": "Kafka bootstrap servers: every committed event also goes to topic "
    "`storehub.events` (keyed by tenant) and the fiscal pipeline moves to `storehub worker`. "
    "Empty: in-process",
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
    "STOREHUB_SII_ENVIRONMENT": "Where Chilean documents go: `simulator` (default, the local SII simulator; "
    "CAFs must be signed by its key), `certification` or `production` (SII; CAFs must be signed by SII's "
    "keys in `STOREHUB_SII_CERTS`)",
    "STOREHUB_SII_SIMULATOR_URL": "Base URL of the SII simulator. Default `http://127.0.0.1:8090`",
    "STOREHUB_SII_CERTS": "Comma-separated paths of SII's CAF-signing certificates (`100.cer` "
    "certification, `300.cer` production). Required outside simulator mode",
    "STOREHUB_SII_SCHEMAS_DIR": "Directory of SII's XSD schemas. Empty: `../shared/reference/sii/schemas` "
    "next to the repository, if it exists",
    "STOREHUB_FISCAL_RUNNER": "Where a hub without Kafka runs the fiscal pipeline: `hub` (in its event "
    "loop), `process` (a child process it starts and restarts; Postgres only) or `auto` (default: "
    "`process` on Postgres, `hub` on SQLite)",
    "STOREHUB_FISCAL_ENVELOPE_SECONDS": "How long a signed Chilean document waits for others to share its "
    "envelope to SII (a full envelope of 100 leaves at once; signing, and so the receipt's stamp, is not "
    "delayed). 0 sends each as soon as it is signed. Default 2",
    "STOREHUB_FOLIOS_LOW": "Warn when fewer folios than this remain for a document type. Default 50",
    "STOREHUB_SII_TIMEOUT_SECONDS": "How long a request to SII may take before it is retried later (an "
    "upload is resent, the same bytes, after this plus 5 s if the hub died waiting). Default 30",
}

SII_ENVIRONMENTS = ("simulator", "certification", "production")
_REPO_ROOT = Path(__file__).resolve().parents[1]

_PREFIX = "STOREHUB_"


NOT_HUB_SETTINGS = frozenset({"STOREHUB_DEVICE_TOKEN"})


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment (or ``env``), then ``overrides``; bad values raise."""
    source = os.environ if env is None else env
    # STOREHUB_TEST_* belong to the test suite (which servers to use), not to the hub; the device agent's
    # token (``storehub devices``) is the agent's, not a hub setting.
    unknown = sorted(
        k
        for k in source
        if k.startswith(_PREFIX)
        and k not in ENV_VARS
        and k not in NOT_HUB_SETTINGS
        and not k.startswith(_PREFIX + "TEST_")
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
    if not 0 <= settings.fiscal_envelope_seconds <= 600:
        raise ValidationError("STOREHUB_FISCAL_ENVELOPE_SECONDS must be between 0 and 600")
    if settings.log_format not in ("text", "json"):
        raise ValidationError("STOREHUB_LOG_FORMAT must be 'text' or 'json'")
    _check_sii(settings)
    if not settings.secret_key:
        settings = msgspec.structs.replace(settings, secret_key=secrets.token_urlsafe(48))
    return settings


def _check_sii(settings: Settings) -> None:
    if settings.sii_environment not in SII_ENVIRONMENTS:
        raise ValidationError(f"STOREHUB_SII_ENVIRONMENT must be one of {', '.join(SII_ENVIRONMENTS)}")
    if settings.fiscal_runner not in ("auto", "hub", "process"):
        raise ValidationError("STOREHUB_FISCAL_RUNNER must be 'auto', 'hub' or 'process'")
    if settings.fiscal_runner == "process" and settings.is_sqlite:
        raise ValidationError("STOREHUB_FISCAL_RUNNER=process needs Postgres (SQLite has no notices)")
    if settings.folios_low < 0:
        raise ValidationError("STOREHUB_FOLIOS_LOW must be 0 or more")
    if not 0 < settings.sii_timeout_seconds <= 600:
        raise ValidationError("STOREHUB_SII_TIMEOUT_SECONDS must be more than 0 and at most 600")
    if settings.sii_environment != "simulator":
        if not settings.sii_cert_paths:
            raise ValidationError(
                f"STOREHUB_SII_CERTS is required when STOREHUB_SII_ENVIRONMENT is "
                f"{settings.sii_environment}: the paths of SII's CAF-signing certificates (100.cer for "
                "certification, 300.cer for production)"
            )
        missing = [path for path in settings.sii_cert_paths if not Path(path).is_file()]
        if missing:
            raise ValidationError(f"STOREHUB_SII_CERTS: no such file: {', '.join(missing)}")
    if settings.sii_schemas_dir and not Path(settings.sii_schemas_dir).is_dir():
        raise ValidationError(f"STOREHUB_SII_SCHEMAS_DIR: no such directory: {settings.sii_schemas_dir}")
