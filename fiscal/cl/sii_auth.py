"""SII authentication: seed -> seed signed with the taxpayer's certificate -> token, cached per certificate.

Two flows, the same three steps (SII's "Autenticación Automática" manual v1.9, chapters 4-8):

* DTE services (SOAP, rpc/encoded): ``getSeed`` on ``CrSeed.jws`` answers, inside ``getSeedReturn``, an
  XML-escaped ``<SII:RESPUESTA>`` with ``RESP_HDR/ESTADO`` (``00`` ok) and ``RESP_BODY/SEMILLA``;
  ``getToken(pszXml)`` on ``GetTokenFromSeed.jws`` takes the signed request as an escaped string and
  answers ``RESP_HDR/ESTADO`` + ``GLOSA`` and ``RESP_BODY/TOKEN``.
* boletas (REST): ``GET boleta.electronica.semilla`` answers the same ``<SII:RESPUESTA>`` as plain XML;
  ``POST boleta.electronica.token`` takes the signed request as the body (``application/xml``).

The signed request is ``<getToken><item><Semilla>…</Semilla></item><Signature/></getToken>`` with an
enveloped signature over the whole document (``Reference URI=""``,
:func:`fiscal.xmldsig.sign_whole_document`).
A seed lives 2 minutes and is used once, so a seed is fetched for every token.

The token is then sent as the cookie ``TOKEN=…``. How long it lives is not published: the manual says it
lets the holder "navegar por las otras aplicaciones del SII sin tener que autenticarse nuevamente", and
integrators report it dies after about an hour without use; LibreDTE caches it for 60 s, Odoo keeps it
until SII refuses it. :class:`TokenCache` therefore keeps a token at most ``max_age`` seconds after it was
issued and ``max_idle`` after its last use (both an hour by default), each minus ``margin`` (10 minutes)
so it is replaced before SII may drop it; and whatever the clock says, a token SII refuses (STATUS 5,
HTTP 401, QueryEstUp 001-003) is invalidated by the client and fetched once more (``fiscal.cl.sii_client``).

A token belongs to the certificate's holder (SII checks ``rutSender`` against it), not to a company: the
cache key is (environment, service, holder RUT, certificate fingerprint), so an accountant's certificate
that sends for several companies shares one token per service, and a renewed certificate gets its own.

This module also holds the HTTP plumbing both flows and the client share: one request with SII's errors
classified (:func:`send`), ``Retry-After``, HTML detection, SOAP envelopes and ``<SII:RESPUESTA>``.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from cryptography.hazmat.primitives import serialization
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.certificates import Signer, rut_of
from fiscal.cl.sii_endpoints import SiiEndpoints
from fiscal.cl.sii_states import RetryableSiiError, SiiAuthenticationError
from fiscal.xmldsig import sign_whole_document

SII_RESPONSE_NS: Final = "http://www.sii.cl/XMLSchema"
SOAP_ENV_NS: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC_NS: Final = "http://schemas.xmlsoap.org/soap/encoding/"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS: Final = "http://www.w3.org/2001/XMLSchema"
# SII's services are picky about the User-Agent (Odoo notes the boleta API answers "token not valid" to
# others); this is the one in SII's own examples.
USER_AGENT: Final = "Mozilla/4.0 ( compatible; PROG 1.0; Windows NT)"
DTE: Final = "dte"
BOLETA: Final = "boleta"

# GetTokenFromSeed ESTADO values that mean our certificate or request is refused (manual v1.9, 5.2.2):
# 01-06 invalid XML / no Signature / invalid signature / no Semilla, 11 no certificate, 12 and -07 the RUT
# is not registered for certificate authentication, 21 the key is not the certificate's, -3 authentication
# error. Others (07-10: message errors, seed timed out or unknown) are worth another seed.
_TOKEN_REFUSALS: Final = frozenset({"01", "02", "03", "04", "05", "06", "11", "12", "21", "-3", "-07"})
# How SII words a refused token in pages and messages ("TOKEN NO VALIDO", "Token invalido", "TOKEN
# inválido" in ISO-8859-1 or UTF-8).
_TOKEN_REFUSED: Final = re.compile(rb"token\s+(no\s+v\S{1,2}lido|inv\S{1,2}lido)", re.IGNORECASE)
_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class TokenRejectedError(RetryableSiiError):
    """SII did not accept the token (expired, unknown). The client invalidates it and tries once more."""


# --- the cache ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenKey:
    environment: str
    service: str  # DTE or BOLETA
    holder_rut: str
    fingerprint: str  # SHA-256 of the certificate (DER), hex

    @classmethod
    def of(cls, endpoints: SiiEndpoints, service: str, signer: Signer) -> TokenKey:
        der = signer.certificate.public_bytes(serialization.Encoding.DER)
        return cls(
            endpoints.environment, service, rut_of(signer.certificate), hashlib.sha256(der).hexdigest()
        )


@dataclass
class _Entry:
    token: str
    issued: float
    used: float


class TokenCache:
    """Tokens by :class:`TokenKey`, fetched at most once at a time per key.

    :meth:`get` answers the cached token while it is fresh, else awaits ``fetch()`` under the key's lock:
    concurrent callers for the same key wait for that one fetch and share its token. Create it inside the
    event loop that uses it (its locks belong to that loop). ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        *,
        max_age: float = 3600.0,
        max_idle: float = 3600.0,
        margin: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if margin < 0 or max_age <= margin or max_idle <= margin:
            raise ValueError("max_age and max_idle must be longer than margin, margin 0 or more")
        self.max_age, self.max_idle, self.margin = max_age, max_idle, margin
        self._clock = clock
        self._entries: dict[TokenKey, _Entry] = {}
        self._locks: dict[TokenKey, asyncio.Lock] = {}
        self.fetches = 0  # tokens fetched (a figure for tests and metrics)

    def _fresh(self, entry: _Entry, now: float) -> bool:
        return (
            now - entry.issued < self.max_age - self.margin and now - entry.used < self.max_idle - self.margin
        )

    def peek(self, key: TokenKey) -> str | None:
        """The fresh cached token, without counting a use."""
        entry = self._entries.get(key)
        return entry.token if entry is not None and self._fresh(entry, self._clock()) else None

    async def get(self, key: TokenKey, fetch: Callable[[], Awaitable[str]]) -> str:
        entry = self._entries.get(key)
        if entry is not None and self._fresh(entry, self._clock()):
            entry.used = self._clock()
            return entry.token
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)  # another caller may have fetched it while we waited
            if entry is not None and self._fresh(entry, self._clock()):
                entry.used = self._clock()
                return entry.token
            token = await fetch()
            self.fetches += 1
            now = self._clock()
            self._entries[key] = _Entry(token, now, now)
            return token

    def invalidate(self, key: TokenKey, token: str | None = None) -> bool:
        """Forget the key's token; with ``token``, only if it is still that one (a caller holding a token SII
        refused must not throw away the fresh one another caller just fetched). True if one was dropped."""
        entry = self._entries.get(key)
        if entry is None or (token is not None and entry.token != token):
            return False
        del self._entries[key]
        return True


