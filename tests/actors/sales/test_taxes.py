from __future__ import annotations

import pytest

from actors.sales.errors import InvalidAmountError, UnknownTaxClassError
from actors.sales.taxes import TAX_RATES, tax_breakdown
from schema.messages.till import TaxLine


def test_rates() -> None:
    assert dict(TAX_RATES) == {
        "cl_iva": 19,
        "cl_exempt": 0,
        "ec_iva15": 15,
        "ec_iva5": 5,
        "ec_iva0": 0,
        "ec_exempt": 0,
    }


def test_chile_boleta() -> None:
    # 1,190 + 2,380 = 3,570 incl. IVA -> net 3,000, IVA 570; 500 exempt stays 500 / 0.
    lines = [("cl_iva", 1_190), ("cl_exempt", 500), ("cl_iva", 2_380)]
    assert tax_breakdown(lines) == [
        TaxLine(tax_class="cl_exempt", rate_percent=0, gross=500, net=500, tax=0),
        TaxLine(tax_class="cl_iva", rate_percent=19, gross=3_570, net=3_000, tax=570),
    ]


def test_tax_is_on_the_class_total_not_per_line() -> None:
    # Per line, 1,000 -> net 840.34 -> 840 (tax 160) three times = tax 480. On the total, 3,000 ->
    # net 2,521.01 -> 2,521, tax 479: the class total is what the document states.
    assert tax_breakdown([("cl_iva", 1_000)] * 3) == [
        TaxLine(tax_class="cl_iva", rate_percent=19, gross=3_000, net=2_521, tax=479)
    ]


def test_ecuador_rates() -> None:
    lines = [("ec_iva15", 1_150), ("ec_iva5", 2_100), ("ec_iva0", 300), ("ec_exempt", 40)]
    assert [(t.tax_class, t.gross, t.net, t.tax) for t in tax_breakdown(lines)] == [
        ("ec_exempt", 40, 40, 0),
        ("ec_iva0", 300, 300, 0),
        ("ec_iva15", 1_150, 1_000, 150),
        ("ec_iva5", 2_100, 2_000, 100),
    ]


def test_rounding_half_up_on_net() -> None:
    # 1 peso incl. 19 %: net 0.84 -> 1, tax 0. 10 pesos: net 8.40 -> 8, tax 2.
    assert tax_breakdown([("cl_iva", 1)])[0].net == 1
    assert (tax_breakdown([("cl_iva", 10)])[0].net, tax_breakdown([("cl_iva", 10)])[0].tax) == (8, 2)


def test_zero_class_is_listed_with_zeros() -> None:
    assert tax_breakdown([("cl_iva", 0)]) == [
        TaxLine(tax_class="cl_iva", rate_percent=19, gross=0, net=0, tax=0)
    ]
    assert tax_breakdown([]) == []


def test_unknown_class() -> None:
    with pytest.raises(UnknownTaxClassError) as info:
        tax_breakdown([("cl_iva", 100), ("vat20", 0)])
    assert info.value.code == "unknown_tax_class"
    assert info.value.details == {"tax_class": "vat20"}
    assert "vat20" in info.value.message


def test_negative_line() -> None:
    with pytest.raises(InvalidAmountError):
        tax_breakdown([("cl_iva", -1)])
