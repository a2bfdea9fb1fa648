"""Each injected fault reaches the client rightly classified; faults set at start and at runtime."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fiscal.certificates import Signer
from fiscal.cl.sii_auth import TokenCache
from fiscal.cl.sii_client import SiiClient
from fiscal.cl.sii_endpoints import SiiEndpoints
from fiscal.cl.sii_states import RetryableSiiError
from fiscal.cl.simulator import FaultRule, Faults
from tests.fiscal.cl.simulator.conftest import Simulator
from tests.support.procs import free_port

StartSimulator = Callable[..., contextlib.AbstractAsyncContextManager[Simulator]]


async def test_429_is_retryable_with_retry_after_in_seconds(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    await simulator.set_faults(rate_limit={"next": 1}, retry_after="7", paths=["DTEUpload"])
    with pytest.raises(RetryableSiiError) as failed:
        await client.upload_dte(envio_dte, company_rut, company_rut)
    assert failed.value.retry_after == 7
    assert failed.value.details["http_status"] == 429
    assert simulator.state.counters["fault_rate_limit"] == 1
    assert simulator.state.counters["uploads"] == 0  # refused before SII looked at it
    upload = await client.upload_dte(envio_dte, company_rut, company_rut)  # "next 1" is used up
    assert upload.status == "0"


async def test_429_with_an_http_date(
    simulator: Simulator, client: SiiClient, envio_boleta: bytes, company_rut: str
) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    await simulator.set_faults(rate_limit={"next": 1}, retry_after=when, paths=["boleta.electronica.envio"])
    with pytest.raises(RetryableSiiError) as failed:
        await client.upload_boletas(envio_boleta, company_rut, company_rut)
    assert failed.value.retry_after is not None
    assert 25 <= failed.value.retry_after <= 30


async def test_an_html_page_with_status_200_is_retryable(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    upload = await client.upload_dte(envio_dte, company_rut, company_rut)
    await simulator.set_faults(html={"next": 1}, paths=["QueryEstUp"])
    with pytest.raises(RetryableSiiError) as failed:
        await client.dte_envelope_status(upload.track_id or "", company_rut)
    assert failed.value.details["kind"] == "html"
    assert "HTML" in failed.value.reason


async def test_an_html_page_instead_of_json_is_retryable(
    simulator: Simulator, client: SiiClient, envio_boleta: bytes, company_rut: str
) -> None:
    upload = await client.upload_boletas(envio_boleta, company_rut, company_rut)
    await simulator.set_faults(html={"probability": 1.0}, paths=["boleta.electronica.envio/"])
    with pytest.raises(RetryableSiiError) as failed:
        await client.boleta_envelope_status(upload.track_id or "", company_rut)
    assert failed.value.details["kind"] == "html"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_retryable(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str, status: int
) -> None:
    await simulator.set_faults(server_error={"next": 1}, server_error_status=status)
    with pytest.raises(RetryableSiiError) as failed:  # the first request of the call: getSeed
        await client.upload_dte(envio_dte, company_rut, company_rut)
    assert failed.value.details["http_status"] == status
    assert failed.value.retry_after is None


async def test_a_hang_longer_than_the_client_waits_is_a_retryable_timeout(
    simulator: Simulator, http: httpx.AsyncClient, signer: Signer, envio_dte: bytes, company_rut: str
) -> None:
    client = SiiClient(http, simulator.endpoints, signer, TokenCache(), timeout=0.3)
    await simulator.set_faults(timeout={"next": 1}, hang_seconds=30, paths=["DTEUpload"])
    started = time.monotonic()
    with pytest.raises(RetryableSiiError) as failed:
        await client.upload_dte(envio_dte, company_rut, company_rut)
    assert failed.value.details["kind"] == "timeout"
    assert time.monotonic() - started < 5
    assert simulator.state.counters["fault_timeout"] == 1
    # The simulator noticed the client leave and dropped the request: nothing was received.
    snapshot = await simulator.snapshot()
    assert snapshot["counters"].get("uploads", 0) == 0


async def test_a_connection_refused_is_retryable(
    http: httpx.AsyncClient, signer: Signer, envio_dte: bytes, company_rut: str
) -> None:
    nobody = SiiEndpoints.simulator(f"http://127.0.0.1:{free_port()}")
    client = SiiClient(http, nobody, signer, TokenCache(), timeout=2)
    with pytest.raises(RetryableSiiError) as failed:
        await client.upload_dte(envio_dte, company_rut, company_rut)
    assert failed.value.details["kind"] == "connection"


async def test_latency_slows_answers_down(
    simulator: Simulator, client: SiiClient, envio_boleta: bytes, company_rut: str
) -> None:
    await simulator.set_faults(latency_ms=120, paths=["boleta.electronica.envio"])
    started = time.monotonic()
    upload = await client.upload_boletas(envio_boleta, company_rut, company_rut)
    assert upload.status == "REC"
    assert time.monotonic() - started >= 0.12
    assert simulator.state.counters["fault_latency"] == 1


async def test_faults_given_at_start_apply_from_the_first_request(
    start_simulator: StartSimulator,
    http: httpx.AsyncClient,
    signer: Signer,
    envio_dte: bytes,
    company_rut: str,
) -> None:
    faults = Faults(server_error=FaultRule(next=2), server_error_status=503)
    async with start_simulator(faults=faults) as sim:
        client = SiiClient(http, sim.endpoints, signer, TokenCache(), timeout=2)
        for _ in range(2):
            with pytest.raises(RetryableSiiError):
                await client.upload_dte(envio_dte, company_rut, company_rut)
        assert (await client.upload_dte(envio_dte, company_rut, company_rut)).status == "0"
        assert sim.state.counters["fault_server_error"] == 2


async def test_the_control_endpoint_replaces_the_faults_and_refuses_nonsense(simulator: Simulator) -> None:
    snapshot = await simulator.set_faults(html={"probability": 0.25}, reject_folios={"39": [5, 6]})
    assert snapshot["faults"]["html"] == {"probability": 0.25, "next": 0}
    assert snapshot["faults"]["reject_folios"] == {"39": [5, 6]}
    snapshot = await simulator.set_faults()
    assert snapshot["faults"]["html"] == {"probability": 0.0, "next": 0}
    for body in (b'{"html": {"probability": 2}}', b'{"nonsense": 1}', b"not json"):
        response = await simulator.http.post(f"{simulator.url}/_sim/faults", content=body)
        assert response.status_code == 400, body
        assert response.json()["error"]
    assert simulator.state.faults == Faults()


async def test_a_rule_fires_next_n_times_then_by_probability() -> None:
    import random

    rng = random.Random(7)
    rule = FaultRule(next=3)
    assert [rule.fire(rng) for _ in range(5)] == [True, True, True, False, False]
    rule = FaultRule(probability=0.5)
    fired = sum(rule.fire(rng) for _ in range(2000))
    assert 900 < fired < 1100
    assert not any(FaultRule().fire(rng) for _ in range(100))


async def test_faults_never_touch_the_control_endpoints(simulator: Simulator) -> None:
    await simulator.set_faults(server_error={"probability": 1.0}, html={"probability": 1.0})
    async with asyncio.timeout(5):
        snapshot = await simulator.snapshot()
    assert snapshot["counters"].get("fault_server_error", 0) == 0
