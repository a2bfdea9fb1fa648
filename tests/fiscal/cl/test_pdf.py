"""The printed DTE: rendered by WeasyPrint, rasterized by PDFium at 300 dpi, its PDF417 read back by zxing-cpp
and its text extracted, for boleta 39, factura 33 and nota de crédito 61 on both layouts.

Every render is saved as a PNG under tests/artifacts/fiscal/ to look at.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]
import pytest
import zxingcpp
from lxml import etree
from PIL import Image

from fiscal.cl.dte import DocLine, Receiver
from fiscal.cl.pdf import (
    InlineOnlyFetcher,
    Layout,
    UnprintableDocumentError,
    money,
    read_document,
    render_pdf,
)
from fiscal.cl.ted import ted_bytes
from fiscal.errors import FiscalError
from tests.fiscal.cl.conftest import SII_NS

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "fiscal"
DPI = 300
MM_PER_PT = 25.4 / 72
RESOLUTION_NUMBER, RESOLUTION_DATE = 80, date(2014, 8, 22)
TITLES = {39: "BOLETA ELECTRÓNICA", 33: "FACTURA ELECTRÓNICA", 61: "NOTA DE CRÉDITO ELECTRÓNICA"}
RECEIVER = Receiver(
    rut="76177907-9",
    razon_social="Ñandú & Compañía Álvarez Limitada",
    giro="Almacén de barrio",
    address="Av. Grecia 1480",
    comuna="Peñalolén",
    city="Santiago",
)
LINES = [
    DocLine(name="Piña golden á granel", quantity=1234, unit="KG", unit_price=2490),
    DocLine(name="Leche entera 1 L", quantity=2000, unit_price=1090, discount_percent=10),
    DocLine(name="Diario La Tercera", quantity=1000, unit_price=800, exempt=True),
]
FOLIOS = {39: 401, 33: 402, 61: 403}
LAYOUTS: tuple[Layout, ...] = ("thermal80", "letter")

Build = Callable[..., etree._Element]


def _pdf(source: bytes | etree._Element, layout: Layout = "letter", **extra: Any) -> bytes:
    return render_pdf(
        source, layout=layout, resolution_number=RESOLUTION_NUMBER, resolution_date=RESOLUTION_DATE, **extra
    )


@dataclass(frozen=True)
class Rendered:
    dte: etree._Element
    pdf: bytes
    image: Image.Image  # the first page at 300 dpi
    text: str  # every page's text, whitespace collapsed
    page_mm: tuple[float, float]
    pages: int
    images_mm: list[tuple[float, float, int, int]]  # placed images: width, height (mm), width, height (px)


def _analyse(dte: etree._Element, pdf: bytes, name: str) -> Rendered:
    document = pdfium.PdfDocument(pdf)
    texts = []
    for page in document:
        texts.append(page.get_textpage().get_text_range())
    page = document[0]
    width, height = page.get_size()
    images = []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        assert isinstance(obj, pdfium.PdfImage)
        left, bottom, right, top = obj.get_bounds()
        px_width, px_height = obj.get_px_size()
        images.append(((right - left) * MM_PER_PT, (top - bottom) * MM_PER_PT, px_width, px_height))
    image = page.render(scale=DPI / 72).to_pil()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    image.save(ARTIFACTS / f"{name}.png")
    return Rendered(
        dte=dte,
        pdf=pdf,
        image=image,
        text=" ".join(" ".join(texts).split()),
        page_mm=(width * MM_PER_PT, height * MM_PER_PT),
        pages=len(document),
        images_mm=images,
    )


@pytest.fixture(scope="module")
def documents(build: Build) -> dict[int, etree._Element]:
    return {
        doc_type: build(doc_type, FOLIOS[doc_type], receiver=RECEIVER, lines=LINES)
        for doc_type in (39, 33, 61)
    }


@pytest.fixture(scope="module")
def rendered(documents: dict[int, etree._Element]) -> dict[tuple[int, str], Rendered]:
    results: dict[tuple[int, str], Rendered] = {}
    for doc_type, dte in documents.items():
        for layout in LAYOUTS:
            # Bytes for one layout, the element for the other: both are accepted.
            source: bytes | etree._Element = etree.tostring(dte) if layout == "letter" else dte
            pdf = _pdf(source, layout)
            results[doc_type, layout] = _analyse(dte, pdf, f"dte_{doc_type}_{layout}")
    return results


def _ted(dte: etree._Element) -> etree._Element:
    ted = dte.find(f"{{{SII_NS}}}Documento/{{{SII_NS}}}TED")
    assert ted is not None
    return ted


def _total(dte: etree._Element, name: str) -> int:
    return int(
        dte.findtext(f"{{{SII_NS}}}Documento/{{{SII_NS}}}Encabezado/{{{SII_NS}}}Totales/{{{SII_NS}}}{name}")
        or "0"
    )


CASES = [(doc_type, layout) for doc_type in (39, 33, 61) for layout in LAYOUTS]


@pytest.mark.parametrize(("doc_type", "layout"), CASES)
def test_the_barcode_reads_back_as_the_documents_ted(
    rendered: dict[tuple[int, str], Rendered], doc_type: int, layout: str
) -> None:
    result = rendered[doc_type, layout]
    expected = ted_bytes(_ted(result.dte))
    assert "<RSR>Ñandú &amp; Compañía Álvarez".encode("iso-8859-1") in expected  # accents and all
    assert "Piña golden á granel".encode("iso-8859-1") in expected  # IT1
    barcodes = [
        code for code in zxingcpp.read_barcodes(result.image) if code.format == zxingcpp.BarcodeFormat.PDF417
    ]
    assert len(barcodes) == 1
    barcode = barcodes[0]
    assert barcode.bytes == expected
    # Security level 5: 64 error-correction codewords. The symbol's grid, from where zxing found it
    # (3 pixels per module at 300 dpi, rows 3 modules high), tells how many codewords it has in all.
    position = barcode.position
    modules = round((position.top_right.x - position.top_left.x) / 3)
    columns = (modules - 69) // 17
    rows = round((position.bottom_left.y - position.top_left.y) / 9)
    assert barcode.ec_level == f"{64 * 100 // (columns * rows)}%"


@pytest.mark.parametrize(("doc_type", "layout"), CASES)
def test_the_printed_text_says_what_the_document_says(
    rendered: dict[tuple[int, str], Rendered], doc_type: int, layout: str
) -> None:
    result = rendered[doc_type, layout]
    text = result.text
    assert "R.U.T.: 76.086.428-5" in text
    assert TITLES[doc_type] in text
    assert f"N° {FOLIOS[doc_type]}" in text
    assert "S.I.I. - ÑUÑOA" in text
    assert "Minimarket Doña Rosa & Cía. Ltda." in text
    assert "Fecha de emisión: 20 de marzo de 2025" in text
    assert "Piña golden á granel" in text
    assert "1,234" in text  # kilograms with their three decimals
    assert "$ 2.490" in text and "$ 3.073" in text  # unit price; 1.234 kg x 2490 = 3072.66 -> 3073
    assert "10 %" in text and "$ 218" in text  # the discount
    assert f"Total {money(_total(result.dte, 'MntTotal'))}" in text
    assert "Timbre Electrónico SII" in text
    assert "Res. 80 de 2014" in text
    assert "Verifique documento: www.sii.cl" in text
    iva = money(_total(result.dte, "IVA"))
    if doc_type == 39:
        assert f"El IVA incluido en esta boleta es de {iva}" in text
        assert "Monto neto" not in text
    else:
        assert "Señor(es): Ñandú & Compañía Álvarez Limitada" in text
        assert "96.874.030-K" not in text and "76.177.907-9" in text
        assert f"Monto neto {money(_total(result.dte, 'MntNeto'))}" in text
        assert f"IVA 19 % {iva}" in text
        assert f"Monto exento {money(800)}" in text
    if doc_type == 61:
        assert "FACTURA ELECTRÓNICA" in text
        assert re.search(r"FACTURA ELECTRÓNICA (N° )?7 (del )?18 de marzo de 2025", text)
        assert "Corrige montos: Devolución de mercadería" in text
    else:
        assert "Referencias" not in text


@pytest.mark.parametrize("doc_type", [39, 33, 61])
def test_receipt_is_80_mm_wide_and_as_long_as_its_content(
    rendered: dict[tuple[int, str], Rendered], doc_type: int
) -> None:
    result = rendered[doc_type, "thermal80"]
    width, height = result.page_mm
    assert width == pytest.approx(80, abs=0.05)
    assert 100 < height < 300  # cut under the content, not the 5 m page it was laid out on
    assert result.pages == 1
    # The last thing printed (the stamp's legend) ends a few millimetres above the bottom edge.
    rows = result.image.convert("L").point(lambda value: 255 if value < 128 else 0).getbbox()
    assert rows is not None
    bottom_margin_mm = (result.image.height - rows[3]) / DPI * 25.4
    assert 2 < bottom_margin_mm < 6
    [(barcode_w, _barcode_h, px_w, _px_h)] = result.images_mm
    module_mm = barcode_w / px_w  # the barcode image has one pixel per module
    assert module_mm >= 0.25
    assert barcode_w <= 80 - 2 * 3  # inside the margins


@pytest.mark.parametrize("doc_type", [39, 33, 61])
def test_letter_stamp_is_at_least_2_by_4_5_cm(
    rendered: dict[tuple[int, str], Rendered], doc_type: int
) -> None:
    result = rendered[doc_type, "letter"]
    assert result.page_mm == pytest.approx((215.9, 279.4), abs=0.1)
    [(width, height, px_w, _px_h)] = result.images_mm
    assert width >= 45 and height >= 20
    assert width / px_w >= 0.25


def test_a_suppliers_document_prints_too(sii_samples: dict[str, bytes]) -> None:
    raw = sii_samples["DTE--76354771-K--33--170.xml"]  # as published: no xmlns, ISO-8859-1
    pdf = render_pdf(raw, layout="letter", resolution_number=0, resolution_date=date(2019, 1, 1))
    ted = etree.fromstring(raw).find("Documento/TED")
    assert ted is not None
    result = _analyse(etree.fromstring(raw), pdf, "sii_sample_33_letter")
    [barcode] = zxingcpp.read_barcodes(result.image)
    assert barcode.bytes == ted_bytes(ted)
    text = result.text
    for expected in (
        "R.U.T.: 76.354.771-K",
        "FACTURA ELECTRÓNICA",
        "N° 170",
        "S.I.I. - QUILLOTA",
        "INGENIERIA ENACON SPA",
        "MINERA LOS PELAMBRES",
        "Forma de pago: Crédito",
        "$ 1.258.950",  # PrcItem 1258950.00
        "Monto neto $ 2.517.900",
        "IVA 19 % $ 478.401",
        "Total $ 2.996.301",
        "ORDEN DE COMPRA 4510083633",
        "Res. 0 de 2019",
    ):
        assert expected in text, expected


def test_logo_and_sii_office(documents: dict[int, etree._Element]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), (200, 30, 30)).save(buffer, format="PNG")
    pdf = render_pdf(
        documents[39],
        layout="thermal80",
        logo_png=buffer.getvalue(),
        sii_office="Santiago Oriente",
        resolution_number=RESOLUTION_NUMBER,
        resolution_date=RESOLUTION_DATE,
    )
    result = _analyse(documents[39], pdf, "dte_39_thermal80_logo")
    assert len(result.images_mm) == 2  # the logo and the barcode
    assert "S.I.I. - SANTIAGO ORIENTE" in result.text
    with pytest.raises(UnprintableDocumentError, match="not a PNG"):
        _pdf(documents[39], "thermal80", logo_png=b"GIF89a...")


def test_malformed_documents_are_refused_clearly(documents: dict[int, etree._Element]) -> None:
    without_ted = etree.fromstring(etree.tostring(documents[33]))
    documento = without_ted.find(f"{{{SII_NS}}}Documento")
    assert documento is not None
    documento.remove(_ted(without_ted))
    cases: list[tuple[bytes | etree._Element, str]] = [
        (without_ted, "has no TED"),
        (b"<EnvioDTE><SetDTE/></EnvioDTE>", "not a DTE: its root element is <EnvioDTE>"),
        (b"<DTE version='1.0'><Exportaciones/></DTE>", "has no <Documento>"),
        (b"this is not XML", "not valid XML"),
    ]
    for source, message in cases:
        with pytest.raises(UnprintableDocumentError, match=re.escape(message)) as caught:
            _pdf(source)
        assert isinstance(caught.value, FiscalError)
        assert caught.value.code == "unprintable_dte"
    with pytest.raises(ValueError, match="layout"):
        _pdf(documents[33], "a4")  # type: ignore[arg-type]


def test_nothing_is_fetched_but_inline_data() -> None:
    fetcher = InlineOnlyFetcher()
    for url in ("http://example.com/logo.png", "https://www.sii.cl/", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="refused"):
            fetcher.fetch(url)
    response = fetcher.fetch("data:text/plain;base64,aG9sYQ==")
    assert response.read() == b"hola"


def test_reading_is_namespace_agnostic(documents: dict[int, etree._Element]) -> None:
    raw = etree.tostring(documents[61]).replace(f' xmlns="{SII_NS}"'.encode(), b"", 1)
    assert read_document(raw) == read_document(documents[61])
