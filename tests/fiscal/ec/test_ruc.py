import pytest

from fiscal.ec.ruc import validate
from schema.errors import ValidationError


@pytest.mark.parametrize("ruc", ["0992397535001", "1790011674001", "1710034065001", "1760001550001"])
def test_valid_rucs(ruc: str) -> None:
    assert validate(ruc) == ruc


@pytest.mark.parametrize(
    "bad", ["0992397536001", "099239753500", "9992397535001", "0992397535000", "17A0011674001"]
)
def test_bad_rucs_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        validate(bad)
