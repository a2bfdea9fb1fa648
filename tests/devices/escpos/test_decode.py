"""The decoder reads back what python-escpos writes: text in any code page and size, images, codes, cuts."""

from __future__ import annotations

import pytest
import zxingcpp
from escpos.printer import Dummy  # type: ignore[import-untyped, unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from devices.escpos.commands import TEXT, split
from devices.escpos.decode import Decoder, decode
from devices.escpos.model import Barcode, Cut, DrawerKick, Feed, QrCode, RasterImage, TextLine

SPANISH = "¿Señor Ñúñez? ¡Sí! Almacén «Peñalolén»: café, piñón, ají, jamón, ñandú, pingüino."


def _printer() -> Dummy:
    return Dummy()


def _lines(data: bytes, width_dots: int = 576) -> list[TextLine]:
    return decode(data, width_dots).lines


def _picture(width: int = 100, height: int = 50) -> Image.Image:
    """A test picture with features in every corner, so a shifted or flipped decode shows."""
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 9, 4), fill=0)
    draw.rectangle((width - 3, height - 7, width - 1, height - 1), fill=0)
    draw.line((0, height - 1, width - 1, 0), fill=0)
    draw.ellipse((30, 10, 60, 40), outline=0)
    return image


def _same_dots(decoded: RasterImage, source: Image.Image) -> bool:
    cropped = decoded.to_image().crop((0, 0, source.width, source.height))
    return cropped.tobytes() == source.convert("1").tobytes()


# --- text -------------------------------------------------------------------------------------------------


def test_spanish_text_comes_back_as_the_same_unicode() -> None:
    p = _printer()
    p.textln(SPANISH[:40])
    p.textln(SPANISH[40:])
    out = decode(p.output)
    assert out.text() == f"{SPANISH[:40].rstrip()}\n{SPANISH[40:]}"  # text() strips trailing spaces
    assert out.unknown == []


def test_characters_outside_cp437_switch_code_pages_and_still_decode() -> None:
    text = "€ 1.990 — Łódź ŽČ Ωμέγα ñ"
    p = _printer()
    p.textln(text)
    p.textln("☃ sin página")
    assert p.output.count(b"\x1bt") >= 4  # the magic encoder switched pages (ISO 8859-7, CP1252, CP852)
    assert decode(p.output).text() == f"{text}\n? sin página"  # no page has a snowman


@pytest.mark.parametrize(
    ("settings_", "expected"),
    [
        ({"double_width": True, "double_height": True}, (2, 2)),
        ({"double_height": True}, (1, 2)),
        ({"double_width": True}, (2, 1)),
        ({"custom_size": True, "width": 3, "height": 5}, (3, 5)),
        ({"normal_textsize": True}, (1, 1)),
    ],
)
def test_sizes(settings_: dict[str, object], expected: tuple[int, int]) -> None:
    p = _printer()
    p.set(custom_size=True, width=4, height=4)  # something to reset
    p.set(**settings_)
    p.textln("Ñandú")
    (line,) = _lines(p.output)
    assert (line.text, (line.width, line.height)) == ("Ñandú", expected)


@pytest.mark.parametrize("align", ["left", "center", "right"])
def test_alignment(align: str) -> None:
    p = _printer()
    p.set(align=align)
    p.textln("Boleta electrónica")
    p.set(align="left")
    p.textln("después")
    first, second = _lines(p.output)
    assert (first.align, second.align) == (align, "left")


def test_bold_underline_invert_font_and_mixed_styles_on_one_line() -> None:
    p = _printer()
    p.set(bold=True, underline=2, invert=True, font="b")
    p.text("TOTAL ")
    p.set(bold=False, underline=0, invert=False, font="a")
    p.textln("$7.490")
    (line,) = _lines(p.output)
    assert line.text == "TOTAL $7.490"
    assert (line.bold, line.underline, line.invert, line.font) == (True, 2, True, 1)
    assert [span.text for span in line.spans] == ["TOTAL ", "$7.490"]
    assert line.spans[1].style.bold is False and line.spans[1].style.font == 0


