"""A restaurant table's precuenta as ESC/POS bytes: the tab's items, what is left to pay, the suggested tip
("Propina sugerida 10%") and the total with it. It is not a tax document and says so; it never opens the
drawer (no money changes hands).
"""

from __future__ import annotations

from devices.printing.documents import Prebill, PrebillLine
from devices.printing.layout import (
    Paper,
    decimal_mark,
    format_datetime,
    format_money,
    format_quantity,
    wrap,
    zone,
)

INDENT = "  "


def prebill_bytes(p: Prebill, *, columns: int = 48) -> bytes:
    paper = Paper(columns)
    money = p.currency
    paper.text(p.branding.store_name, align="center", bold=True, wide=True, tall=True)
    for text in (p.branding.address, p.branding.city, *p.branding.header_lines):
        if text:
            paper.text(text, align="center")
    paper.feed()
    paper.text("PRECUENTA", align="center", bold=True, wide=True, tall=True)
    paper.text(f"Mesa {p.table} - Cuenta N° {p.number}", align="center", bold=True)
    paper.feed()
    paper.text(f"Fecha: {format_datetime(p.created_at, zone(p.branding.timezone, p.country))}")
    if p.server:
        paper.text(f"Garzón: {p.server}")
    paper.text(f"Personas: {p.guests}")
    paper.rule()
    for line in p.lines:
        _line(paper, line, money)
    paper.rule()
    if p.paid:
        paper.pair("Ya pagado", format_money(p.paid, money))
    paper.pair("TOTAL", format_money(p.total, money), bold=True, wide=True, tall=True)
    paper.pair(f"Propina sugerida {p.tip_percent}%", format_money(p.suggested_tip, money))
    paper.pair("Total con propina", format_money(p.total + p.suggested_tip, money), bold=True)
    paper.feed()
    paper.text("La propina es voluntaria.", align="center")
    paper.text("Este documento no es una boleta", align="center")
    paper.text("ni un comprobante de pago.", align="center")
    paper.cut()
    return paper.output


def _line(paper: Paper, line: PrebillLine, currency: str) -> None:
    total = format_money(line.total, currency)
    if line.unit == "unit" and line.quantity == 1000:
        paper.pair(line.name, total)
    else:
        paper.text(line.name)
        per = "/kg" if line.unit == "kg" else ""
        quantity = format_quantity(line.quantity, line.unit, decimal_mark(currency))
        paper.pair(f"{INDENT}{quantity} x {format_money(line.unit_price, currency)}{per}", total)
    for modifier in line.modifiers:
        for text in wrap(f"{INDENT}+ {modifier}", paper.columns):
            paper.text(text)
    if line.note:
        for text in wrap(f"{INDENT}Nota: {line.note}", paper.columns):
            paper.text(text)
