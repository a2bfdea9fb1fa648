"""One weight reading from a scale, and the integer conversion of a scale's kilogram text into grams.

Weights never pass through floats: a frame's digits become an ``int`` of grams, with the decimal point's
position taken from the frame itself, so "01.250", "1.25" and "012.5" all read as 1250 g.
"""

from __future__ import annotations

import msgspec

__all__ = ["WeightReading", "kg_text_to_grams"]

# The most decimals a kilogram field may carry: a fourth would be a tenth of a gram, which no retail scale
# reports and which an integer count of grams cannot hold without rounding.
_MAX_KG_DECIMALS = 3
# Grams per unit of the last digit, by number of decimals: "1" is 1000 g, "1.2" 100 g per unit, and so on.
_GRAMS_PER_UNIT = (1000, 100, 10, 1)


class WeightReading(msgspec.Struct, frozen=True, kw_only=True):
    """A reading as the scale reported it (and, after :class:`StableWeight`, as stable as it really was).

    ``grams`` is the displayed weight, net of any tare (``net`` says one is applied). A reading that is
    ``overload`` or ``under_zero`` is never ``stable`` and its ``grams`` must not be used to sell.
    """

    grams: int
    stable: bool
    overload: bool = False
    under_zero: bool = False
    net: bool = False

    def __post_init__(self) -> None:
        # Enforced here rather than trusted to each parser: a sale must never take an out-of-range weight.
        if self.stable and (self.overload or self.under_zero):
            raise ValueError("a reading that is overload or under zero cannot be stable")

    @property
    def sellable(self) -> bool:
        """True when the weight may be put on a ticket: stable and inside the scale's range."""
        return self.stable and not self.overload and not self.under_zero


def kg_text_to_grams(field: bytes) -> int:
    """Convert a scale's kilogram text (leading spaces allowed, at most one decimal point) into grams.

    Raises :class:`ValueError` with a readable reason when the text is not such a number.
    """
    text = field.lstrip(b" ")
    if not text:
        raise ValueError(f"weight field {field!r} holds no digits")
    whole, dot, fraction = text.partition(b".")
    # bytes.isdigit() accepts ASCII digits only, unlike str.isdigit(), so no other numerals slip through.
    if not whole.isdigit() or (dot and not fraction.isdigit()):
        raise ValueError(f"weight field {field!r} is not digits with at most one decimal point")
    if len(fraction) > _MAX_KG_DECIMALS:
        raise ValueError(f"weight field {field!r} has more than {_MAX_KG_DECIMALS} decimals")
    return int(whole + fraction) * _GRAMS_PER_UNIT[len(fraction)]
