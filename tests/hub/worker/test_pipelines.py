"""What the worker's agent does with each record: wake the fiscal pipeline on a sale, count it, retry what
failed for want of a database, skip what the code refuses; and ``storehub worker`` refuses to run half set."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hub.events.stream import EventRecord
from hub.worker.app import Pipelines, make_app
from schema.errors import ConflictError, ValidationError
from tests.hub.conftest import make_settings

ROOT = Path(__file__).resolve().parents[3]


def record(event: str = "SaleCompleted") -> EventRecord:
    return EventRecord(event_id=str(uuid.uuid4()), tenant_id=uuid.uuid4(), stream="tenant", event=event)


@pytest.fixture
def pipelines(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Pipelines:
    made = Pipelines(make_settings(sqlite_url, kafka_url="127.0.0.1:1"), {})
    made.ready.set()  # the services are not needed: what they would do is replaced below
    monkeypatch.setattr("hub.worker.app.RETRY_MAX_SECONDS", 0.01)
    return made


async def test_a_sale_or_a_setup_change_wakes_the_fiscal_pipeline_and_is_counted(
    pipelines: Pipelines, monkeypatch: pytest.MonkeyPatch
) -> None:
    woken: list[uuid.UUID] = []
    counted: list[str] = []
    monkeypatch.setattr(pipelines.services.fiscal, "wake", woken.append)

    async def count(item: EventRecord) -> set[str]:
        counted.append(item.event_id)
        return set()

    monkeypatch.setattr(pipelines.dashboards, "count", count)
    sale, opened, setup = record(), record("CashSessionOpened"), record("FiscalSetupChanged")
    await pipelines.handle(sale)
    await pipelines.handle(opened)
    await pipelines.handle(setup)
    # A document made, or the setup they waited for changed (a certificate or CAF uploaded through a hub).
    assert woken == [sale.tenant_id, setup.tenant_id]
    assert counted == [sale.event_id, opened.event_id, setup.event_id]
    assert pipelines.handled == 3


async def test_a_failure_is_retried_until_it_passes_and_a_refusal_is_skipped(
    pipelines: Pipelines, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    async def flaky(item: EventRecord) -> set[str]:
        attempts.append(item.event)
        if item.event == "SaleReturned":
            raise ConflictError("the sale's lines in the database differ from its event")
        if len(attempts) < 3:
            raise OSError("connection refused")  # the database is away for a moment
        return {"totals"}

    monkeypatch.setattr(pipelines.dashboards, "count", flaky)
    await pipelines.handle(record("CashSessionOpened"))
    assert attempts == ["CashSessionOpened"] * 3 and pipelines.handled == 1
    await pipelines.handle(record("SaleReturned"))
    assert attempts[-1] == "SaleReturned" and pipelines.skipped == 1 and pipelines.handled == 1


def test_the_worker_needs_the_event_stream(sqlite_url: str) -> None:
    with pytest.raises(ValidationError, match="STOREHUB_KAFKA_URL"):
        make_app(make_settings(sqlite_url))


def test_the_workers_status_pages_listen_on_the_address_given_only(sqlite_url: str) -> None:
    app, _pipelines = make_app(
        make_settings(sqlite_url, kafka_url="127.0.0.1:1"), web_host="127.0.0.1", web_port=6066
    )
    assert app.conf.web_bind == "127.0.0.1"  # faust's default is every interface


def test_the_worker_command_needs_the_hubs_secret_key(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "STOREHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/w.db",
           "STOREHUB_KAFKA_URL": "127.0.0.1:1"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "STOREHUB_SECRET_KEY" in done.stderr and "Traceback" not in done.stderr
