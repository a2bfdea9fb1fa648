"""Formats of every secret the hub hands out, parsed strictly.

* browser session cookie: ``<tenant hex>.<secret>``
* API token of a user:     ``shk_<tenant hex>_<secret>``
* device token:            ``shd_<tenant hex>_<secret>``

``<tenant hex>`` is the tenant's UUID as 32 lower-case hex digits, so the hub knows which tenant's
transaction to open before looking anything up; ``<secret>`` is 64 hex digits (256 random bits). Only the
SHA-256 of the secret is stored. Pairing codes are short (typed by a person) and live 15 minutes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from typing import Literal, NamedTuple

from schema.errors import AuthenticationError

SESSION_COOKIE = "storehub_session"
API_TOKEN_PREFIX: Literal["shk"] = "shk"  # noqa: S105  (a prefix, not a secret)
DEVICE_TOKEN_PREFIX: Literal["shd"] = "shd"  # noqa: S105

_COOKIE = re.compile(r"^([0-9a-f]{32})\.([0-9a-f]{64})$")
_BEARER = re.compile(r"^(shk|shd)_([0-9a-f]{32})_([0-9a-f]{64})$")
_PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand
PAIRING_CODE_LENGTH = 10


class ParsedToken(NamedTuple):
    kind: Literal["shk", "shd"]
    tenant_id: uuid.UUID
    secret: str


def new_secret() -> str:
    return secrets.token_hex(32)


def digest(secret: str) -> str:
    """SHA-256 hex: what the database keeps instead of a secret (secrets are random, no salt needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def session_cookie_value(tenant_id: uuid.UUID, secret: str) -> str:
    return f"{tenant_id.hex}.{secret}"


def parse_session_cookie(value: str) -> tuple[uuid.UUID, str]:
    match = _COOKIE.match(value)
    if match is None:
        raise AuthenticationError("invalid session")
    return uuid.UUID(hex=match.group(1)), match.group(2)


def bearer_token(kind: Literal["shk", "shd"], tenant_id: uuid.UUID, secret: str) -> str:
    return f"{kind}_{tenant_id.hex}_{secret}"


def parse_authorization(header: str) -> ParsedToken:
    """``Authorization: Bearer shk_…`` or ``shd_…``; anything else is a 401."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise AuthenticationError("unsupported authorization scheme")
    match = _BEARER.match(token.strip())
    if match is None:
        raise AuthenticationError("malformed token")
    kind: Literal["shk", "shd"] = "shk" if match.group(1) == API_TOKEN_PREFIX else "shd"
    return ParsedToken(kind, uuid.UUID(hex=match.group(2)), match.group(3))


def new_pairing_code() -> str:
    return "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(PAIRING_CODE_LENGTH))


def normalize_pairing_code(code: str) -> str:
    """People type codes with spaces, dashes and in lower case."""
    return re.sub(r"[\s-]", "", code).upper()
