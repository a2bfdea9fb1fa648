"""Variable-measure EAN-13 codes printed by store scales (and price-embedded labels).

GS1 leaves prefixes 20-29 to each store ("restricted circulation"). A scale label is::

    PP IIIII VVVVV C
    |  |     |     +- EAN-13 check digit over the first 12 digits
    |  |     +------- value: grams (weight codes) or minor units (price codes), 5 digits
    |  +------------- PLU: the product's 5-digit scale code, leading zeros kept
    +---------------- prefix, 20..29, meaning set per store

Default rules (:data:`DEFAULT_RULES`): 20 and 21 carry a weight in grams, 22 and 23 a price in minor
units; 24..29 are left unconfigured because stores also use them for coupons and internal codes, which
must not be read as scale labels. Stores change the rules to match how their scales are programmed.

A weight of N grams is N thousandths of a kg: exactly the cart quantity of a product sold by the kg.
Five price digits reach $99,999 CLP or USD 999.99.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from actors.sales.errors import BadBarcodeError, InvalidScaleRulesError
from schema.barcodes import gtin_check_digit

ScaleKind = Literal["weight", "price"]
_KINDS: Final = ("weight", "price")
_STORE_PREFIXES: Final = frozenset(str(p) for p in range(20, 30))


@dataclass(frozen=True, slots=True)
class ScaleBarcodeRules:
    """Which 2-digit prefixes (20..29) are scale labels, and what their value means."""

    prefixes: Mapping[str, ScaleKind] = field(
        default_factory=lambda: {"20": "weight", "21": "weight", "22": "price", "23": "price"}
    )

    def __post_init__(self) -> None:
        for prefix, kind in self.prefixes.items():
            if prefix not in _STORE_PREFIXES:
                raise InvalidScaleRulesError(
                    f"scale barcode prefix {prefix!r} is not a store prefix (20..29)", prefix=prefix
                )
            if kind not in _KINDS:
                raise InvalidScaleRulesError(
                    f"scale barcode prefix {prefix} has kind {kind!r}; expected 'weight' or 'price'",
                    prefix=prefix,
                    kind=kind,
                )
        # A private read-only copy: the rules cannot change under a till after it validated them.
        object.__setattr__(self, "prefixes", MappingProxyType(dict(self.prefixes)))


DEFAULT_RULES: Final = ScaleBarcodeRules()


@dataclass(frozen=True, slots=True)
class ScaleBarcode:
    plu: str  # the 5 PLU digits as printed, leading zeros kept
    kind: ScaleKind
    value: int  # grams for "weight", minor units for "price"


def parse(code: str, rules: ScaleBarcodeRules = DEFAULT_RULES) -> ScaleBarcode | None:
    """The scale label in ``code``, or None when ``code`` is not one under ``rules``.

    None means "look the code up as an ordinary barcode or SKU": not 13 ASCII digits, or a prefix the rules
    do not configure. A configured prefix with a wrong check digit is a damaged label and raises
    :class:`BadBarcodeError` (reading it as something else would sell the wrong weight or price).
    """
    if len(code) != 13 or not (code.isascii() and code.isdigit()):
        return None
    kind = rules.prefixes.get(code[:2])
    if kind is None:
        return None
    expected = gtin_check_digit(code[:12])
    if int(code[12]) != expected:
        raise BadBarcodeError(
            f"scale barcode {code} has check digit {code[12]}, expected {expected}",
            barcode=code,
            expected=expected,
        )
    return ScaleBarcode(plu=code[2:7], kind=kind, value=int(code[7:12]))