# --- HTTP plumbing --------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def looks_like_html(response: httpx.Response) -> bool:
    """SII sometimes answers an HTML error page (even with status 200) where XML or JSON was expected."""
    if "html" in response.headers.get("content-type", "").lower():
        return True
    head = response.content[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]


async def send(
    http: httpx.AsyncClient, method: str, url: str, *, what: str, time_limit: float, **kwargs: Any
) -> httpx.Response:
    """One HTTP exchange with SII. Timeouts, connection errors, 5xx and 429 become
    :class:`RetryableSiiError` (with the ``Retry-After`` SII sent, if any); anything else is returned for
    the caller to read. Never retries."""
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    try:
        response = await http.request(method, url, headers=headers, timeout=time_limit, **kwargs)
    except httpx.TimeoutException:
        raise RetryableSiiError(f"{what}: no answer within {time_limit:g} s", kind="timeout") from None
    except httpx.TransportError as exc:
        raise RetryableSiiError(f"{what}: {type(exc).__name__}: {exc}", kind="connection") from None
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RetryableSiiError(
            f"{what}: HTTP {response.status_code}", retry_after, kind="http", http_status=response.status_code
        )
    if _TOKEN_REFUSED.search(response.content[:4096]):
        raise TokenRejectedError(f"{what}: SII says the token is not valid", kind="token")
    return response


