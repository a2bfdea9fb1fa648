"""Ecuadorian RUC (13 digits): validation of the three kinds SRI issues."""

from __future__ import annotations

from schema.errors import ValidationError


def _mod11(digits: str, weights: tuple[int, ...]) -> int:
    rest = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if rest == 0 else 11 - rest


def _mod10(digits: str) -> int:
    total = 0
    for i, d in enumerate(digits):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return (10 - total % 10) % 10


def validate(value: str) -> str:
    """Return the RUC if valid (natural person, private company or public entity); else raise."""
    ruc = value.strip()
    if len(ruc) != 13 or not ruc.isdigit():
        raise ValidationError(f"RUC {value!r} must have 13 digits")
    province, third = int(ruc[:2]), int(ruc[2])
    if not (1 <= province <= 24 or province == 30):
        raise ValidationError(f"RUC {value!r} has an unknown province code")
    if third < 6:
        ok = _mod10(ruc[:9]) == int(ruc[9]) and ruc[10:] != "000"
    elif third == 9:
        ok = _mod11(ruc[:9], (4, 3, 2, 7, 6, 5, 4, 3, 2)) == int(ruc[9]) and ruc[10:] != "000"
    elif third == 6:
        ok = _mod11(ruc[:8], (3, 2, 7, 6, 5, 4, 3, 2)) == int(ruc[8]) and ruc[9:] != "0000"
    else:
        ok = False
    if not ok:
        raise ValidationError(f"RUC {value!r} has a wrong check digit")
    return ruc
