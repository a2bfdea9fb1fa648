from schema.barcodes import gtin_check_digit, is_valid_gtin, make_ean13
from schema.ids import uuid7


def test_gtin_check_digits() -> None:
    assert gtin_check_digit("780161000119") == 6
    assert is_valid_gtin("7801610001196") and not is_valid_gtin("7801610001195")
    assert is_valid_gtin("96385074")  # EAN-8
    assert make_ean13("780000000001") == "7800000000016"


def test_uuid7_is_version_7_and_strictly_increasing() -> None:
    ids = [uuid7() for _ in range(20000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
