"""TokenCache (expiry, one fetch at a time, invalidation) and the HTTP helpers of the SII client.

The flows against a real server are in tests/fiscal/cl/simulator/test_auth.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from fiscal.certificates import Signer
from fiscal.cl.sii_auth import (
    BOLETA,
    DTE,
    TokenCache,
    TokenKey,
    looks_like_html,
    parse_retry_after,
)
from fiscal.cl.sii_endpoints import SiiEndpoints


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(service: str = DTE, environment: str = "certification") -> TokenKey:
    return TokenKey(environment, service, "76086428-5", "ab" * 32)


class Fetcher:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        return f"T{self.calls}"


async def test_a_token_is_reused_until_it_gets_old() -> None:
    clock, fetch = Clock(), Fetcher()
    cache = TokenCache(max_age=3600, max_idle=3600, margin=600, clock=clock)
    assert await cache.get(key(), fetch) == "T1"
    clock.now += 2999  # used every 20 minutes: idle never runs out, age does at 50 minutes
    assert await cache.get(key(), fetch) == "T1"
    clock.now += 1
    assert await cache.get(key(), fetch) == "T2"
    assert (fetch.calls, cache.fetches) == (2, 2)


async def test_an_idle_token_is_replaced() -> None:
    clock, fetch = Clock(), Fetcher()
    cache = TokenCache(max_age=86400, max_idle=3600, margin=600, clock=clock)
    await cache.get(key(), fetch)
    for _ in range(5):  # in use: lives on
        clock.now += 2000
        assert await cache.get(key(), fetch) == "T1"
    clock.now += 3000  # 50 minutes idle
    assert await cache.get(key(), fetch) == "T2"


async def test_keys_are_separate() -> None:
    fetch = Fetcher()
    cache = TokenCache()
    tokens = {await cache.get(k, fetch) for k in (key(), key(BOLETA), key(DTE, "production"))}
    assert tokens == {"T1", "T2", "T3"}
    assert cache.peek(key(BOLETA)) == "T2"


async def test_one_fetch_at_a_time_per_key() -> None:
    release = asyncio.Event()
    calls = 0

    async def slow_fetch() -> str:
        nonlocal calls
        calls += 1
        mine = calls
        await release.wait()
        return f"T{mine}"

    cache = TokenCache()
    waiting = [asyncio.create_task(cache.get(key(), slow_fetch)) for _ in range(20)]
    other = asyncio.create_task(cache.get(key(BOLETA), slow_fetch))
    async with asyncio.timeout(5):
        while calls < 2:  # the DTE key's first fetch and the boleta key's
            await asyncio.sleep(0)
        release.set()
        tokens = await asyncio.gather(*waiting, other)
    assert calls == 2
    assert set(tokens[:-1]) == {tokens[0]} and tokens[-1] != tokens[0]


async def test_a_failed_fetch_stores_nothing_and_the_next_caller_tries_again() -> None:
    cache = TokenCache()

    async def broken() -> str:
        raise RuntimeError("SII down")

    with pytest.raises(RuntimeError):
        await cache.get(key(), broken)
    assert cache.peek(key()) is None
    assert await cache.get(key(), Fetcher()) == "T1"


async def test_invalidate_only_drops_the_token_that_was_refused() -> None:
    fetch = Fetcher()
    cache = TokenCache()
    await cache.get(key(), fetch)
    assert not cache.invalidate(key(), "some older token")
    assert cache.peek(key()) == "T1"
    assert cache.invalidate(key(), "T1")
    assert not cache.invalidate(key(), "T1")
    assert await cache.get(key(), fetch) == "T2"
    assert cache.invalidate(key())


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        TokenCache(max_age=60, margin=60)


def test_the_key_is_the_certificate_holder_not_the_company(signer: Signer) -> None:
    cert = SiiEndpoints.certification()
    a = TokenKey.of(cert, DTE, signer)
    assert a == TokenKey.of(cert, DTE, signer)
    assert a.holder_rut == "76086428-5"
    assert len(a.fingerprint) == 64
    assert a != TokenKey.of(SiiEndpoints.production(), DTE, signer)
    assert a != TokenKey.of(cert, BOLETA, signer)


def test_retry_after() -> None:
    now = datetime(2025, 3, 20, 13, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Thu, 20 Mar 2025 13:00:30 GMT", now) == 30
    assert parse_retry_after("Thu, 20 Mar 2025 12:59:00 GMT", now) == 0  # in the past: now
    for nonsense in (None, "", "soon", "-5", "inf", "nan"):
        assert parse_retry_after(nonsense, now) is None, nonsense


def test_html_is_recognized_whatever_the_content_type() -> None:
    def answer(body: bytes, content_type: str) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    assert looks_like_html(answer(b"<RECEPCIONDTE/>", "text/html"))
    assert looks_like_html(answer(b"\n  <!DOCTYPE HTML PUBLIC><html><body>x", "text/xml"))
    assert looks_like_html(answer(b"<HTML><HEAD><TITLE>Error</TITLE>", "application/json"))
    assert not looks_like_html(answer(b'<?xml version="1.0"?><RECEPCIONDTE/>', "text/xml"))
    assert not looks_like_html(answer(b'{"estado": "EPR"}', "application/json"))


def test_whole_document_signatures_verify_only_as_such(signer: Signer) -> None:
    from lxml import etree

    from fiscal.cl.sii_auth import signed_token_request
    from fiscal.errors import SignatureError
    from fiscal.xmldsig import sign_enveloped, verify_enveloped, verify_whole_document

    signed = etree.fromstring(signed_token_request("000000000078", signer))
    assert verify_whole_document(signed).subject == signer.certificate.subject
    with pytest.raises(SignatureError, match="'#<ID>'"):
        verify_enveloped(signed)  # the ID-based verifier does not take URI=""
    with pytest.raises(SignatureError, match="document element"):
        verify_whole_document(etree.SubElement(etree.Element("wrapper"), "getToken"))
    by_id = sign_enveloped(etree.fromstring(b'<getToken><item ID="S">1</item></getToken>'), "S", signer)
    with pytest.raises(SignatureError, match="whole document"):
        verify_whole_document(by_id)
    unsigned = etree.fromstring(b"<getToken><item><Semilla>1</Semilla></item></getToken>")
    with pytest.raises(SignatureError, match="one <Signature>"):
        verify_whole_document(unsigned)
