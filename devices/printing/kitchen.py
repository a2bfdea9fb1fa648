"""A kitchen ticket as ESC/POS bytes: read at arm's length over a hot pass, so table, order and items are in
double width and height, modifiers and notes in double height under their item. A ticket sent again says so
in a reversed banner, so the cooks do not make the order twice. Never opens a drawer.
"""

from __future__ import annotations

from devices.printing.documents import KitchenItem, KitchenTicket
from devices.printing.layout import Paper, format_datetime, format_quantity, wrap, zone

INDENT = "    "


def kitchen_ticket_bytes(t: KitchenTicket, *, columns: int = 48) -> bytes:
    paper = Paper(columns)
    if t.recall:
        paper.line(" REENVÍO ", align="center", bold=True, wide=True, tall=True, invert=True)
        paper.text("Pedido reenviado: no es un pedido nuevo", align="center")
        paper.feed()
    paper.text(t.station.upper(), align="center", bold=True, wide=True, tall=True)
    if t.table:
        paper.text(t.table, align="center", bold=True, wide=True, tall=True)
    paper.text(f"Pedido {t.number}", align="center", bold=True, wide=True, tall=True)
    when = format_datetime(t.created_at, zone(t.timezone))
    paper.text(f"Hora: {when[-5:]}  {when[:10]}")  # the time first: that is what the cooks look at
    if t.server:
        paper.text(f"Garzón: {t.server}")
    if t.course:
        paper.text(t.course.upper(), align="center", bold=True, wide=True, tall=True)
    paper.rule("=")
    for item in t.items:
        _item(paper, item)
    paper.rule("=")
    if t.note:
        for line in wrap(f"NOTA: {t.note}", paper.columns):
            paper.line(line, bold=True, tall=True)
    paper.cut()
    return paper.output


def _item(paper: Paper, item: KitchenItem) -> None:
    """``2x Lomo a lo pobre``, the name's continuation lines under the name, not under the quantity."""
    quantity = format_quantity(item.quantity, item.unit)
    prefix = f"{quantity} " if item.unit == "kg" else f"{quantity}x "
    width = paper.columns // 2
    if len(prefix) > width // 2:  # "12,500 kg" on 58 mm: the quantity on its own line, the name below
        paper.line(prefix.rstrip(), bold=True, wide=True, tall=True)
        prefix = ""
    for index, text in enumerate(wrap(item.name, width - len(prefix)) or [""]):
        lead = prefix if index == 0 else " " * len(prefix)
        paper.line(lead + text, bold=True, wide=True, tall=True)
    for modifier in item.modifiers:
        for index, text in enumerate(wrap(modifier, paper.columns - len(INDENT) - 2)):
            paper.line(INDENT + ("- " if index == 0 else "  ") + text, tall=True)
    if item.note:
        for index, text in enumerate(wrap(item.note, paper.columns - len(INDENT) - 6)):
            paper.line(INDENT + ("Nota: " if index == 0 else "      ") + text, bold=True, tall=True)