def parse_xml(response: httpx.Response, what: str) -> etree._Element:
    """The XML body, or :class:`RetryableSiiError` when SII sent HTML or something unreadable."""
    if looks_like_html(response):
        raise RetryableSiiError(f"{what}: SII answered an HTML page instead of XML", kind="html")
    return parse_xml_bytes(response.content, what)


def parse_xml_bytes(data: bytes, what: str) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise RetryableSiiError(f"{what}: unreadable XML from SII ({exc})", kind="garbled") from None


def soap_request(namespace: str, operation: str, params: list[tuple[str, str]]) -> bytes:
    """An rpc/encoded SOAP 1.1 request, as SII's manuals show them (4.1.2, 4.1.4)."""
    envelope = etree.Element(
        f"{{{SOAP_ENV_NS}}}Envelope",
        nsmap={"SOAP-ENV": SOAP_ENV_NS, "SOAP-ENC": SOAP_ENC_NS, "xsi": XSI_NS, "xsd": XSD_NS},
    )
    envelope.set(f"{{{SOAP_ENV_NS}}}encodingStyle", SOAP_ENC_NS)
    body = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")
    call = etree.SubElement(body, f"{{{namespace}}}{operation}", nsmap={"m": namespace})
    for name, value in params:
        parameter = etree.SubElement(call, name)
        parameter.set(f"{{{XSI_NS}}}type", "xsd:string")
        parameter.text = value
    data: bytes = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return data


async def soap_call(
    http: httpx.AsyncClient,
    url: str,
    operation: str,
    params: list[tuple[str, str]],
    *,
    what: str,
    time_limit: float,
) -> etree._Element:
    """Call ``operation`` and return the ``<SII:RESPUESTA>`` carried, XML-escaped, in its ``…Return``."""
    response = await send(
        http,
        "POST",
        url,
        what=what,
        time_limit=time_limit,
        content=soap_request(url, operation, params),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
    )
    root = parse_xml(response, what)
    fault = root.find(f".//{{{SOAP_ENV_NS}}}Fault")
    if fault is not None:
        message = " ".join((fault.findtext("faultstring") or "").split()) or "SOAP fault"
        if "token" in message.lower():
            raise TokenRejectedError(f"{what}: {message}", kind="token")
        raise RetryableSiiError(f"{what}: {message}", kind="fault")
    if response.status_code != 200:
        raise RetryableSiiError(f"{what}: HTTP {response.status_code}", kind="http")
    returned = next(
        (el for el in root.iter(etree.Element) if etree.QName(el).localname == f"{operation}Return"), None
    )
    if returned is None or not (returned.text or "").strip():
        raise RetryableSiiError(f"{what}: the SOAP answer carries no {operation}Return", kind="garbled")
    return parse_xml_bytes(str(returned.text).strip().encode("utf-8"), what)


@dataclass(frozen=True)
class Respuesta:
    """A ``<SII:RESPUESTA>``: the header's fields by name, and the body element."""

    header: dict[str, str]
    body: etree._Element | None

    @property
    def estado(self) -> str:
        return self.header.get("ESTADO", "")

    @property
    def glosa(self) -> str:
        return self.header.get("GLOSA", "")

    def text(self, name: str) -> str:
        return (self.body.findtext(name) or "").strip() if self.body is not None else ""


