import pytest

from fiscal.cl.rut import check_digit, format_rut, normalize
from schema.errors import ValidationError


@pytest.mark.parametrize(
    ("body", "digit"), [(76086428, "5"), (76354771, "K"), (11111111, "1"), (12345678, "5")]
)
def test_check_digit(body: int, digit: str) -> None:
    assert check_digit(body) == digit


def test_normalize_and_format() -> None:
    assert normalize("76.354.771-k") == "76354771-K"
    assert format_rut("76354771K") == "76.354.771-K"


@pytest.mark.parametrize("bad", ["76.354.771-1", "abc", "", "123456789-0", "76354771-X"])
def test_bad_ruts_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        normalize(bad)
