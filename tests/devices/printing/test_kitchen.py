"""Kitchen tickets as printed: large type, modifiers under their item, the recall banner, no drawer."""

from __future__ import annotations

from typing import Any

import pytest

from devices.printing.documents import KitchenItem, KitchenTicket
from devices.printing.kitchen import kitchen_ticket_bytes
from tests.devices.printing.support import read

ITEMS = [
    KitchenItem(quantity=2000, name="Lomo a lo pobre", modifiers=["término medio", "sin cebolla"]),
    KitchenItem(
        quantity=1000,
        name="Ensalada chilena con cilantro y ají verde picado fino",
        note="alergia al maní: preparar aparte, tabla y cuchillo limpios",
    ),
    KitchenItem(quantity=12500, unit="kg", name="Costillar de cerdo"),
]


def ticket(**changes: Any) -> KitchenTicket:
    fields: dict[str, Any] = {
        "station": "Cocina",
        "number": "A-102",
        "table": "Mesa 4",
        "server": "Jorge",
        "created_at": "2025-05-01T01:05:00+00:00",
        "course": "Fondo",
        "items": ITEMS,
        "note": "Cliente apurado, llevar junto con la bebida",
    }
    fields.update(changes)
    return KitchenTicket(**fields)


@pytest.mark.parametrize("columns", [48, 32])
def test_large_type_and_nothing_overflows(columns: int) -> None:
    printed = read(kitchen_ticket_bytes(ticket(recall=True), columns=columns))
    assert [line.text for line in printed.lines if line.cells > columns] == []
    for text in ("COCINA", "Mesa 4", "Pedido A-102", "2x Lomo a lo", "FONDO"):
        line = printed.line_starting(text)
        assert line.wide and line.tall, text
    assert printed.cuts == 1
    assert printed.kicks == []
    assert b"\x1bp" not in kitchen_ticket_bytes(ticket())


def test_modifiers_and_notes_are_indented_under_their_item() -> None:
    lines = [line.text for line in read(kitchen_ticket_bytes(ticket())).lines]
    lomo = lines.index("2x Lomo a lo pobre")
    assert lines[lomo + 1 : lomo + 3] == ["    - término medio", "    - sin cebolla"]
    ensalada = lines.index("1x Ensalada chilena con")
    assert lines[ensalada + 1].startswith("   ")  # the name goes on under the name, not the quantity
    note = next(text for text in lines if "Nota:" in text)
    assert note.startswith("    Nota: alergia al maní")
    assert lines.index(note) > ensalada
    assert "12,500 kg Costillar de" in lines
    assert any(text.startswith("NOTA: Cliente apurado") for text in lines)


def test_long_quantity_goes_on_its_own_line_on_58mm() -> None:
    lines = [line.text for line in read(kitchen_ticket_bytes(ticket(), columns=32)).lines]
    costillar = lines.index("12,500 kg")
    assert lines[costillar + 1] == "Costillar de"


def test_time_in_the_kitchen_zone() -> None:
    text = read(kitchen_ticket_bytes(ticket())).text
    assert "Hora: 21:05  30-04-2025" in text  # 01:05 UTC is 21:05 the day before in Santiago
    assert "Garzón: Jorge" in text


def test_recall_banner_only_when_recalled() -> None:
    recalled = read(kitchen_ticket_bytes(ticket(recall=True)))
    banner = recalled.lines[0]
    assert banner.text.strip() == "REENVÍO"
    assert banner.wide and banner.tall
    assert b"\x1dB\x01" in kitchen_ticket_bytes(ticket(recall=True))  # white on black
    assert "REENVÍO" not in read(kitchen_ticket_bytes(ticket())).text
