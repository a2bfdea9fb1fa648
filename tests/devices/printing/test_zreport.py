"""The Z report as printed: per-tender expected, counted and signed difference."""

from __future__ import annotations

import re
import uuid

import msgspec
import pytest

from devices.printing.documents import Branding
from devices.printing.zreport import z_report_bytes
from schema.messages.till import ZLine, ZReport
from tests.devices.printing.support import Printed, read

BRANDING = Branding(store_name="Minimarket Doña Rosa", legal_name="Doña Rosa Ltda.", tax_id="76086428-5")


def z_report(*lines: ZLine) -> ZReport:
    return ZReport(
        session_id=uuid.UUID("5f0c1d9e-8d4b-4f3a-9a7e-2b1c3d4e5f60"),
        register_id=uuid.uuid4(),
        opened_at="2025-05-01T12:00:00+00:00",
        closed_at="2025-05-02T01:30:00+00:00",
        sales_count=87,
        sales_total=1_234_560,
        lines=list(lines),
    )


SHORT = ZLine(tender="cash", expected=150_000, counted=149_500, difference=-500)
EVEN = ZLine(tender="card", expected=420_000, counted=420_000, difference=0)
OVER = ZLine(tender="cash", expected=10_000, counted=11_000, difference=1_000)


def pair(printed: Printed, label: str, value: str) -> bool:
    """Whether one line is ``label``, spaces, ``value`` right-aligned."""
    pattern = re.compile(rf"{re.escape(label)} +{re.escape(value)}")
    return sum(bool(pattern.fullmatch(line.text)) for line in printed.lines) == 1


def blocks(printed: Printed) -> dict[str, list[str]]:
    """Each tender's block: its title and the lines under it, up to the next rule."""
    lines = [line.text for line in printed.lines]
    found: dict[str, list[str]] = {}
    for index, text in enumerate(lines):
        if text in {"EFECTIVO", "TARJETA"}:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("---"))
            found[text] = lines[index + 1 : end]
    return found


@pytest.mark.parametrize("columns", [48, 32])
def test_z_report(columns: int) -> None:
    printed = read(z_report_bytes(z_report(SHORT, EVEN), BRANDING, "Caja 1", columns=columns))
    assert [line.text for line in printed.lines if line.cells > columns] == []
    assert printed.line_starting("INFORME Z").wide
    assert pair(printed, "Caja", "Caja 1")
    assert pair(printed, "Apertura", "01-05-2025 08:00")
    assert pair(printed, "Cierre", "01-05-2025 21:30")  # 01:30 UTC the next day
    assert printed.amount("Ventas") == "87"
    assert printed.amount("Total ventas") == "$1.234.560"
    cash = blocks(printed)["EFECTIVO"]
    assert cash[0].split()[-1] == "$150.000" and cash[0].startswith("Esperado")
    assert cash[1].split()[-1] == "$149.500" and cash[1].startswith("Contado")
    assert cash[2].startswith("Diferencia (Faltante)") and cash[2].endswith(" -$500")
    card = blocks(printed)["TARJETA"]
    assert card[2].startswith("Diferencia (Cuadrado)") and card[2].endswith(" $0")
    assert printed.amount("Diferencia total") == "-$500"
    assert "Firma cajero" in printed.text
    assert printed.cuts == 1
    assert printed.kicks == []


def test_overage_is_positive() -> None:
    printed = read(z_report_bytes(z_report(OVER), BRANDING, "Caja 2"))
    assert blocks(printed)["EFECTIVO"][2].endswith(" +$1.000")
    assert "Sobrante" in blocks(printed)["EFECTIVO"][2]
    assert printed.amount("Diferencia total") == "+$1.000"


def test_dollars_for_ecuador() -> None:
    line = ZLine(tender="cash", expected=15_050, counted=15_000, difference=-50)
    printed = read(z_report_bytes(z_report(line), BRANDING, "Caja 1", currency="USD"))
    assert blocks(printed)["EFECTIVO"][0].endswith(" $150.50")
    assert printed.amount("Diferencia total") == "-$0.50"
    assert printed.amount("Total ventas") == "$12,345.60"
    assert pair(printed, "Apertura", "01-05-2025 07:00")  # Guayaquil


def test_tips_are_said_apart_only_when_there_are_some() -> None:
    """A restaurant's tips are inside the tenders' expected amounts: the report says how much they are."""
    with_tips = msgspec.structs.replace(z_report(SHORT, EVEN), tips=12_300)
    printed = read(z_report_bytes(with_tips, BRANDING, "Caja 1"))
    assert printed.amount("Propinas (incluidas abajo)") == "$12.300"
    assert printed.amount("Total ventas") == "$1.234.560"  # sales, not tips
    assert "Propinas" not in read(z_report_bytes(z_report(SHORT, EVEN), BRANDING, "Caja 1")).text
