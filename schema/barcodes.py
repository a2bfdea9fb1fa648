"""EAN-13 / EAN-8 / UPC-A check digits."""

from __future__ import annotations


def gtin_check_digit(body: str) -> int:
    """Check digit for a GTIN body (all digits but the last)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_valid_gtin(code: str) -> bool:
    return len(code) in (8, 12, 13, 14) and code.isdigit() and gtin_check_digit(code[:-1]) == int(code[-1])


def make_ean13(body12: str) -> str:
    if len(body12) != 12 or not body12.isdigit():
        raise ValueError("an EAN-13 body has 12 digits")
    return body12 + str(gtin_check_digit(body12))
