"""What the layouts print: receipts (boleta, factura, nota de crédito; Ecuador's factura and nota de crédito),
kitchen tickets and a restaurant table's precuenta, as the hub hands them to :mod:`devices.printing.receipt`,
:mod:`devices.printing.kitchen` and :mod:`devices.printing.prebill`. The Z report prints
:class:`schema.messages.till.ZReport` as it is.

Money is integer minor units of ``currency`` (CLP has none, USD has cents); quantities are thousandths of the
unit (1000 = 1 unit; 1250 of a kg product = 1,250 kg). A credit note (``kind="return"``) may carry negated
amounts, as the register's ``SaleReceipt`` does: the layout prints their magnitude under the credit note's
title. New fields get defaults so that bytes rendered from older payloads keep working.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Country = Literal["CL", "EC"]
Currency = Literal["CLP", "USD"]
Unit = Literal["unit", "kg"]
TenderKind = Literal["cash", "card"]
# SII codes for Chile (39 boleta, 33 factura, 61 nota de crédito); SRI codes for Ecuador (01, 04).
DocType = Literal[39, 33, 61, "01", "04"]
ClaveAcceso = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{49}$")]

_COUNTRY_DOCS: dict[str, set[int | str]] = {"CL": {39, 33, 61}, "EC": {"01", "04"}}
_COUNTRY_CURRENCY = {"CL": "CLP", "EC": "USD"}


class Branding(msgspec.Struct, frozen=True, kw_only=True):
    """The store as its receipts show it."""

    store_name: str
    legal_name: str = ""  # razón social
    tax_id: str = ""  # RUT (76086428-5) in Chile, RUC (13 digits) in Ecuador
    activity: str = ""  # giro / actividad económica
    address: str = ""
    city: str = ""  # comuna and city
    phone: str = ""
    header_lines: list[str] = []
    footer_lines: list[str] = []
    logo_png: bytes | None = None
    sii_office: str = ""  # SII unit printed under the RUT box, e.g. "S.I.I. - ÑUÑOA"
    timezone: str = ""  # IANA name for printed times; empty: the country's (Santiago, Guayaquil)


class ReceiptLine(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    quantity: int  # thousandths
    unit: Unit = "unit"
    unit_price: int  # per unit or per kg
    discount_percent: int = 0
    total: int  # after the discount


class ReceiptTax(msgspec.Struct, frozen=True, kw_only=True):
    label: str  # "IVA"
    rate_percent: int  # 19, 15, 5, 0
    net: int  # the base the rate applies to (exempt sales: rate 0, tax 0)
    tax: int


class ReceiptTender(msgspec.Struct, frozen=True, kw_only=True):
    kind: TenderKind
    amount: int  # applied to the sale
    tendered: int | None = None  # handed over (cash); None: same as amount


class ReceiptBuyer(msgspec.Struct, frozen=True, kw_only=True):
    """Who a factura is issued to (Chile: RUT, razón social, giro, dirección; Ecuador: RUC or cédula)."""

    tax_id: str
    name: str
    activity: str = ""
    address: str = ""
    city: str = ""


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    branding: Branding
    country: Country = "CL"
    currency: Currency = "CLP"
    kind: Literal["sale", "return"] = "sale"
    number: int  # the store's own sequential sale (or return) number
    register_name: str = ""
    cashier: str = ""
    created_at: str  # ISO 8601, as the hub writes it (UTC)
    lines: list[ReceiptLine]
    taxes: list[ReceiptTax] = []
    total: int
    rounding: int = 0  # Ley 20.956 adjustment of a cash payment (CLP), negative, zero or positive
    to_pay: int  # total + rounding
    tenders: list[ReceiptTender] = []
    change: int = 0  # vuelto
    doc_type: DocType = 39
    folio: int | None = None  # None: no folio yet, the tax document is issued later
    ted: bytes | None = None  # Chile: the flat TED in ISO-8859-1, drawn as PDF417
    sii_resolution: str = ""  # "Res. 80 de 2014"
    clave_acceso: ClaveAcceso | None = None  # Ecuador: 49 digits, None until the document is built
    buyer: ReceiptBuyer | None = None
    reason: str = ""  # a credit note's reason
    reference: str = ""  # a credit note's original document, "Boleta electrónica N° 120"
    tip: int = 0  # propina paid on top (restaurants): not part of the document's total, paid by the tenders

    def __post_init__(self) -> None:
        # A Chilean doc type on an Ecuadorian receipt would print a legally wrong title: refuse it early.
        if self.doc_type not in _COUNTRY_DOCS[self.country]:
            raise ValueError(f"document type {self.doc_type!r} is not one of {self.country}'s")
        if self.currency != _COUNTRY_CURRENCY[self.country]:
            raise ValueError(f"{self.country} receipts are in {_COUNTRY_CURRENCY[self.country]}")


class KitchenItem(msgspec.Struct, frozen=True, kw_only=True):
    quantity: int = 1000  # thousandths, like every quantity
    unit: Unit = "unit"
    name: str
    modifiers: list[str] = []  # "sin cebolla", "término medio"
    note: str = ""


class KitchenTicket(msgspec.Struct, frozen=True, kw_only=True):
    station: str  # "Cocina", "Barra"
    number: str  # order or ticket number as the staff call it
    table: str = ""  # "Mesa 4", "Para llevar"
    server: str = ""  # garzón / mesero
    created_at: str  # ISO 8601
    course: str = ""  # "Entrada", "Fondo", "Postre"
    items: list[KitchenItem]
    note: str = ""
    recall: bool = False  # sent again: the kitchen must see it is not a new order
    timezone: str = "America/Santiago"


class PrebillLine(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    quantity: int = 1000  # thousandths
    unit: Unit = "unit"
    unit_price: int
    total: int
    modifiers: list[str] = []  # "jugoso", "palta"
    note: str = ""


class Prebill(msgspec.Struct, frozen=True, kw_only=True):
    """A table's precuenta: what the tab has to pay, with the suggested tip. Not a tax document."""

    branding: Branding
    country: Country = "CL"
    currency: Currency = "CLP"
    table: str  # "M4"
    number: int  # the tab's number
    server: str = ""
    guests: int = 1
    created_at: str  # ISO 8601: when it was printed
    lines: list[PrebillLine]
    paid: int = 0  # already paid by earlier split payments
    total: int  # left to pay
    tip_percent: int = 10
    suggested_tip: int = 0
