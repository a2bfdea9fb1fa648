"""Password and PIN hashing with Argon2id (argon2-cffi).

Hashing is CPU-bound (tens of milliseconds by design), so the async helpers run it in a worker thread
and the event loop keeps serving sockets meanwhile.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        # Verified against when the user does not exist, so unknown users cost as much as known ones.
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant-cost check; ``None`` (unknown user) still pays for one verification."""
        try:
            return (
                self.hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    async def hash_async(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify, password_hash, password)

    # PINs (quick cashier switch at a till) are short: same Argon2id, and callers must rate-limit them.
    def hash_pin(self, pin: str) -> str:
        return self.hash(pin)

    def verify_pin(self, pin_hash: str | None, pin: str) -> bool:
        return self.verify(pin_hash, pin)


_default: Passwords | None = None


def default_passwords() -> Passwords:
    """One hasher with default parameters for the process (seeds, the CLI, PIN approvals at the till)."""
    global _default
    if _default is None:
        _default = Passwords()
    return _default


def hash_password(password: str) -> str:
    """Hash with default parameters (for seeds and the CLI)."""
    return default_passwords().hash(password)
