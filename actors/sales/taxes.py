"""Tax breakdown of a sale whose prices include tax (boleta style), per tax class.

Rule: lines are grouped by tax class (one :class:`TaxLine` per class present, sorted by class name so the
order is stable across runs and tills); per class::

    gross = sum of the class's line totals (tax included)
    net   = round_half_up(gross * 100, 100 + rate)     # gross / (1 + rate), to the nearest minor unit
    tax   = gross - net

Tax is computed on the class total, not per line, as SII and SRI documents state it (per-line rounding
would drift by a peso per line). ``tax`` is the difference, never separately rounded, so ``net + tax ==
gross`` exactly and the breakdown's gross adds up to the sale total to the peso.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from actors.sales.errors import InvalidAmountError, UnknownTaxClassError
from actors.sales.rounding import round_half_up
from schema.messages.till import TaxLine

# Percent rates by tax class. Chile: IVA 19 % or exempt. Ecuador: IVA 15 % (codigoPorcentaje 4), 5 %, 0 %
# and exempt (0 % and exempt differ on the SRI document, not in the arithmetic).
TAX_RATES: Final[Mapping[str, int]] = MappingProxyType(
    {
        "cl_iva": 19,
        "cl_exempt": 0,
        "ec_iva15": 15,
        "ec_iva5": 5,
        "ec_iva0": 0,
        "ec_exempt": 0,
    }
)


def tax_rate(tax_class: str) -> int:
    """The percent rate of ``tax_class``; an unknown class is an error, never a silent 0 %."""
    try:
        return TAX_RATES[tax_class]
    except KeyError:
        known = ", ".join(sorted(TAX_RATES))
        raise UnknownTaxClassError(
            f"unknown tax class {tax_class!r} (known: {known})", tax_class=tax_class
        ) from None


def net_of_tax(gross: int, rate_percent: int) -> int:
    """The net part of a tax-included ``gross``: ``gross / (1 + rate)`` rounded half up."""
    return round_half_up(gross * 100, 100 + rate_percent)


def tax_breakdown(lines: Iterable[tuple[str, int]]) -> list[TaxLine]:
    """One :class:`TaxLine` per tax class present in ``lines`` of ``(tax_class, total incl. tax)``."""
    gross_by_class: dict[str, int] = {}
    for tax_class, total in lines:
        tax_rate(tax_class)  # refuse an unknown class even if its lines add up to 0
        if total < 0:
            raise InvalidAmountError(
                f"a line total must not be negative, got {total} ({tax_class})", total=total
            )
        gross_by_class[tax_class] = gross_by_class.get(tax_class, 0) + total
    breakdown = []
    for tax_class in sorted(gross_by_class):
        gross = gross_by_class[tax_class]
        rate = TAX_RATES[tax_class]
        net = net_of_tax(gross, rate)
        breakdown.append(
            TaxLine(tax_class=tax_class, rate_percent=rate, gross=gross, net=net, tax=gross - net)
        )
    return breakdown