def test_esc_bang_sets_every_mode_at_once() -> None:
    (line,) = _lines(b"\x1b!\xb9Hola\n")  # font B, emphasized, double height and width, underline
    assert (line.font, line.bold, line.height, line.width, line.underline) == (1, True, 2, 2, 1)


def test_long_lines_wrap_at_the_print_area() -> None:
    p = _printer()
    p.textln("x" * 50)
    p.set(double_width=True)
    p.textln("y" * 20)
    assert [line.text for line in _lines(p.output)] == ["x" * 48, "x" * 2, "y" * 20]
    assert [line.text for line in _lines(p.output, 384)] == ["x" * 32, "x" * 18, "y" * 16, "y" * 4]


def test_international_set_latin_america() -> None:
    lines = _lines(b"\x1bR\x0c@[\\]^`{|}~\n\x1bR\x00@\n")
    assert [line.text for line in lines] == ["á¡Ñ¿éüíñóú", "@"]


def test_tabs_and_feeds() -> None:
    out = decode(b"\x1b@a\tb\n\x1bD\x04\x00c\td\n\x1bd\x03e\x1bd\x02\x1bJ\x10")
    assert out.text() == "a       b\nc   d\ne"
    assert [item for item in out.items if isinstance(item, Feed)] == [
        Feed(lines=3),
        Feed(lines=1),
        Feed(dots=16),
    ]


def test_line_display_text_is_not_printed() -> None:
    p = _printer()
    p.textln("en papel")
    p.linedisplay("en el visor")
    p.textln("otra vez en papel")
    assert decode(p.output).text() == "en papel\notra vez en papel"


def test_esc_at_clears_an_unfinished_line() -> None:
    assert decode(b"perdido\x1b@impreso\n").text() == "impreso"


def test_cr_lf_is_one_line() -> None:
    assert decode(b"uno\r\ndos\r\n").text() == "uno\ndos"


# --- images -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impl", "source"), [("bitImageRaster", "GS v 0"), ("graphics", "GS ( L"), ("bitImageColumn", "ESC *")]
)
def test_images_in_the_three_implementations(impl: str, source: str) -> None:
    picture = _picture()
    p = _printer()
    p.textln("antes")
    p.image(picture, impl=impl)
    p.textln("después")
    out = decode(p.output)
    (image,) = out.images
    assert image.source == source
    assert image.width == {"bitImageRaster": 104, "graphics": 100, "bitImageColumn": 100}[impl]
    assert image.height == {"bitImageColumn": 72}.get(impl, 50)  # whole 24-dot strips
    assert _same_dots(image, picture)
    assert out.text() == "antes\ndespués"  # the strips' line feeds are not blank lines
    assert out.unknown == []


def test_tall_images_are_sent_in_fragments_and_stack() -> None:
    picture = _picture(64, 200)
    p = _printer()
    p.image(picture, impl="bitImageColumn", fragment_height=96)
    (image,) = decode(p.output).images
    assert image.height >= 200
    assert _same_dots(image, picture)


def test_low_density_modes_print_stretched() -> None:
    picture = _picture(64, 48)
    p = _printer()
    p.image(picture, impl="bitImageRaster", high_density_horizontal=False, high_density_vertical=False)
    p.image(picture, impl="bitImageColumn", high_density_vertical=False)
    raster, column = decode(p.output).images
    assert (raster.width, raster.height) == (128, 96)
    assert _same_dots(raster, picture.resize((128, 96), Image.Resampling.NEAREST))
    assert (column.width, column.height) == (64, 144)  # 8-dot strips print each dot three dots high
    assert _same_dots(column, picture.resize((64, 144), Image.Resampling.NEAREST))


def test_single_density_columns_and_the_large_graphics_command() -> None:
    picture = _picture(48, 24)
    p = _printer()
    p.image(picture, impl="bitImageColumn", high_density_horizontal=False)  # ESC * 32
    p.textln("-")  # strips of one width that touch stack into one picture: keep these two apart
    p.image(picture, impl="bitImageColumn", high_density_horizontal=False, high_density_vertical=False)  # 0
    p.image(picture, impl="graphics")
    stream = bytes(p.output)
    at = stream.index(b"\x1d(L")
    size = int.from_bytes(stream[at + 3 : at + 5], "little")
    # The same graphics store as GS 8 L, with its four-byte length.
    large = b"\x1d8L" + size.to_bytes(4, "little") + stream[at + 5 : at + 5 + size]
    wide, quadruple, graphics, graphics_8l = decode(stream + large + b"\x1d(L\x02\x0002").images
    assert (wide.width, wide.height) == (96, 24)
    assert _same_dots(wide, picture.resize((96, 24), Image.Resampling.NEAREST))
    assert (quadruple.width, quadruple.height) == (96, 72)
    assert _same_dots(quadruple, picture.resize((96, 72), Image.Resampling.NEAREST))
    assert graphics_8l.data == graphics.data and _same_dots(graphics, picture)


