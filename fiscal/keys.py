"""The key that seals a tenant's fiscal secrets at rest, and sealing bound to the tenant.

``at_rest_key`` derives a 32-byte AES-256 key from ``STOREHUB_SECRET_KEY`` with HKDF-SHA256 (no salt, info
``b"storehub fiscal at rest v1"``): the secret key also signs sessions, and a derived key with its own label
keeps the two uses apart. Changing the label (v2) or the secret makes every sealed secret unreadable, so
they would have to be uploaded again.

``seal`` / ``unseal`` wrap :func:`fiscal.certificates.encrypt_at_rest` (AES-256-GCM) with the tenant's id
(its 16 bytes) as associated data: a sealed .pfx or CAF copied into another tenant's row does not open
there, even with the right key.
"""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fiscal.certificates import decrypt_at_rest, encrypt_at_rest
from schema.errors import StorehubError

AT_REST_INFO = b"storehub fiscal at rest v1"
KEY_BYTES = 32
MISSING_SECRET = "set STOREHUB_SECRET_KEY: fiscal secrets are encrypted with it"  # noqa: S105 (a message)


class MissingSecretKeyError(StorehubError):
    """No secret key to seal fiscal secrets with: a configuration problem."""

    code = "secret_key_missing"
    status = 500


def at_rest_key(secret_key: str) -> bytes:
    """The AES-256 key for fiscal secrets, derived from ``secret_key``; an empty one is refused."""
    if not secret_key or not secret_key.strip():
        raise MissingSecretKeyError(MISSING_SECRET)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=AT_REST_INFO)
    return hkdf.derive(secret_key.encode("utf-8"))


def seal(data: bytes, key: bytes, tenant_id: uuid.UUID) -> bytes:
    """``data`` encrypted for ``tenant_id`` only."""
    return encrypt_at_rest(data, key, tenant_id.bytes)


def unseal(blob: bytes, key: bytes, tenant_id: uuid.UUID) -> bytes:
    """What :func:`seal` sealed for ``tenant_id``; raises ``UnreadableSecretError`` for any other tenant, key
    or an altered blob."""
    return decrypt_at_rest(blob, key, tenant_id.bytes)
