"""Rendering a printout: plain text placed by alignment, and a PNG of the paper that barcodes read back from.

PNGs are saved under tests/artifacts/devices/ to look at.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from escpos.printer import Dummy  # type: ignore[import-untyped, unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from devices.escpos import render
from devices.escpos.decode import decode
from devices.escpos.model import Printout, Style, TextLine, TextSpan
from devices.escpos.render import render_png, render_text
from fiscal.cl.pdf417 import ted_barcode
from tests.devices.escpos.test_decode import COMMAND_BYTES

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "devices"
TED = (
    b'<TED version="1.0"><DD><RE>76086428-5</RE><TD>39</TD><F>7</F><FE>2025-05-01</FE>'
    b"<RR>66666666-6</RR><RSR>Pe\xf1alol\xe9n \xd1u\xf1oa & C\xeda</RSR><MNT>3490</MNT>"
    b'<IT1>Pan amasado</IT1></DD><FRMT algoritmo="SHA1withRSA">aGVsbG8gd29ybGQ=</FRMT></TED>'
)


def _save(name: str, png: bytes) -> Image.Image:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return Image.open(io.BytesIO(png))


def _receipt() -> bytes:
    p = Dummy()
    p.set(align="center", bold=True, double_width=True, double_height=True)
    p.textln("Ñuñoa")
    p.set(align="center", bold=False, normal_textsize=True)
    p.textln("Boleta electrónica 39")
    p.set(align="right")
    p.textln("$7.490")
    p.set(align="left", invert=True)
    p.textln("Pan amasado")
    p.set(invert=False)
    p.barcode("7801234567894", "EAN13")
    p.cut()
    return bytes(p.output)


@pytest.mark.parametrize("columns", [48, 32])
def test_text_places_lines_by_alignment(columns: int) -> None:
    text = render_text(decode(_receipt(), columns * 12), columns)
    lines = text.splitlines()
    half = columns // 2
    assert lines[0] == " " * (half - 5) + "Ñuñoa"  # 5 characters counted double: 10 columns, centred
    assert lines[1] == " " * ((columns - 21) // 2) + "Boleta electrónica 39"
    assert lines[2] == " " * (columns - 6) + "$7.490"
    assert lines[3] == "Pan amasado"
    assert lines[4] == " " * ((columns - 21) // 2) + "[EAN13 7801234567894]"
    assert lines[-1] == "-" * columns
    assert lines[-7:-1] == [""] * 6  # the six lines python-escpos feeds before cutting
    assert text.endswith("\n")


def test_text_of_images_and_margins() -> None:
    p = Printout(
        [
            TextLine("abc", align="center", margin=120, area=240),  # 20 columns from column 10
            TextLine("x", align="right", spans=(TextSpan("x", Style(width=3)),)),
        ]
    )
    p.items.extend(decode(b"\x1ba\x02\x1dv0\x00\x02\x00\x03\x00" + b"\xff" * 6).items)
    assert render_text(p, 48).splitlines() == [
        " " * (10 + 8) + "abc",
        " " * 45 + "x",
        " " * 36 + "[image 16x3]",
    ]


@pytest.mark.parametrize("impl", ["bitImageRaster", "graphics", "bitImageColumn"])
def test_pdf417_printed_as_an_image_reads_back_from_the_png(impl: str) -> None:
    barcode = ted_barcode(TED, module_px=2)
    assert barcode.width <= 576
    p = Dummy()
    p.set(align="center")
    p.textln("Timbre Electrónico SII")
    p.image(barcode, impl=impl)
    p.textln("Res. 80 de 2014 - Verifique: www.sii.cl")
    p.cut()
    printout = decode(p.output)
    png = render_png(printout)
    image = _save(f"ted-pdf417-{impl}.png", png)
    assert image.size[0] == 576
    found = zxingcpp.read_barcodes(image.convert("L"))
    assert [(f.format, f.bytes) for f in found] == [(zxingcpp.BarcodeFormat.PDF417, TED)]


@pytest.mark.parametrize(("align", "left"), [("left", 0), ("center", (576 - 104) // 2), ("right", 576 - 104)])
def test_images_are_drawn_dot_for_dot(align: str, left: int) -> None:
    picture = ted_barcode(TED, module_px=1).crop((0, 0, 100, 90))
    p = Dummy()
    p.set(align=align)
    p.image(picture)
    (image,) = (printout := decode(p.output)).images
    png = Image.open(io.BytesIO(render_png(printout))).convert("1")
    assert png.size == (576, render.MARGIN * 2 + 90)
    assert (
        png.crop((left, render.MARGIN, left + 104, render.MARGIN + 90)).tobytes()
        == image.to_image().tobytes()
    )
    assert (
        png.crop((left, render.MARGIN, left + 100, render.MARGIN + 90)).tobytes()
        == picture.convert("1").tobytes()
    )


def test_png_receipt_draws_text_codes_and_cut() -> None:
    p = Dummy()
    p.textln("Café")
    p.barcode("7801234567894", "EAN13")
    p.qr("https://www.sii.cl", native=True, size=4)
    p.cut()
    for width in (576, 384):
        image = _save(f"receipt-{width}.png", render_png(decode(p.output, width), width))
        assert image.size[0] == width
        found = {(f.format, f.text) for f in zxingcpp.read_barcodes(image.convert("L"))}
        assert found == {
            (zxingcpp.BarcodeFormat.EAN13, "7801234567894"),
            (zxingcpp.BarcodeFormat.QRCode, "https://www.sii.cl"),
        }
    _save("receipt-styles.png", render_png(decode(_receipt())))


def _ink_box(printout: Printout) -> tuple[int, int, int, int]:
    image = Image.open(io.BytesIO(render_png(printout))).convert("L")
    box = Image.eval(image, lambda v: 255 - v).getbbox()
    assert box is not None
    return box


def test_png_sizes_bold_and_invert() -> None:
    normal = _ink_box(decode(b"HHHH\n"))
    wide = _ink_box(decode(b"\x1d!\x10HHHH\n"))
    tall = _ink_box(decode(b"\x1d!\x01HHHH\n"))
    assert normal[0] < 4 and wide[0] < 6  # both start at the left edge (less the glyphs' side bearing)
    assert wide[2] - wide[0] == pytest.approx(2 * (normal[2] - normal[0]), abs=3)
    assert tall[3] - tall[1] == pytest.approx(2 * (normal[3] - normal[1]), abs=3)
    inverted = _ink_box(decode(b"\x1dB\x01HHHH\n"))
    assert (inverted[2] - inverted[0], inverted[3] - inverted[1]) == (48, 24)  # the whole 4x1 cell block
    ink = [
        Image.open(io.BytesIO(render_png(decode(data)))).convert("L").histogram()[0]  # black dots
        for data in (b"HHHH\n", b"\x1bE\x01HHHH\n")
    ]
    assert ink[1] > ink[0] * 1.2


def test_a_missing_font_does_not_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "_FONT_DIRS", ("/nonexistent",))
    render._font.cache_clear()
    render._glyph.cache_clear()
    try:
        assert render_png(decode(_receipt())).startswith(b"\x89PNG")
    finally:
        render._font.cache_clear()
        render._glyph.cache_clear()


def test_garbage_renders() -> None:
    garbage = (
        bytes(range(256)) * 4 + b"\x1dv0\x03\xff\x00\x02\x00" + b"\xaa" * 510 + b"\x1b*\x00\x05\x00abcde"
    )
    printout = decode(garbage)
    assert render_png(printout).startswith(b"\x89PNG")
    assert render_text(printout)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(COMMAND_BYTES | st.binary(max_size=8), max_size=150).map(b"".join), st.sampled_from([576, 384])
)
def test_any_stream_renders(data: bytes, width: int) -> None:
    printout = decode(data, width)
    image = Image.open(io.BytesIO(render_png(printout, width)))
    assert image.size[0] == width
    assert all(len(line) <= 200 for line in render_text(printout, width // 12).splitlines())


def test_a_left_margin_beyond_the_paper_is_the_widest_there_is() -> None:
    """Found by the property above: GS L with 0x1d 0x76 for its parameter asked for 30,237 dots."""
    printout = decode(b"\x1dL\x1dv0" + b"\x1dL\xff\xffhola\n", 576)
    render_png(printout, 576)
    assert all(len(line) <= 200 for line in render_text(printout, 48).splitlines())