def test_margins_print_area_and_cut_forms() -> None:
    out = decode(b"\x1dL\x30\x00\x1dW\x80\x01" + b"z" * 40 + b"\n\x1dVA\x05\x1dVB\x00\x1dVa\x03\x1dVh\x01")
    first, second = out.lines
    assert (first.text, first.margin, first.area, second.text) == ("z" * 32, 48, 384, "z" * 8)
    cuts = [item for item in out.items if isinstance(item, Cut)]
    assert cuts == [Cut(False, 5), Cut(True, 0), Cut(False, 3), Cut(True, 1)]


def test_settings_without_visible_effect_are_not_unknown() -> None:
    out = decode(b"\x1bc5\x01\x1da\x00\x1b=\x01\x1c.\x1b3\x10\x1b2\x1d|\x04\x1bG\x01ok\n")
    assert (out.unknown, out.text()) == ([], "ok")


def test_downloaded_and_nv_bit_images() -> None:
    column = bytes([0xFF, 0x00, 0x81] * 8)  # GS * x=1 y=3: 8 columns of 24 dots
    out = decode(
        b"\x1d*\x01\x03"
        + column
        + b"\x1d/\x00"
        + b"\x1cq\x01\x01\x00\x03\x00"
        + column
        + b"\x1cp\x01\x00\x1cp\x02\x00"
    )
    first, second, missing = out.items
    assert isinstance(first, RasterImage) and (first.width, first.height) == (8, 24)
    assert first.dot(0, 0) and not first.dot(0, 8) and first.dot(0, 23)
    assert isinstance(second, RasterImage) and second.data == first.data
    assert missing == decode(b"\x1cp\x02\x00").items[0]


def test_qr_as_an_image_reads_back() -> None:
    p = _printer()
    p.qr("https://www.sii.cl/boleta?folio=123", size=4)
    (image,) = decode(p.output).images
    (found,) = zxingcpp.read_barcodes(image.to_image().convert("L"))
    assert found.text == "https://www.sii.cl/boleta?folio=123"


# --- codes ------------------------------------------------------------------------------------------------


def test_barcodes_both_forms() -> None:
    p = _printer()
    p.barcode("7801234567893", "EAN13", height=80, width=2, pos="ABOVE")
    p.barcode("7801234567893", "EAN13", function_type="B")
    p.barcode("{BStorehub-1", "CODE128", function_type="B")
    p.barcode("{C\x0c\x22\x38", "CODE128", function_type="B", check=False)
    ean_a, ean_b, code128, code128c = decode(p.output).barcodes
    assert (ean_a.symbology, ean_a.data, ean_a.height, ean_a.module, ean_a.hri) == (
        "EAN13",
        "7801234567893",
        80,
        2,
        "above",
    )
    assert (ean_b.symbology, ean_b.data, ean_b.align) == ("EAN13", "7801234567893", "center")
    assert (code128.data, code128.raw) == ("Storehub-1", b"{BStorehub-1")
    assert code128c.data == "123456"


def test_native_qr() -> None:
    p = _printer()
    p.qr("Ñuñoa 2025 — boleta 123", native=True, size=6, ec=2)
    out = decode(p.output)
    assert out.qr_codes == [
        QrCode("Ñuñoa 2025 — boleta 123", "Ñuñoa 2025 — boleta 123".encode(), module=6, ec="Q", model=2)
    ]


def test_native_pdf417_is_a_barcode() -> None:
    store = b"\x1d(k" + (len(b"<TED>") + 3).to_bytes(2, "little") + b"0P0<TED>"
    out = decode(store + b"\x1d(k\x03\x000Q0")
    assert out.barcodes == [Barcode("PDF417", "<TED>", b"<TED>")]


