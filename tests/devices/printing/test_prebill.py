"""A table's precuenta as printed: the tab's items, what is left to pay, the suggested tip and the total with
it, and that it is not a boleta; never a drawer kick."""

from __future__ import annotations

import pytest

from devices.printing.documents import Branding, Prebill, PrebillLine
from devices.printing.prebill import prebill_bytes
from tests.devices.printing.support import read

WIDTHS = [48, 32]


def precuenta(**changes: object) -> Prebill:
    fields: dict[str, object] = {
        "branding": Branding(store_name="Picada Don Lucho", address="Av. Matta 1200", city="Santiago"),
        "table": "M4",
        "number": 57,
        "server": "Luis Mora",
        "guests": 3,
        "created_at": "2025-05-01T23:40:00+00:00",
        "lines": [
            PrebillLine(name="Lomo a lo pobre", unit_price=9800, total=9800, modifiers=["jugoso", "palta"],
                        note="sin cebolla"),
            PrebillLine(name="Pisco sour", quantity=3000, unit_price=3500, total=10500),
        ],
        "total": 20300,
        "tip_percent": 10,
        "suggested_tip": 2030,
    }  # fmt: skip
    fields.update(changes)
    return Prebill(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("columns", WIDTHS)
def test_a_precuenta_shows_the_suggested_tip(columns: int) -> None:
    printed = read(prebill_bytes(precuenta(), columns=columns))
    text = printed.text
    assert "PRECUENTA" in text and "Mesa M4 - Cuenta N° 57" in text
    assert "01-05-2025 19:40" in text  # in Santiago
    assert "Garzón: Luis Mora" in text and "Personas: 3" in text
    assert printed.amount("Lomo a lo pobre") == "$9.800"
    assert "+ jugoso" in text and "+ palta" in text and "Nota: sin cebolla" in text
    assert "3 x $3.500" in text
    assert printed.amount("TOTAL") == "$20.300"
    assert printed.amount("Propina sugerida 10%") == "$2.030"
    assert printed.amount("Total con propina") == "$22.330"
    assert "no es una boleta" in text
    assert "Ya pagado" not in text
    assert printed.kicks == [] and printed.cuts == 1
    assert all(line.cells <= columns for line in printed.lines)


def test_a_partly_paid_tab_says_what_was_paid() -> None:
    printed = read(prebill_bytes(precuenta(paid=5000, total=15300, suggested_tip=1530)))
    assert printed.amount("Ya pagado") == "$5.000"
    assert printed.amount("Total con propina") == "$16.830"
