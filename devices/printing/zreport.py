"""The Z report (cash session close) as ESC/POS bytes: what the register expected in each tender, what the
cashier counted blind, and the signed difference (``+`` over, ``-`` short), so the manager sees a shortfall
at a glance and signs the paper.
"""

from __future__ import annotations

from devices.printing.documents import Branding, Currency
from devices.printing.layout import Paper, format_datetime, format_money, format_signed_money, zone
from devices.printing.receipt import printable_tax_id
from schema.messages.till import ZReport

_TENDERS = {"cash": "EFECTIVO", "card": "TARJETA"}


def z_report_bytes(
    z: ZReport, branding: Branding, register_name: str, *, columns: int = 48, currency: Currency = "CLP"
) -> bytes:
    country = "EC" if currency == "USD" else "CL"
    tz = zone(branding.timezone, country)
    paper = Paper(columns)

    def money(amount: int) -> str:
        return format_money(amount, currency)

    paper.text(branding.store_name, align="center", bold=True, wide=True, tall=True)
    if branding.legal_name and branding.legal_name != branding.store_name:
        paper.text(branding.legal_name, align="center")
    if branding.tax_id:
        label = "RUT" if country == "CL" else "RUC"
        paper.text(f"{label}: {printable_tax_id(branding.tax_id, country)}", align="center")
    paper.feed()
    paper.text("INFORME Z", align="center", bold=True, wide=True, tall=True)
    paper.text("Cierre de caja", align="center")
    paper.feed()
    paper.pair("Caja", register_name)
    paper.pair("Apertura", format_datetime(z.opened_at, tz))
    paper.pair("Cierre", format_datetime(z.closed_at, tz))
    paper.text(f"Sesión: {z.session_id}")
    paper.rule()
    paper.pair("Ventas", str(z.sales_count))
    paper.pair("Total ventas", money(z.sales_total), bold=True)
    if z.tips:  # inside the tenders' expected amounts below
        paper.pair("Propinas (incluidas abajo)", money(z.tips))
    for line in z.lines:
        paper.rule()
        paper.text(_TENDERS.get(line.tender, line.tender.upper()), bold=True)
        paper.pair("Esperado", money(line.expected))
        paper.pair("Contado", money(line.counted))
        verdict = "Sobrante" if line.difference > 0 else "Faltante" if line.difference < 0 else "Cuadrado"
        paper.pair(f"Diferencia ({verdict})", format_signed_money(line.difference, currency), bold=True)
    paper.rule()
    difference = sum(line.difference for line in z.lines)
    paper.pair("Diferencia total", format_signed_money(difference, currency), bold=True)
    paper.feed(3)
    # Room for the cashier's and the manager's signatures under the count.
    paper.line("_" * min(paper.columns, 30), align="center")
    paper.text("Firma cajero", align="center")
    paper.feed(2)
    paper.line("_" * min(paper.columns, 30), align="center")
    paper.text("Firma supervisor", align="center")
    paper.cut()
    return paper.output