# --- cuts, drawer, status ---------------------------------------------------------------------------------


def test_cut_and_cash_drawer() -> None:
    p = _printer()
    p.textln("uno")
    p.cashdraw(2)
    p.cashdraw(5)
    p.cut()
    p.textln("dos")
    p.cut(mode="PART")
    p.cut(feed=False)
    out = decode(p.output + b"\x10\x14\x01\x00\x02")
    assert [item for item in out.items if isinstance(item, Cut | DrawerKick)] == [
        DrawerKick(pin=2),
        DrawerKick(pin=5),
        Cut(partial=False),
        Cut(partial=True),
        Cut(partial=True, feed=0),
        DrawerKick(pin=2, realtime=True),
    ]
    assert (out.cuts, out.drawer_kicks) == (3, 3)
    assert out.text() == "uno\ndos"


def test_status_queries_are_counted() -> None:
    out = decode(b"\x10\x04\x01\x10\x04\x04\x1dr\x01Hola\n")
    assert (out.status_queries, out.text()) == (3, "Hola")


def test_bytes_inside_image_data_are_not_commands() -> None:
    data = b"\x10\x04\x01\x1dV\x00\x1bp\x00" * 4  # 36 bytes that look like a status query, a cut, a kick
    out = decode(b"\x1dv0\x00\x04\x00\x09\x00" + data)
    assert (len(out.images), out.status_queries, out.cuts, out.drawer_kicks) == (1, 0, 0, 0)


# --- bad input --------------------------------------------------------------------------------------------


def _sample_stream() -> bytes:
    p = _printer()
    p.hw("INIT")
    p.set(align="center", bold=True, double_height=True)
    p.textln("Almacén Ñuñoa")
    p.image(_picture(40, 30), impl="graphics")
    p.barcode("7801234567893", "EAN13", function_type="B")
    p.qr("hola", native=True)
    p.cashdraw(2)
    p.cut()
    return bytes(p.output)


def test_every_truncation_decodes_and_keeps_the_cut_off_command() -> None:
    stream = _sample_stream()
    commands, tail = split(stream)
    assert tail == b"" and decode(stream).unknown == []
    start = 0
    for name, raw in commands:
        for end in range(start + 1, start + len(raw)):
            # A run of text cut short is shorter text; any command cut short is kept whole as unknown.
            assert decode(stream[:end]).unknown == ([] if name == TEXT else [stream[start:end]])
        start += len(raw)


def test_unknown_commands_are_skipped_by_their_length() -> None:
    out = decode(b"\x1d(A\x02\x00\x31\x32Hola\n\x1b\x01x\x1cg2y\n\x01adi\xc3\xb3s\n")
    assert out.unknown == [b"\x1d(A\x02\x001\x32", b"\x1b\x01", b"\x1cg", b"\x01"]
    assert out.text() == "Hola\nx2y\nadi├│s"  # UTF-8 bytes read as the printer's PC437


def test_a_barcode_without_its_nul_does_not_swallow_the_rest() -> None:
    out = decode(b"\x1dk\x04" + b"A" * 300 + b"\nfin\n")
    assert out.barcodes == [] and out.unknown == [b"\x1dk\x04"]
    assert out.text().endswith("fin")


# Bytes that start or parametrize commands, so random streams hit the scanner's length rules often.
_LEADS = (b"\x1b", b"\x1d", b"\x1c", b"\x10", b"\x1dv0", b"\x1d8L", b"\x1d(k", b"\x1d(L")
COMMAND_BYTES = st.sampled_from(
    list(_LEADS) + [bytes((b,)) for b in b"\x00\x01\x02\x04\x14()*!01PQAVkpqL\n\xff"]
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.lists(COMMAND_BYTES, max_size=120).map(b"".join))
def test_garbage_never_raises(data: bytes) -> None:
    out = decode(data)
    # Everything is accounted for: fed in any split, the decoder reaches the same result.
    decoder = Decoder()
    for i in range(0, len(data), 7):
        decoder.feed(data[i : i + 7])
    decoder.finish()
    assert decoder.take() == out
