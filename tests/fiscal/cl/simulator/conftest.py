"""A real SII simulator on a loopback port and real clients of it (on tests/fiscal/cl/conftest.py).

* ``start_simulator``  ``async with start_simulator(**state_options) as sim`` -> :class:`Simulator`:
                       uvicorn on 127.0.0.1:<free port> serving ``create_simulator_app`` in the test's loop.
* ``simulator``        one with SII's schemas, trusting the test CAF ``authority``, one "in process" poll.
* ``http``             an ``httpx.AsyncClient`` (closed after the test).
* ``client``           ``SiiClient`` for the test certificate against ``simulator``, fresh ``TokenCache``,
                       2 s per request.
* ``envio_dte`` / ``envio_boleta``  signed envelopes: a 33 and a 61 (folio 201); boletas 39 folios 201-203.
* ``conflicting_dte`` / ``conflicting_boleta``  other content under folio 201 (33) / 202 (39).
* ``poll``             ``await poll(lambda: client.dte_envelope_status(...))``: asks until final (5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from lxml import etree

from fiscal.certificates import Signer
from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.dte import DocLine
from fiscal.cl.envelope import build_envio_boleta, build_envio_dte
from fiscal.cl.schemas import SiiSchemas
from fiscal.cl.sii_auth import TokenCache
from fiscal.cl.sii_client import EnvelopeStatus, SiiClient
from tests.support.sii_simulator import Simulator, sii_simulator

RESOLUTION = date(2024, 8, 1)
SIGNED_AT = datetime(2025, 3, 20, 10, 30, 0)
OTHER_LINES = [DocLine(name="Queso gauda", quantity=500, unit="KG", unit_price=8990)]

Build = Callable[..., etree._Element]


@pytest.fixture
def start_simulator(
    schemas: SiiSchemas, authority: DemoAuthority
) -> Callable[..., contextlib.AbstractAsyncContextManager[Simulator]]:
    def start(**options: Any) -> contextlib.AbstractAsyncContextManager[Simulator]:
        options.setdefault("schemas", schemas)
        options.setdefault("authority_keys", authority.keys)
        return sii_simulator(**options)

    return start


@pytest.fixture
async def simulator(
    start_simulator: Callable[..., contextlib.AbstractAsyncContextManager[Simulator]],
) -> AsyncIterator[Simulator]:
    async with start_simulator() as sim:
        yield sim


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def client(simulator: Simulator, http: httpx.AsyncClient, signer: Signer) -> SiiClient:
    return SiiClient(http, simulator.endpoints, signer, TokenCache(), timeout=2.0)


@pytest.fixture
def poll() -> Callable[[Callable[[], Awaitable[EnvelopeStatus]]], Awaitable[EnvelopeStatus]]:
    async def until_final(ask: Callable[[], Awaitable[EnvelopeStatus]]) -> EnvelopeStatus:
        seen = []
        async with asyncio.timeout(5):
            for _ in range(10):  # the simulator advances per query: no waiting between them
                status = await ask()
                seen.append(status.sii_state)
                if status.final:
                    return status
        raise AssertionError(f"never final: {seen}")

    return until_final


@pytest.fixture(scope="session")
def envio_dte(build: Build, company_rut: str, signer: Signer) -> bytes:
    return build_envio_dte(
        [build(33, 201), build(61, 201)], company_rut, company_rut, RESOLUTION, 80, signer, SIGNED_AT
    )


@pytest.fixture(scope="session")
def conflicting_dte(build: Build, company_rut: str, signer: Signer) -> bytes:
    return build_envio_dte(
        [build(33, 201, lines=OTHER_LINES)], company_rut, company_rut, RESOLUTION, 80, signer, SIGNED_AT
    )


@pytest.fixture(scope="session")
def envio_boleta(build: Build, company_rut: str, signer: Signer) -> bytes:
    boletas = [build(39, folio) for folio in (201, 202, 203)]
    return build_envio_boleta(boletas, company_rut, company_rut, RESOLUTION, 0, signer, SIGNED_AT)


@pytest.fixture(scope="session")
def conflicting_boleta(build: Build, company_rut: str, signer: Signer) -> bytes:
    boletas = [build(39, 202, lines=OTHER_LINES)]
    return build_envio_boleta(boletas, company_rut, company_rut, RESOLUTION, 0, signer, SIGNED_AT)
