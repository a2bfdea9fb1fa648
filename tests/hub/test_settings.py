from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hub.settings import ENV_VARS, load_settings
from schema.errors import ValidationError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_are_embedded_and_need_nothing_running() -> None:
    settings = load_settings(env={})
    assert settings.database_url.startswith("sqlite+aiosqlite:///./var/")
    assert settings.redis_url == settings.kafka_url == ""
    assert len(settings.secret_key) >= 32  # a random one, per process


def test_values_come_from_the_environment() -> None:
    settings = load_settings(
        env={
            "STOREHUB_PORT": "9000",
            "STOREHUB_PUBLIC_URL": "https://hub.example.cl",
            "STOREHUB_TRUST_PROXY_HEADERS": "true",
        }
    )
    assert settings.port == 9000 and settings.tls and settings.trust_proxy_headers


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STOREHUB_PORT": "ochenta"}, "bad setting"),
        ({"STOREHUB_SECRET_KEY": "short"}, "at least 32"),
        ({"STOREHUB_LOG_FORMAT": "xml"}, "text' or 'json"),
        ({"STOREHUB_DATABSE_URL": "x"}, "unknown setting"),
        ({"STOREHUB_FISCAL_RUNNER": "thread"}, "'auto', 'hub' or 'process'"),
        ({"STOREHUB_FISCAL_RUNNER": "process"}, "needs Postgres"),  # the default database is SQLite
    ],
)
def test_bad_settings_are_refused_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        load_settings(env=env)


@pytest.mark.parametrize(
    ("runner", "database", "cpus", "in_child"),
    [
        ("auto", "sqlite+aiosqlite:///x.db", 8, False),
        ("auto", "postgresql+asyncpg://h/db", 2, True),
        ("auto", "postgresql+asyncpg://h/db", 4, True),
        ("hub", "postgresql+asyncpg://h/db", 8, False),
        ("process", "postgresql+asyncpg://h/db", 2, True),
    ],
)
def test_where_the_fiscal_pipeline_runs(
    runner: str, database: str, cpus: int, in_child: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    settings = load_settings(env={"STOREHUB_FISCAL_RUNNER": runner, "STOREHUB_DATABASE_URL": database})
    assert settings.fiscal_in_child is in_child


def test_test_suite_variables_are_not_hub_settings() -> None:
    load_settings(env={"STOREHUB_TEST_PG_URL": "postgresql://x"})


def test_the_readme_documents_every_variable_and_no_other() -> None:
    documented = set(re.findall(r"`(STOREHUB_[A-Z_]+)`", README.read_text()))
    documented = {name for name in documented if not name.startswith("STOREHUB_TEST_")}
    assert documented == set(ENV_VARS)
