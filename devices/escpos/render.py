"""A :class:`~devices.escpos.model.Printout` drawn back: as plain text, or as a PNG of the paper.

The PNG is what a 203 dpi thermal printer puts on paper, dot for dot: ``width_dots`` wide (576 for 80 mm,
384 for 58 mm), characters in 12x24 cells for Font A (48 columns on 576 dots) and 9x17 for Font B, scaled by
the size multipliers the way a printer does (each dot repeated), bit images pasted unchanged so a PDF417 or QR
printed as an image reads back from the PNG. Native barcodes and QR codes are drawn from their data (python-
barcode's module patterns, the qrcode library); what cannot be drawn becomes a labelled box.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from devices.escpos.model import (
    FONT_HEIGHT,
    FONT_WIDTH,
    Align,
    Barcode,
    Cut,
    DrawerKick,
    Feed,
    Printout,
    QrCode,
    RasterImage,
    StoredImage,
    Style,
    TextLine,
    TextSpan,
)

LINE_PITCH = 30  # dots: the default line spacing (ESC 2), about 1/6 inch at 203 dpi
MARGIN = 12  # white above the first and below the last item, in dots
MAX_HEIGHT = 40_000  # dots (5 m of paper): longer printouts are cut short rather than exhaust memory
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
_FONT_SIZES = {0: 20, 1: 14, 2: 14}  # DejaVu Sans Mono sizes whose advance fills 12 and 9 dot cells

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Draw = Callable[[Image.Image, int], None]


# --- text -------------------------------------------------------------------------------------------------


def render_text(p: Printout, columns: int = 48) -> str:
    """The printout as plain text ``columns`` wide: lines placed by their alignment, double width counted
    double, images, codes and cuts as one-line placeholders, feeds as empty lines."""
    dots_per_column = 12  # Font A cell: 48 columns on 576 dots, 32 on 384
    out: list[str] = []

    def place(text: str, width: int, align: Align, margin: int = 0, area: int = 0) -> None:
        indent = margin // dots_per_column
        room = min(area // dots_per_column, columns - indent) if area else columns - indent
        free = max(room - width, 0)
        pad = free // 2 if align == "center" else free if align == "right" else 0
        out.append((" " * (indent + pad) + text).rstrip())

    for item in p.items:
        match item:
            case TextLine():
                spans = item.spans or (TextSpan(item.text, Style(width=item.width)),)
                width = sum(len(span.text) * span.style.width for span in spans)
                place(item.text, width, item.align, item.margin, item.area)
            case RasterImage():
                label = f"[image {item.width}x{item.height}]"
                place(label, len(label), item.align)
            case Barcode():
                label = f"[{item.symbology} {item.data}]"
                place(label, len(label), item.align)
            case QrCode():
                label = f"[QR {item.data}]"
                place(label, len(label), item.align)
            case StoredImage():
                label = f"[stored image {item.source} {item.key}]"
                place(label, len(label), "left")
            case Feed():
                out.extend([""] * (item.lines + item.dots // LINE_PITCH))
            case Cut():
                out.append((("- " if item.partial else "-") * columns)[:columns])
            case DrawerKick():
                out.append(f"[drawer kick pin {item.pin}]")
    return "".join(line.rstrip() + "\n" for line in out)


# --- fonts ------------------------------------------------------------------------------------------------


@cache
def _font(font: int, bold: bool) -> Font:
    """DejaVu Sans Mono when this machine has it, else Pillow's own font: a missing font is no failure."""
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    for folder in _FONT_DIRS:
        path = Path(folder) / name
        if path.is_file():
            try:
                return ImageFont.truetype(str(path), _FONT_SIZES.get(font, 20))
            except OSError:
                continue
    try:
        return ImageFont.load_default(_FONT_SIZES.get(font, 20))
    except (OSError, TypeError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


@cache
def _glyph(char: str, font: int, bold: bool) -> Image.Image:
    """One character in its cell at size 1x1, as a mode "1" mask (set = ink)."""
    cell = (FONT_WIDTH.get(font, 12), FONT_HEIGHT.get(font, 24))
    face = _font(font, bold)
    glyph = Image.new("L", cell, 0)
    ImageDraw.Draw(glyph).text((0, 0), char, fill=255, font=face)
    if bold and not (isinstance(face, ImageFont.FreeTypeFont) and "Bold" in str(face.path)):
        # No bold face: strike twice, one dot apart, as the printer's emphasized mode does.
        glyph.paste(255, (1, 0), glyph.crop((0, 0, cell[0] - 1, cell[1])))
    return glyph.point(lambda v: 255 if v >= 128 else 0).convert("1")


def _draw_span(canvas: Image.Image, x: int, bottom: int, span: TextSpan) -> int:
    """Draw ``span`` with its cell bottoms on ``bottom``; the x after it."""
    style = span.style
    cw, ch = FONT_WIDTH.get(style.font, 12) * style.width, FONT_HEIGHT.get(style.font, 24) * style.height
    top = bottom - ch
    end = x + cw * len(span.text)
    if style.invert:
        canvas.paste(0, (x, top, end, bottom))
    ink = 1 if style.invert else 0
    for i, char in enumerate(span.text):
        if char == " ":
            continue
        mask = _glyph(char, style.font, style.bold)
        if style.width != 1 or style.height != 1:
            mask = mask.resize((cw, ch), Image.Resampling.NEAREST)
        canvas.paste(ink, (x + i * cw, top), mask)
    if style.underline:
        canvas.paste(ink, (x, bottom - style.underline, end, bottom))
    return end


# --- paper ------------------------------------------------------------------------------------------------


def _left(width: int, align: Align, paper: int, margin: int = 0, area: int = 0) -> int:
    room = min(area, paper - margin) if area else paper - margin
    free = max(room - width, 0)
    return margin + (free // 2 if align == "center" else free if align == "right" else 0)


def _text_block(line: TextLine, paper: int) -> tuple[int, Draw]:
    spans = line.spans or (TextSpan(line.text, Style()),)
    tallest = max(FONT_HEIGHT.get(s.style.font, 24) * s.style.height for s in spans)
    width = sum(FONT_WIDTH.get(s.style.font, 12) * s.style.width * len(s.text) for s in spans)

    def draw(canvas: Image.Image, y: int) -> None:
        x = _left(width, line.align, paper, line.margin, line.area)
        for span in spans:
            x = _draw_span(canvas, x, y + tallest, span)

    return max(tallest, LINE_PITCH), draw


def _bitmap_block(image: Image.Image, align: Align, paper: int) -> tuple[int, Draw]:
    def draw(canvas: Image.Image, y: int) -> None:
        canvas.paste(image, (_left(image.width, align, paper), y))

    return image.height, draw


def _label_block(label: str, paper: int, height: int = 2 * LINE_PITCH) -> tuple[int, Draw]:
    """A box with a label, for what cannot be drawn (an image kept in the printer, an odd symbology)."""
    span = TextSpan(label[: max(paper // 12 - 2, 1)], Style(font=0))

    def draw(canvas: Image.Image, y: int) -> None:
        ImageDraw.Draw(canvas).rectangle((0, y, paper - 1, y + height - 4), outline=0)
        _draw_span(canvas, 12, y + (height + 24) // 2 - 2, span)

    return height, draw


def _cut_block(cut: Cut, paper: int) -> tuple[int, Draw]:
    def draw(canvas: Image.Image, y: int) -> None:
        dash, gap = (6, 6) if cut.partial else (12, 6)
        for x in range(0, paper, dash + gap):
            canvas.paste(0, (x, y + 7, min(x + dash, paper), y + 9))

    return 16, draw


def _blocks(p: Printout, paper: int) -> list[tuple[int, Draw]]:
    blocks: list[tuple[int, Draw]] = []
    for item in p.items:
        match item:
            case TextLine():
                blocks.append(_text_block(item, paper))
            case RasterImage():
                blocks.append(_bitmap_block(item.to_image(), item.align, paper))
            case Barcode() | QrCode():
                picture = _code_picture(item)
                if picture is None:
                    name = item.symbology if isinstance(item, Barcode) else "QR"
                    blocks.append(_label_block(f"{name} {item.data}", paper))
                else:
                    blocks.append(_bitmap_block(picture, item.align, paper))
            case StoredImage():
                blocks.append(_label_block(f"image {item.source} {item.key}", paper))
            case Feed():
                blocks.append((item.lines * LINE_PITCH + item.dots, lambda canvas, y: None))
            case Cut():
                blocks.append(_cut_block(item, paper))
            case DrawerKick():
                pass  # the drawer opens; the paper shows nothing
    return blocks


def render_png(p: Printout, width_dots: int = 576) -> bytes:
    """The printout as a 1-bit PNG ``width_dots`` wide: what the paper shows."""
    blocks = _blocks(p, width_dots)
    height = min(MARGIN * 2 + sum(h for h, _ in blocks), MAX_HEIGHT)
    canvas = Image.new("1", (width_dots, height), 1)
    y = MARGIN
    for block_height, draw in blocks:
        if y >= height:
            break
        draw(canvas, y)
        y += block_height
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", dpi=(203, 203), optimize=True)
    return buffer.getvalue()


# --- codes ------------------------------------------------------------------------------------------------

_PY_BARCODE = {"EAN13": "ean13", "EAN8": "ean8", "UPC-A": "upca", "CODE128": "code128", "CODE39": "code39"}
_PY_BARCODE.update({"ITF": "itf", "GS1-128": "gs1_128"})
_HRI_GAP = 4


def _code_picture(item: Barcode | QrCode) -> Image.Image | None:
    try:
        return _qr_picture(item) if isinstance(item, QrCode) else _barcode_picture(item)
    except Exception:  # data the library refuses (a wrong check digit...): the caller draws a label
        return None


def _qr_picture(item: QrCode) -> Image.Image | None:
    # Imported on first use: only printouts with native codes need them (both come with python-escpos).
    import qrcode  # type: ignore[import-untyped]
    import qrcode.constants  # type: ignore[import-untyped]

    levels = {"L": "ERROR_CORRECT_L", "M": "ERROR_CORRECT_M", "Q": "ERROR_CORRECT_Q", "H": "ERROR_CORRECT_H"}
    code = qrcode.QRCode(border=0, error_correction=getattr(qrcode.constants, levels[item.ec]))
    code.add_data(item.raw or item.data.encode())
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return _modules(matrix, max(item.module, 1), max(item.module, 1))


def _barcode_picture(item: Barcode) -> Image.Image | None:
    name = _PY_BARCODE.get(item.symbology)
    if name is None:
        return None
    import barcode  # type: ignore[import-untyped]

    options = {"add_checksum": False} if name == "code39" else {}
    code = barcode.get_barcode_class(name)(item.data, **options)
    pattern: str = code.build()[0]
    bars = _modules([[c == "1" for c in pattern]], max(item.module, 1), max(item.height, 1))
    if item.hri == "none":
        return bars
    text = TextSpan(item.data, Style())
    text_width = FONT_WIDTH[0] * len(item.data)
    above, below = item.hri in ("above", "both"), item.hri in ("below", "both")
    band = FONT_HEIGHT[0] + _HRI_GAP
    picture = Image.new("1", (max(bars.width, text_width), bars.height + band * (above + below)), 1)
    picture.paste(bars, ((picture.width - bars.width) // 2, band if above else 0))
    x = (picture.width - text_width) // 2
    if above:
        _draw_span(picture, x, FONT_HEIGHT[0], text)
    if below:
        _draw_span(picture, x, picture.height, text)
    return picture


def _modules(matrix: list[list[bool]], module_width: int, module_height: int) -> Image.Image:
    rows, cols = len(matrix), len(matrix[0]) if matrix else 0
    small = Image.new("1", (cols, rows), 1)
    small.putdata([0 if dark else 1 for row in matrix for dark in row])
    return small.resize((cols * module_width, rows * module_height), Image.Resampling.NEAREST)