def read_respuesta(root: etree._Element, what: str) -> Respuesta:
    if etree.QName(root).localname != "RESPUESTA":
        raise RetryableSiiError(f"{what}: expected <SII:RESPUESTA>, got <{etree.QName(root).localname}>")
    header_element = root.find(f"{{{SII_RESPONSE_NS}}}RESP_HDR")
    if header_element is None:  # some answers lose the prefix
        header_element = root.find("RESP_HDR")
    header = (
        {etree.QName(child).localname: (child.text or "").strip() for child in header_element}
        if header_element is not None
        else {}
    )
    body = root.find(f"{{{SII_RESPONSE_NS}}}RESP_BODY")
    return Respuesta(header, body if body is not None else root.find("RESP_BODY"))


# --- the two flows --------------------------------------------------------------------------------------


def signed_token_request(seed: str, signer: Signer) -> bytes:
    """``<getToken><item><Semilla>seed</Semilla></item><Signature…/></getToken>``, as bytes."""
    root = etree.Element("getToken")
    etree.SubElement(etree.SubElement(root, "item"), "Semilla").text = seed
    sign_whole_document(root, signer)
    signed: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0"?>\n' + signed


def _seed(respuesta: Respuesta, what: str) -> str:
    seed = respuesta.text("SEMILLA")
    if respuesta.estado != "00" or not seed:
        raise RetryableSiiError(
            f"{what}: no seed (ESTADO {respuesta.estado or '?'} {respuesta.glosa})".strip()
        )
    return seed


def _token(respuesta: Respuesta, what: str) -> str:
    token = respuesta.text("TOKEN")
    if respuesta.estado == "00" and token:
        return token
    if respuesta.estado in _TOKEN_REFUSALS:
        raise SiiAuthenticationError(respuesta.estado, respuesta.glosa or "the signed seed was refused")
    raise RetryableSiiError(f"{what}: no token (ESTADO {respuesta.estado or '?'} {respuesta.glosa})".strip())


async def fetch_dte_token(
    http: httpx.AsyncClient, endpoints: SiiEndpoints, signer: Signer, *, time_limit: float
) -> str:
    """A new token for the DTE services (SOAP ``getSeed`` then ``getToken``)."""
    seed_answer = await soap_call(
        http, endpoints.seed_url, "getSeed", [], what="getSeed", time_limit=time_limit
    )
    seed = _seed(read_respuesta(seed_answer, "getSeed"), "getSeed")
    request = signed_token_request(seed, signer).decode("utf-8")
    token_answer = await soap_call(
        http, endpoints.token_url, "getToken", [("pszXml", request)], what="getToken", time_limit=time_limit
    )
    return _token(read_respuesta(token_answer, "getToken"), "getToken")


async def fetch_boleta_token(
    http: httpx.AsyncClient, endpoints: SiiEndpoints, signer: Signer, *, time_limit: float
) -> str:
    """A new token for the boleta REST API (``GET …semilla`` then ``POST …token``)."""
    what = "boleta.electronica.semilla"
    response = await send(
        http,
        "GET",
        endpoints.boleta_seed_url,
        what=what,
        time_limit=time_limit,
        headers={"Accept": "application/xml"},
    )
    if response.status_code != 200:
        raise RetryableSiiError(f"{what}: HTTP {response.status_code}", kind="http")
    seed = _seed(read_respuesta(parse_xml(response, what), what), what)
    what = "boleta.electronica.token"
    response = await send(
        http,
        "POST",
        endpoints.boleta_token_url,
        what=what,
        time_limit=time_limit,
        content=signed_token_request(seed, signer),
        headers={"Accept": "application/xml", "Content-Type": "application/xml"},
    )
    if response.status_code != 200 and not response.content.strip():
        raise RetryableSiiError(f"{what}: HTTP {response.status_code}", kind="http")
    return _token(read_respuesta(parse_xml(response, what), what), what)


__all__ = [
    "BOLETA",
    "DTE",
    "USER_AGENT",
    "Respuesta",
    "TokenCache",
    "TokenKey",
    "TokenRejectedError",
    "fetch_boleta_token",
    "fetch_dte_token",
    "looks_like_html",
    "parse_retry_after",
    "parse_xml",
    "read_respuesta",
    "send",
    "signed_token_request",
    "soap_call",
    "soap_request",
]
