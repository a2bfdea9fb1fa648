"""Chilean RUT: check digit (módulo 11), normalisation and display format."""

from __future__ import annotations

import re

from schema.errors import ValidationError

_RUT = re.compile(r"^(\d{1,8})-?([\dkK])$")


def check_digit(body: int) -> str:
    total, factor = 0, 2
    while body:
        total += (body % 10) * factor
        body //= 10
        factor = 2 if factor == 7 else factor + 1
    rest = 11 - total % 11
    return {11: "0", 10: "K"}.get(rest, str(rest))


def normalize(value: str) -> str:
    """``'76.086.428-5'`` -> ``'76086428-5'``; raises ValidationError if malformed or the digit is wrong."""
    match = _RUT.match(value.replace(".", "").replace(" ", "").strip())
    if not match:
        raise ValidationError(f"RUT {value!r} is not of the form 12345678-9")
    body, digit = int(match.group(1)), match.group(2).upper()
    if check_digit(body) != digit:
        raise ValidationError(f"RUT {value!r} has a wrong check digit")
    return f"{body}-{digit}"


def format_rut(value: str) -> str:
    """``'76086428-5'`` -> ``'76.086.428-5'``."""
    body, digit = normalize(value).split("-")
    return f"{int(body):,}".replace(",", ".") + f"-{digit}"
