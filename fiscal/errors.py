"""Errors of the fiscal package: tax-authority material (CAF, certificates) and signatures.

Every class is a :class:`schema.errors.StorehubError`, so it reaches clients with its stable ``code`` through
``hub.problems``. Messages are written for the shopkeeper who uploaded the file and the engineer reading the
log: they say what is wrong with *this* file ("the CAF is for RUT 76.111.111-1, not this company's
76.222.222-2"), never just "invalid".
"""

from __future__ import annotations

from schema.errors import StorehubError


class FiscalError(StorehubError):
    """A tax document or the material to issue it is not acceptable."""

    code = "fiscal_error"
    status = 400


class InvalidCafError(FiscalError):
    """The folio authorization file (CAF) cannot be used."""

    code = "invalid_caf"


class InvalidCertificateError(FiscalError):
    """The digital certificate (.pfx / .p12) cannot be used to sign."""

    code = "invalid_certificate"


class SignatureError(FiscalError):
    """A signature (XMLDSig or the TED's) does not verify."""

    code = "bad_signature"


class UnreadableSecretError(FiscalError):
    """Data encrypted at rest cannot be decrypted: the key changed or the data was altered."""

    code = "unreadable_secret"
    status = 500
