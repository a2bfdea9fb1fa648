"""Receipts as printed: read back from the ESC/POS bytes (text, the TED's PDF417 through zxing-cpp, drawer
kicks), for 80 mm (48 columns, 576 dots) and 58 mm (32 columns, 384 dots) paper."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zxingcpp

from devices.printing.documents import (
    Branding,
    Receipt,
    ReceiptBuyer,
    ReceiptLine,
    ReceiptTax,
    ReceiptTender,
)
from devices.printing.layout import dots_for
from devices.printing.receipt import receipt_bytes, ted_image
from fiscal.cl.authority_keys import DemoAuthority
from fiscal.cl.caf import parse_caf
from fiscal.cl.ted import TedData, stamp, ted_bytes
from tests.devices.printing.support import PrintedLine, barcode_area, read

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "devices"
WIDTHS = [48, 32]
KICK = b"\x1bp\x00"  # ESC p, pin 2
# Date, factura (01), RUC, ambiente 1 (pruebas), serie 001-002, secuencial 123, code, emisión 1, mod-11 digit.
CLAVE = "0105202501179001234500110010020000001231234567810"

BRANDING = Branding(
    store_name="Minimarket Doña Rosa",
    legal_name="Minimarket Doña Rosa & Cía. Ltda.",
    tax_id="76086428-5",
    activity="Venta al por menor de alimentos",
    address="Av. Irarrázaval 2840",
    city="Ñuñoa, Santiago",
    phone="+56 2 2345 6789",
    footer_lines=["¡Gracias por su compra!", "Cambios con boleta dentro de 30 días"],
    sii_office="S.I.I. - ÑUÑOA",
)
LINES = [
    ReceiptLine(name="Pan batido", quantity=1250, unit="kg", unit_price=1990, total=2488),
    ReceiptLine(
        name="Leche semidescremada sin lactosa Colun 1 L",
        quantity=2000,
        unit_price=1090,
        discount_percent=10,
        total=1962,
    ),
    ReceiptLine(name="Bebida Cola 1,5 L", quantity=1000, unit_price=1004, total=1004),
]
IVA = [ReceiptTax(label="IVA", rate_percent=19, net=4584, tax=870)]


@pytest.fixture(scope="module")
def ted() -> bytes:
    authority = DemoAuthority(idk=100)
    caf = parse_caf(
        authority.issue_caf("76086428-5", "Minimarket Doña Rosa & Cía. Ltda.", 39, 1, 100, date(2025, 3, 3))
    )
    data = TedData(
        issuer_rut="76086428-5",
        doc_type=39,
        folio=42,
        issue_date=date(2025, 5, 1),
        receiver_rut="66666666-6",
        receiver_name="Peñalolén Ñuñoa & Cía",
        total=5450,
        first_item="Pan batido",
        timestamp=datetime(2025, 5, 1, 9, 15, 0),
    )
    return ted_bytes(stamp(data, caf))


def boleta(ted: bytes | None, **changes: Any) -> Receipt:
    fields: dict[str, Any] = {
        "branding": BRANDING,
        "number": 1234,
        "register_name": "Caja 1",
        "cashier": "Ana Pérez",
        "created_at": "2025-05-01T13:15:00+00:00",
        "lines": LINES,
        "taxes": IVA,
        "total": 5454,
        "rounding": -4,
        "to_pay": 5450,
        "tenders": [ReceiptTender(kind="cash", amount=5450, tendered=10000)],
        "change": 4550,
        "doc_type": 39,
        "folio": 42,
        "ted": ted,
        "sii_resolution": "Res. 80 de 2014",
    }
    fields.update(changes)
    return Receipt(**fields)


def ecuador(**changes: Any) -> Receipt:
    fields: dict[str, Any] = {
        "branding": Branding(store_name="Tienda Don Lucho", tax_id="1790012345001", city="Quito"),
        "country": "EC",
        "currency": "USD",
        "number": 77,
        "created_at": "2025-05-01T13:15:00Z",
        "lines": [ReceiptLine(name="Atún en lata", quantity=3000, unit_price=199, total=597)],
        "taxes": [ReceiptTax(label="IVA", rate_percent=15, net=519, tax=78)],
        "total": 597,
        "to_pay": 597,
        "tenders": [ReceiptTender(kind="card", amount=597)],
        "doc_type": "01",
        "folio": 123,
        "clave_acceso": CLAVE,
    }
    fields.update(changes)
    return Receipt(**fields)


def all_receipts(ted: bytes) -> list[Receipt]:
    return [
        boleta(ted),
        boleta(ted, rounding=0, total=5450, tenders=[ReceiptTender(kind="card", amount=5450)], change=0),
        boleta(None, folio=None),
        boleta(
            ted,
            doc_type=33,
            buyer=ReceiptBuyer(
                tax_id="96874030-K",
                name="Empresas La Polar S.A. Sucursal Plaza Egaña Ñuñoa",
                activity="Venta al por menor en comercios no especializados",
                address="Av. Larraín 5862, local 1024",
                city="La Reina",
            ),
        ),
        boleta(
            ted,
            kind="return",
            doc_type=61,
            lines=[ReceiptLine(name="Pan batido", quantity=-1250, unit="kg", unit_price=1990, total=-2488)],
            taxes=[ReceiptTax(label="IVA", rate_percent=19, net=-2091, tax=-397)],
            total=-2488,
            rounding=-2,
            to_pay=-2490,
            tenders=[ReceiptTender(kind="cash", amount=-2490)],
            change=0,
            reason="Producto en mal estado, cliente devuelve la bolsa completa",
            reference="Boleta electrónica N° 41 del 01-05-2025",
        ),
        ecuador(),
        ecuador(clave_acceso=None),
    ]


@pytest.mark.parametrize("columns", WIDTHS)
def test_no_line_is_wider_than_the_paper(ted: bytes, columns: int) -> None:
    for receipt in all_receipts(ted):
        for reprint in (False, True):
            printed = read(receipt_bytes(receipt, columns=columns, reprint=reprint))
            too_wide = [line.text for line in printed.lines if line.cells > columns]
            assert too_wide == [], f"doc {receipt.doc_type}: {too_wide}"
            assert printed.cuts == 1
            for image in printed.images:
                assert image.width <= dots_for(columns)


@pytest.mark.parametrize("columns", WIDTHS)
def test_boleta_amounts(ted: bytes, columns: int) -> None:
    printed = read(receipt_bytes(boleta(ted), columns=columns))
    text = printed.text
    assert "BOLETA ELECTRÓNICA N° 42" in text
    assert "R.U.T.: 76.086.428-5" in text
    assert "S.I.I. - ÑUÑOA" in text
    assert "Minimarket Doña" in text  # the store name, in double width
    assert "01-05-2025 09:15" in text  # 13:15 UTC in Santiago
    assert "1,250 kg x $1.990/kg" in text
    assert "2 x $1.090 -10%" in text
    assert printed.amount("TOTAL") == "$5.454"
    assert printed.line_starting("TOTAL  ").wide
    assert printed.amount("Redondeo Ley 20.956") == "-$4"
    assert printed.amount("TOTAL A PAGAR") == "$5.450"
    assert "El IVA de esta boleta es $870" in text
    assert "Neto" not in text  # a boleta's prices include IVA
    assert printed.amount("Efectivo") == "$10.000"
    assert printed.amount("Vuelto") == "$4.550"
    assert "¡Gracias por su compra!" in text
    assert "REIMPRESIÓN" not in text and "COPIA" not in text


def test_no_rounding_line_when_there_is_none(ted: bytes) -> None:
    text = read(receipt_bytes(boleta(ted, rounding=0, total=5450))).text
    assert "Redondeo" not in text
    assert "TOTAL A PAGAR" not in text


@pytest.mark.parametrize("columns", WIDTHS)
def test_a_tip_is_printed_apart_from_the_document_total(ted: bytes, columns: int) -> None:
    # 5,454 + propina 545 = 5,999 in cash: rounded to 5,990 (Ley 20.956, -9 on the sale's to_pay).
    tip = boleta(ted, tip=545, rounding=-9, to_pay=5445,
                 tenders=[ReceiptTender(kind="cash", amount=5990, tendered=6000)], change=10)  # fmt: skip
    printed = read(receipt_bytes(tip, columns=columns))
    assert printed.amount("TOTAL") == "$5.454"  # the document's total: the tip is not in it
    assert printed.amount("Propina") == "$545"
    assert printed.amount("TOTAL CON PROPINA") == "$5.990"
    assert printed.amount("Efectivo") == "$6.000" and printed.amount("Vuelto") == "$10"
    assert "El IVA de esta boleta es $870" in printed.text
    assert "Propina" not in read(receipt_bytes(boleta(ted), columns=columns)).text


@pytest.mark.parametrize("columns", WIDTHS)
def test_ted_pdf417_reads_back_to_the_exact_bytes(ted: bytes, columns: int) -> None:
    printed = read(receipt_bytes(boleta(ted), columns=columns))
    [image] = printed.images
    assert image.width <= dots_for(columns)
    symbol_width, _ = barcode_area(image)
    assert symbol_width + 2 * 4 * 2 <= dots_for(columns)  # the symbol and its quiet zone of 4 modules fit
    if columns == 48:
        assert symbol_width == (17 * 12 + 69) * 2  # 12 data columns of 2-dot modules, upright
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.format == zxingcpp.BarcodeFormat.PDF417
    assert barcode.bytes == ted
    # SII's legend follows the stamp.
    after = printed.items[printed.items.index(image) + 1 :]
    legend = [item.text for item in after if isinstance(item, PrintedLine)][:3]
    assert legend == ["Timbre Electrónico SII", "Res. 80 de 2014", "Verifique documento: www.sii.cl"]


def test_pdf417_geometry_per_width(ted: bytes) -> None:
    """80 mm: 12 columns upright (562 dots); 58 mm: the same symbol turned sideways (376 dots)."""
    wide = ted_image(ted, 576)
    assert wide.size[0] == 562
    narrow = ted_image(ted, 384)
    assert narrow.size == (wide.size[1], wide.size[0])
    assert narrow.width <= 384
    small = ted_image(b"<TED>corto</TED>", 384)  # a short one fits upright, even on 58 mm
    assert small.width <= 384 < small.width + 34
    assert zxingcpp.read_barcodes(small)[0].bytes == b"<TED>corto</TED>"


def test_drawer_opens_only_for_cash(ted: bytes) -> None:
    cash = receipt_bytes(boleta(ted))
    assert cash.count(KICK) == 1
    assert cash.index(KICK) < cash.rindex(b"\x1dV")  # before the cut
    card = receipt_bytes(boleta(ted, tenders=[ReceiptTender(kind="card", amount=5450)], change=0))
    assert b"\x1bp" not in card
    assert read(card).kicks == []
    assert "Vuelto" not in read(card).text
    mixed = [ReceiptTender(kind="card", amount=3000), ReceiptTender(kind="cash", amount=2450, tendered=5000)]
    assert read(receipt_bytes(boleta(ted, tenders=mixed))).kicks == [KICK + b"22"]


def test_reprint_says_so_at_the_top(ted: bytes) -> None:
    lines = read(receipt_bytes(boleta(ted), reprint=True)).lines
    assert [lines[0].text, lines[1].text] == ["REIMPRESIÓN", "COPIA"]
    assert lines[0].wide


def test_voucher_without_folio_says_the_document_is_pending() -> None:
    printed = read(receipt_bytes(boleta(None, folio=None)))
    assert "Comprobante de venta N° 1234" in printed.text
    assert "Boleta electrónica pendiente de emisión" in printed.text
    assert "RUT: 76.086.428-5" in printed.text
    assert "BOLETA ELECTRÓNICA N°" not in printed.text
    assert "Timbre" not in printed.text
    assert printed.images == []


def test_factura_shows_net_and_iva_and_the_buyer(ted: bytes) -> None:
    buyer = ReceiptBuyer(tax_id="96874030-K", name="Empresas La Polar S.A.", activity="Retail")
    printed = read(receipt_bytes(boleta(ted, doc_type=33, buyer=buyer)))
    assert "FACTURA ELECTRÓNICA N° 42" in printed.text
    assert printed.amount("Neto") == "$4.584"
    assert printed.amount("IVA 19%") == "$870"
    assert "El IVA de esta boleta" not in printed.text
    assert "Señor(es): Empresas La Polar S.A." in printed.text
    assert "RUT: 96.874.030-K" in printed.text


def test_credit_note_prints_magnitudes_and_the_refund(ted: bytes) -> None:
    receipt = all_receipts(ted)[4]
    data = receipt_bytes(receipt, columns=32)
    printed = read(data)
    assert "NOTA DE CRÉDITO" in printed.text
    assert printed.amount("TOTAL") == "$2.488"
    assert printed.amount("TOTAL A DEVOLVER") == "$2.490"
    assert printed.amount("Devolución en efectivo") == "$2.490"
    assert "Motivo: Producto en mal estado" in printed.text
    assert "Vuelto" not in printed.text
    assert printed.kicks  # cash goes out of the drawer
    assert printed.amount("Redondeo Ley 20.956") == "+$2"  # the refund grew by the rounding
    assert "-$" not in printed.text


@pytest.mark.parametrize("columns", WIDTHS)
def test_ecuador_prints_the_whole_clave_de_acceso(columns: int) -> None:
    printed = read(receipt_bytes(ecuador(), columns=columns))
    lines = [line.text for line in printed.lines]
    start = lines.index("Clave de acceso:")
    assert "".join(lines[start + 1 : start + 3]) == CLAVE
    assert "FACTURA" in lines
    assert "No. 001-002-000000123" in lines
    assert "Ambiente: PRUEBAS" in lines
    assert "Cliente: CONSUMIDOR FINAL" in lines
    assert printed.amount("Subtotal IVA 15%") == "$5.19"
    assert printed.amount("IVA 15%") == "$0.78"
    assert printed.amount("TOTAL") == "$5.97"
    assert "3 x $1.99" in printed.text
    assert printed.images == []
    assert printed.kicks == []  # paid by card


def test_ecuador_without_clave_is_a_voucher() -> None:
    text = read(receipt_bytes(ecuador(clave_acceso=None))).text
    assert "Comprobante de venta N° 77" in text
    assert "Clave de acceso" not in text


def test_receipt_input_is_checked() -> None:
    with pytest.raises(ValueError, match="CL"):
        boleta(None, doc_type="01")
    with pytest.raises(ValueError, match="USD"):
        ecuador(currency="CLP")
    raw = msgspec.to_builtins(ecuador())
    raw["clave_acceso"] = CLAVE[:-1]
    with pytest.raises(msgspec.ValidationError, match="clave_acceso"):
        msgspec.convert(raw, Receipt)
    # The wire form (JSON, TED as base64) decodes back to the same receipt.
    receipt = boleta(b"<TED>\xf1</TED>")
    assert msgspec.json.decode(msgspec.json.encode(receipt), type=Receipt) == receipt


def test_save_artifacts(ted: bytes) -> None:
    """Rendered receipts for people to look at (and the project's renderer to draw, once it exists)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    samples = {
        "boleta-80mm": receipt_bytes(boleta(ted), columns=48),
        "boleta-58mm": receipt_bytes(boleta(ted), columns=32),
        "nota-credito-58mm": receipt_bytes(all_receipts(ted)[4], columns=32),
        "factura-ec-80mm": receipt_bytes(ecuador(), columns=48),
    }
    for name, data in samples.items():
        (ARTIFACTS / f"{name}.bin").write_bytes(data)
        assert read(data).cuts == 1
    try:
        from devices.escpos.decode import decode
        from devices.escpos.render import render_png
    except ImportError:
        return
    for name, data in samples.items():
        width = 576 if "80mm" in name else 384
        png = render_png(decode(data), width)
        assert png[:4] == b"\x89PNG"
        (ARTIFACTS / f"{name}.png").write_bytes(png)


@pytest.mark.parametrize("columns", WIDTHS)
def test_the_project_decoder_reads_the_same_receipt(ted: bytes, columns: int) -> None:
    """Cross-check with ``devices.escpos.decode`` (written apart from these layouts): same lines, nothing
    it does not know, the same kicks and cuts."""
    decode = pytest.importorskip("devices.escpos.decode").decode
    for receipt in all_receipts(ted):
        data = receipt_bytes(receipt, columns=columns, reprint=True)
        ours = read(data)
        theirs = decode(data)
        assert theirs.unknown == []
        # ESC d 6 before the cut is a feed to the decoder and six blank lines to ours.
        assert theirs.text().rstrip("\n") == "\n".join(line.text.rstrip() for line in ours.lines).rstrip("\n")
        assert max(len(line.text.rstrip()) * line.width for line in theirs.lines) <= columns
        assert (theirs.drawer_kicks, theirs.cuts) == (len(ours.kicks), ours.cuts)
        assert [(image.width, image.height) for image in theirs.images] == [
            image.size for image in ours.images
        ]
