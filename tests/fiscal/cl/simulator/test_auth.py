"""The seed -> signed seed -> token flows of both APIs, over real HTTP against the simulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from fiscal.certificates import Signer, rut_of
from fiscal.cl.sii_auth import (
    BOLETA,
    DTE,
    TokenCache,
    TokenKey,
    fetch_boleta_token,
    fetch_dte_token,
    read_respuesta,
    signed_token_request,
    soap_call,
)
from fiscal.cl.sii_client import SiiClient
from fiscal.cl.sii_states import RetryableSiiError, SiiAuthenticationError
from tests.fiscal.cl.simulator.conftest import Simulator

StartSimulator = Callable[..., contextlib.AbstractAsyncContextManager[Simulator]]


async def test_dte_token_flow_soap(simulator: Simulator, http: httpx.AsyncClient, signer: Signer) -> None:
    token = await fetch_dte_token(http, simulator.endpoints, signer, time_limit=2)
    issued = simulator.state.tokens[token]
    assert issued.holder_rut == rut_of(signer.certificate)
    assert issued.service == DTE
    assert simulator.state.counters["seeds_issued"] == 1
    assert simulator.state.seeds == {}  # the seed was used up


async def test_boleta_token_flow_rest(simulator: Simulator, http: httpx.AsyncClient, signer: Signer) -> None:
    token = await fetch_boleta_token(http, simulator.endpoints, signer, time_limit=2)
    assert simulator.state.tokens[token].service == BOLETA
    assert simulator.state.tokens[token].holder_rut == rut_of(signer.certificate)


async def test_a_seed_is_used_once(simulator: Simulator, http: httpx.AsyncClient, signer: Signer) -> None:
    seed_answer = await soap_call(
        http, simulator.endpoints.seed_url, "getSeed", [], what="seed", time_limit=2
    )
    seed = read_respuesta(seed_answer, "seed").text("SEMILLA")
    assert len(seed) == 12 and seed.isdigit()
    request = signed_token_request(seed, signer).decode()
    answers = [
        read_respuesta(
            await soap_call(
                http, simulator.endpoints.token_url, "getToken", [("pszXml", request)], what="t", time_limit=2
            ),
            "t",
        )
        for _ in range(2)
    ]
    assert (answers[0].estado, answers[0].glosa) == ("00", "Token Creado")
    assert answers[0].text("TOKEN")
    assert (answers[1].estado, answers[1].glosa) == ("08", "NO Existe SEED")


async def test_a_seed_signed_with_a_key_that_is_not_the_certificates_is_refused(
    simulator: Simulator, http: httpx.AsyncClient, signer: Signer
) -> None:
    impostor = Signer(private_key=rsa.generate_private_key(65537, 2048), certificate=signer.certificate)
    with pytest.raises(SiiAuthenticationError) as refused:
        await fetch_dte_token(http, simulator.endpoints, impostor, time_limit=2)
    assert refused.value.sii_code == "05"
    assert simulator.state.counters["token_requests_refused"] == 1


async def test_a_tampered_seed_request_is_refused(
    simulator: Simulator, http: httpx.AsyncClient, signer: Signer
) -> None:
    seed = (await http.get(simulator.endpoints.boleta_seed_url)).text
    seed = etree.fromstring(seed.encode()).findtext(".//SEMILLA")
    signed = signed_token_request(seed, signer).replace(seed.encode(), b"000000000001")
    response = await http.post(simulator.endpoints.boleta_token_url, content=signed)
    assert read_respuesta(etree.fromstring(response.content), "t").estado == "05"


def test_the_token_request_verifies_independently_with_xmlsec1(
    signer: Signer, cert_pem: Any, tmp_path: Any
) -> None:
    import shutil
    import subprocess

    binary = shutil.which("xmlsec1")
    assert binary is not None, "xmlsec1 is not installed (scripts/system-deps.sh installs it)"
    path = tmp_path / "getToken.xml"
    path.write_bytes(signed_token_request("000002360958", signer))
    command = [
        binary,
        "--verify",
        "--trusted-pem",
        str(cert_pem),
        "--enabled-reference-uris",
        "empty",
        str(path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    path.write_bytes(path.read_bytes().replace(b"000002360958", b"000002360959"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0


async def test_tokens_are_cached_per_service_and_fetched_once_under_concurrency(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    async with asyncio.timeout(10):
        uploads = await asyncio.gather(
            *(client.upload_dte(envio_dte, company_rut, company_rut) for _ in range(5))
        )
    assert len({upload.track_id for upload in uploads}) == 1  # one envelope; the others are STATUS 99
    assert sorted(upload.status for upload in uploads) == ["0", "99", "99", "99", "99"]
    assert simulator.state.counters["tokens_issued"] == 1
    assert client.tokens.fetches == 1
    key = TokenKey.of(simulator.endpoints, DTE, client.signer)
    assert client.tokens.peek(key) is not None
    assert client.tokens.peek(TokenKey.of(simulator.endpoints, BOLETA, client.signer)) is None


async def test_a_token_that_dies_early_is_refreshed_once_and_the_upload_succeeds(
    simulator: Simulator, client: SiiClient, envio_dte: bytes, company_rut: str
) -> None:
    await simulator.set_faults(token_expiry={"next": 1})
    upload = await client.upload_dte(envio_dte, company_rut, company_rut)
    assert upload.status == "0" and upload.track_id
    counters = simulator.state.counters
    assert counters["fault_token_expiry"] == 1
    assert counters["tokens_issued"] == 2
    assert counters["envelopes_received"] == 1


async def test_an_expired_token_is_refreshed_for_each_api(
    start_simulator: StartSimulator,
    http: httpx.AsyncClient,
    signer: Signer,
    envio_dte: bytes,
    envio_boleta: bytes,
    company_rut: str,
) -> None:
    now = [1000.0]
    async with start_simulator(token_ttl=60, clock=lambda: now[0]) as sim:
        client = SiiClient(http, sim.endpoints, signer, TokenCache(), timeout=2)
        dte = await client.upload_dte(envio_dte, company_rut, company_rut)
        boletas = await client.upload_boletas(envio_boleta, company_rut, company_rut)
        assert sim.state.counters["tokens_issued"] == 2
        now[0] += 61  # SII's side only: our cache still believes both tokens fresh
        assert (await client.dte_envelope_status(dte.track_id or "", company_rut)).sii_state
        assert (await client.boleta_envelope_status(boletas.track_id or "", company_rut)).sii_state
        assert sim.state.counters["requests_with_expired_token"] == 2
        assert sim.state.counters["tokens_issued"] == 4


async def test_a_token_refused_twice_is_retryable(
    simulator: Simulator, client: SiiClient, envio_boleta: bytes, company_rut: str
) -> None:
    await simulator.set_faults(token_expiry={"next": 2})
    with pytest.raises(RetryableSiiError) as failed:
        await client.upload_boletas(envio_boleta, company_rut, company_rut)
    assert "token" in failed.value.reason
    assert simulator.state.counters["envelopes_received"] == 0
    # the cache forgot the refused token: the next attempt starts with a fresh one and goes through
    upload = await client.upload_boletas(envio_boleta, company_rut, company_rut)
    assert upload.status == "REC"
