"""Errors of the sales arithmetic, all input errors under :class:`schema.errors.ValidationError`.

Each has its own stable ``code`` so a till can tell "card exceeds total" from "not enough cash" without
parsing English. ``details`` carries the numbers a client needs to explain the refusal.
"""

from __future__ import annotations

from schema.errors import ValidationError


class InvalidAmountError(ValidationError):
    """An amount of money is out of range (negative where it may not be)."""

    code = "invalid_amount"


class InvalidQuantityError(ValidationError):
    """A quantity is out of range."""

    code = "invalid_quantity"


class InvalidDiscountError(ValidationError):
    """A discount percentage is outside 0..100."""

    code = "invalid_discount"


class UnknownTaxClassError(ValidationError):
    """The tax class is not one Storehub knows."""

    code = "unknown_tax_class"


class UnsupportedCurrencyError(ValidationError):
    """The currency is not one the sales arithmetic handles."""

    code = "unsupported_currency"


class CardExceedsTotalError(ValidationError):
    """Card tenders add up to more than the sale total (cards pay exactly, they never give change)."""

    code = "card_exceeds_total"


class InsufficientTenderError(ValidationError):
    """The tenders do not cover what is to be paid."""

    code = "insufficient_tender"


class BadBarcodeError(ValidationError):
    """The barcode looks like a scale barcode but is damaged (wrong check digit)."""

    code = "bad_barcode"


class InvalidScaleRulesError(ValidationError):
    """The scale barcode configuration is not valid."""

    code = "invalid_scale_rules"


class InvalidSearchError(ValidationError):
    """The catalog search request is not valid."""

    code = "invalid_search"


class InvalidTenderError(ValidationError):
    """A tender is not valid (unknown kind or negative amount)."""

    code = "invalid_tender"
