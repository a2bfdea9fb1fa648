"""What a receipt printer put on paper, as :func:`devices.escpos.decode.decode` reads it from ESC/POS bytes.

Items are frozen dataclasses in paper order. Bitmaps are packed 1-bit rows, most significant bit first, a set
bit is a black dot (the ESC/POS convention), each row padded to whole bytes; sizes are in printer dots as
printed, scaling modes (double width, 8-dot column modes) already applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

Align = Literal["left", "center", "right"]
FONT_WIDTH = {0: 12, 1: 9, 2: 9}  # dots per character at size 1: Font A 12x24, Font B 9x17 (203 dpi)
FONT_HEIGHT = {0: 24, 1: 17, 2: 17}

# Pillow's mode "1" stores a set bit as white: ESC/POS bitmaps are flipped on the way in and out.
INVERT = bytes(255 - i for i in range(256))


@dataclass(frozen=True, slots=True)
class Style:
    """Character style of ESC ! / GS ! / ESC E / ESC - / ESC M / GS B at the time a character was received."""

    bold: bool = False
    underline: int = 0  # 0 off, 1 one dot, 2 two dots
    width: int = 1  # multiplier 1-8
    height: int = 1  # multiplier 1-8
    font: int = 0  # 0 Font A (12x24), 1 Font B (9x17), 2 Font C
    invert: bool = False


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A run of characters of one style inside a printed line."""

    text: str
    style: Style


@dataclass(frozen=True, slots=True)
class TextLine:
    """One printed line of text.

    The style fields are the first span's (the style the line starts with), except ``height``, the tallest;
    lines that mix styles keep every run in ``spans``. ``margin`` (GS L) and ``area`` (GS W, 0 = the whole
    paper) are in dots.
    """

    text: str
    align: Align = "left"
    bold: bool = False
    underline: int = 0
    width: int = 1
    height: int = 1
    font: int = 0
    invert: bool = False
    spans: tuple[TextSpan, ...] = ()
    margin: int = 0
    area: int = 0


@dataclass(frozen=True, slots=True)
class RasterImage:
    """A bit image (GS v 0, GS ( L / GS 8 L, ESC *, GS * + GS /, FS q + FS p) as printed."""

    width: int
    height: int
    data: bytes  # packed rows, (width + 7) // 8 bytes each, set bit = black dot
    align: Align = "left"
    source: str = "GS v 0"  # the command that printed it

    @staticmethod
    def from_image(image: Image.Image, *, align: Align = "left", source: str = "GS v 0") -> RasterImage:
        """A Pillow image (black pixels become dots) as a raster image."""
        # Inverted as a greyscale image so the padding bits at the end of each row come out clear.
        dots = image.convert("1").convert("L").point(lambda v: 255 - v).convert("1")
        return RasterImage(dots.width, dots.height, dots.tobytes(), align, source)

    def to_image(self) -> Image.Image:
        """The bitmap as a mode "1" Pillow image: black dots on white."""
        if self.width == 0 or self.height == 0:
            return Image.new("1", (self.width, self.height), 1)
        return Image.frombytes("1", (self.width, self.height), self.data.translate(INVERT))

    def dot(self, x: int, y: int) -> bool:
        """Whether the dot at column ``x``, row ``y`` is black."""
        stride = (self.width + 7) // 8
        return bool(self.data[y * stride + x // 8] & (0x80 >> (x % 8)))


@dataclass(frozen=True, slots=True)
class Barcode:
    """A 1D barcode (GS k) or a 2D symbol other than QR (GS ( k: PDF417, DataMatrix, Aztec, ...).

    ``data`` is the human-readable content (CODE128's code-set prefixes resolved, 2D data read as UTF-8 or
    else Latin-1); ``raw`` the bytes as sent.
    """

    symbology: str
    data: str
    raw: bytes = b""
    height: int = 162  # dots (GS h)
    module: int = 3  # dots (GS w)
    hri: Literal["none", "above", "below", "both"] = "none"
    align: Align = "left"


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code printed natively (GS ( k cn=49): data stored with fn 80, printed with fn 81."""

    data: str
    raw: bytes = b""
    module: int = 3  # dots per module (fn 67)
    ec: Literal["L", "M", "Q", "H"] = "L"
    model: int = 2
    align: Align = "left"


@dataclass(frozen=True, slots=True)
class Feed:
    """Paper fed without printing: ``lines`` (ESC d) or ``dots`` (ESC J)."""

    lines: int = 0
    dots: int = 0


@dataclass(frozen=True, slots=True)
class Cut:
    """A paper cut (GS V, ESC i, ESC m); ``feed`` is the feed of GS V's forms B-D, in dots."""

    partial: bool = False
    feed: int = 0


@dataclass(frozen=True, slots=True)
class DrawerKick:
    """A cash-drawer pulse: ESC p (``realtime`` False) or DLE DC4 1 (True); ``pin`` 2 or 5."""

    pin: int = 2
    realtime: bool = False


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image printed from printer memory the stream did not fill (FS p, GS ( L fn 69, GS /)."""

    source: str
    key: str


Item = TextLine | RasterImage | Barcode | QrCode | Feed | Cut | DrawerKick | StoredImage


@dataclass(slots=True)
class Printout:
    """What one byte stream printed, in paper order, with counters of what it did besides printing."""

    items: list[Item] = field(default_factory=list)
    cuts: int = 0
    drawer_kicks: int = 0
    status_queries: int = 0
    unknown: list[bytes] = field(default_factory=list)

    def text(self) -> str:
        """The plain text: one line per printed text line, trailing spaces stripped, no alignment."""
        return "\n".join(item.text.rstrip() for item in self.items if isinstance(item, TextLine))

    @property
    def lines(self) -> list[TextLine]:
        return [item for item in self.items if isinstance(item, TextLine)]

    @property
    def images(self) -> list[RasterImage]:
        return [item for item in self.items if isinstance(item, RasterImage)]

    @property
    def barcodes(self) -> list[Barcode]:
        return [item for item in self.items if isinstance(item, Barcode)]

    @property
    def qr_codes(self) -> list[QrCode]:
        return [item for item in self.items if isinstance(item, QrCode)]

    @property
    def has_content(self) -> bool:
        """Whether anything visible was printed: a non-blank line, an image, a code; not feeds or cuts."""
        return any(
            not isinstance(item, TextLine | Feed | Cut | DrawerKick)
            or (isinstance(item, TextLine) and item.text.strip())
            for item in self.items
        )
