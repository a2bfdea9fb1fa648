from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sales.errors import BadBarcodeError, InvalidScaleRulesError
from actors.sales.scale_barcodes import DEFAULT_RULES, ScaleBarcode, ScaleBarcodeRules, parse


def ean13_check(body: str) -> int:
    """Check digit as GS1 spells it out: weights 1, 3, 1, 3... from the left over 12 digits."""
    weighted = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return (10 - weighted % 10) % 10


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("2001234012355", ScaleBarcode(plu="01234", kind="weight", value=1_235)),  # 1.235 kg
        ("2100001005009", ScaleBarcode(plu="00001", kind="weight", value=500)),
        ("2200427009909", ScaleBarcode(plu="00427", kind="price", value=990)),  # $990
        ("2300000123456", ScaleBarcode(plu="00000", kind="price", value=12_345)),
    ],
)
def test_valid_codes(code: str, expected: ScaleBarcode) -> None:
    assert parse(code) == expected


def test_wrong_check_digit() -> None:
    with pytest.raises(BadBarcodeError) as info:
        parse("2001234012356")
    assert info.value.code == "bad_barcode"
    assert info.value.details == {"barcode": "2001234012356", "expected": 5}


@pytest.mark.parametrize(
    "code",
    [
        "7801234567894",  # an ordinary EAN-13 (prefix 78, Chile)
        "2401234012357",  # store prefix 24, not configured by default
        "2901234012358",
        "200123401235",  # 12 digits
        "20012340123550",  # 14 digits
        "",
        "20O1234012355",  # letter O, not zero
        "2001234-12355",
        # full-width digits after an ASCII prefix: str.isdigit() and int() take them, scanners never send them
        "20" + "".join(chr(0xFF10 + int(d)) for d in "01234012355"),
        "PAN-001",
    ],
)
def test_not_a_scale_code(code: str) -> None:
    assert parse(code) is None


def test_configurable_rules() -> None:
    rules = ScaleBarcodeRules(prefixes={"25": "price", "26": "weight"})
    body = "250123401990"
    code = body + str(ean13_check(body))
    assert parse(code, rules) == ScaleBarcode(plu="01234", kind="price", value=1_990)
    assert parse(code) is None  # not under the defaults
    assert parse("2001234012355", rules) is None  # 20 no longer configured


def test_defaults_are_documented_ones() -> None:
    assert dict(DEFAULT_RULES.prefixes) == {"20": "weight", "21": "weight", "22": "price", "23": "price"}


@pytest.mark.parametrize(
    "prefixes",
    [{"19": "weight"}, {"30": "price"}, {"2": "weight"}, {"20": "volume"}],
)
def test_bad_rules(prefixes: dict[str, str]) -> None:
    with pytest.raises(InvalidScaleRulesError):
        ScaleBarcodeRules(prefixes=prefixes)  # type: ignore[arg-type]


def test_rules_cannot_change_after_validation() -> None:
    source = {"20": "weight"}
    rules = ScaleBarcodeRules(prefixes=source)  # type: ignore[arg-type]
    source["21"] = "bogus"
    assert dict(rules.prefixes) == {"20": "weight"}
    with pytest.raises(TypeError):
        rules.prefixes["22"] = "price"  # type: ignore[index]


@given(st.sampled_from(["20", "21", "22", "23"]), st.integers(0, 99_999), st.integers(0, 99_999))
def test_round_trip(prefix: str, plu: int, value: int) -> None:
    body = f"{prefix}{plu:05d}{value:05d}"
    good = int(ean13_check(body))
    parsed = parse(body + str(good))
    assert parsed is not None
    assert (parsed.plu, parsed.value) == (f"{plu:05d}", value)
    assert parsed.kind == ("weight" if prefix in ("20", "21") else "price")
    for wrong in set(range(10)) - {good}:
        with pytest.raises(BadBarcodeError):
            parse(body + str(wrong))
