"""Reference arithmetic for the property tests, written apart from the code under test.

The code under test rounds integer fractions with divmod; the reference rounds ``fractions.Fraction``
values with floor(|x| + 1/2), so a shared mistake is unlikely.
"""

from __future__ import annotations

import math
from fractions import Fraction


def ref_round(x: Fraction) -> int:
    """``x`` to the nearest integer, halves away from zero."""
    magnitude = math.floor(abs(x) + Fraction(1, 2))
    return magnitude if x >= 0 else -magnitude


def ref_round_to(x: Fraction, step: Fraction) -> Fraction:
    """``x`` to the nearest multiple of ``step``, halves away from zero."""
    return ref_round(x / step) * step


def ref_cash_round(amount: int) -> int:
    """Ley 20.956 read off the printed amount: last digit 1-5 down, 6-9 up, 0 stays."""
    text = str(amount)
    last = int(text[-1])
    tens = int(text[:-1] or "0")
    if last == 0:
        return amount
    return tens * 10 if last in (1, 2, 3, 4, 5) else (tens + 1) * 10
