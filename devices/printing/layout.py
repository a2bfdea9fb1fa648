"""Text helpers for receipt layouts, and :class:`Paper`, the ESC/POS builder every layout writes through.

Layouts are pure functions ``data -> bytes``: the hub renders a job once, the agent only forwards the bytes,
so a reprint is the same bytes. Everything goes through :class:`Paper`, which wraps every line to the paper's
width (48 columns of Font A on 80 mm paper, 32 on 58 mm) so no layout can print a line that overflows.

Code page: the text is written in PC850 (ESC t 2), forced once after ESC @. It holds every letter Spanish
needs, upper case included (ñ Ñ á Á é É í Í ó Ó ú Ú ü ¿ ¡ °), plus the single-line box drawing characters,
and code page 2 is PC850 on Epson printers and on the clones sold in Chile and Ecuador. Left to itself,
python-escpos's magic encoder would pick PC437 first (it has no Ó or É) and switch pages mid-line.
"""

from __future__ import annotations

import io
import textwrap
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from escpos.printer import Dummy  # type: ignore[import-untyped, unused-ignore]
from PIL import Image, UnidentifiedImageError

Align = Literal["left", "center", "right"]

# An Epson profile with the geometry of the brief's 80 mm printer: 203 dpi, 576 dots, Font A 12 dots wide.
PROFILE = "TM-T20II"
CODE_PAGE = "CP850"
DOTS_PER_COLUMN = 12  # Font A is 12 x 24 dots
MIN_COLUMNS = 24
MAX_COLUMNS = 48  # 576 dots: the widest paper python-escpos's profile lets an image use
LOGO_MAX_HEIGHT = 160  # dots (2 cm): a logo taller than that wastes paper on every receipt
_ZONES = {"CL": "America/Santiago", "EC": "America/Guayaquil"}


def check_columns(columns: int) -> int:
    if not MIN_COLUMNS <= columns <= MAX_COLUMNS:
        raise ValueError(f"a receipt is {MIN_COLUMNS} to {MAX_COLUMNS} columns wide (80 mm: 48, 58 mm: 32)")
    return columns


def dots_for(columns: int) -> int:
    """The paper's printable width in dots: 48 columns -> 576, 32 -> 384."""
    return check_columns(columns) * DOTS_PER_COLUMN


# -- text ---------------------------------------------------------------------------------------------


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters (long words are cut); ``[]`` for blank text."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(paragraph, width, break_long_words=True, break_on_hyphens=False))
    return lines


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` (no ellipsis: "…" is not in the printer's code page)."""
    return text[: max(width, 0)]


def two_columns(left: str, right: str, width: int, fill: str = " ") -> list[str]:
    """``left`` and ``right`` on one line (``"Total ....... $1.990"``); a long ``left`` wraps above.

    The amount stays right-aligned on the last line, so a column of amounts lines up whatever the names.
    """
    right = truncate(right, width)
    room = width - len(right) - 1
    if room < 1:
        return [*wrap(left, width), right.rjust(width)]
    lines = wrap(left, room) or [""]
    last = lines.pop()
    return [*lines, last + " " + fill * (room - len(last)) + right]


def rule(width: int, char: str = "-") -> str:
    return char * width


def box(lines: list[str], width: int) -> list[str]:
    """``lines`` centred in a single-line frame (the "RUT box" of a Chilean tax document)."""
    inner = width - 4
    body = [text for line in lines for text in (wrap(line, inner) or [""])]
    return [
        "┌" + "─" * (width - 2) + "┐",
        *("│ " + text.center(inner) + " │" for text in body),
        "└" + "─" * (width - 2) + "┘",
    ]


def split_evenly(text: str, width: int) -> list[str]:
    """``text`` without spaces (a 49-digit clave de acceso) cut into equal lines of at most ``width``."""
    count = -(-len(text) // width)
    size = -(-len(text) // max(count, 1))
    return [text[i : i + size] for i in range(0, len(text), size)]


# -- money, quantities, times -------------------------------------------------------------------------


def _group(value: int, separator: str) -> str:
    return f"{value:,}".replace(",", separator)


def format_money(amount: int, currency: str) -> str:
    """Integer minor units as printed: CLP ``$1.990`` (no decimals), USD cents ``$1,234.56`` (Ecuador)."""
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    if currency == "CLP":
        return f"{sign}${_group(value, '.')}"
    if currency == "USD":
        return f"{sign}${_group(value // 100, ',')}.{value % 100:02d}"
    raise ValueError(f"unknown currency {currency!r}: CLP or USD")


def format_signed_money(amount: int, currency: str) -> str:
    """An adjustment or a difference: ``+$500``, ``-$200``, ``$0``."""
    return ("+" if amount > 0 else "") + format_money(amount, currency)


def decimal_mark(currency: str) -> str:
    """Chile writes ``1,250 kg``; Ecuador, whose money reads ``$1.99``, writes ``1.250 kg``."""
    return "," if currency == "CLP" else "."


def format_quantity(quantity: int, unit: str, decimal: str = ",") -> str:
    """Thousandths as printed: units ``2`` or ``2,5``; kilograms always with grams, ``1,250 kg``."""
    sign = "-" if quantity < 0 else ""
    whole, thousandths = divmod(abs(quantity), 1000)
    if unit == "kg":
        return f"{sign}{whole}{decimal}{thousandths:03d} kg"
    if thousandths == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}{decimal}{f'{thousandths:03d}'.rstrip('0')}"


def zone(name: str, country: str = "CL") -> ZoneInfo:
    """The store's time zone: ``name`` when set and known, else the country's."""
    try:
        return ZoneInfo(name or _ZONES.get(country, _ZONES["CL"]))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(_ZONES.get(country, _ZONES["CL"]))


def format_datetime(iso: str, tz: ZoneInfo) -> str:
    """The hub's ISO times (UTC) in the store's local time, ``01-05-2025 09:15``; unparsable text as is.

    A naive time is taken as already local.
    """
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return moment.strftime("%d-%m-%Y %H:%M")


# -- the builder --------------------------------------------------------------------------------------


class Paper:
    """An ESC/POS job being written: styled lines that always fit, images, drawer kick, cut."""

    def __init__(self, columns: int = 48) -> None:
        self.columns = check_columns(columns)
        self.dots = dots_for(columns)
        self._printer = Dummy(profile=PROFILE)
        self._printer.hw("INIT")  # ESC @: whatever a previous job left set (size, code page) is reset
        self._printer.charcode(CODE_PAGE)

    @property
    def output(self) -> bytes:
        data: bytes = self._printer.output
        return data

    def text(
        self,
        text: str,
        *,
        align: Align = "left",
        bold: bool = False,
        wide: bool = False,
        tall: bool = False,
        invert: bool = False,
    ) -> None:
        """``text`` wrapped to the width left by its size (double width takes two columns a character)."""
        for line in wrap(text, self.columns // (2 if wide else 1)):
            self.line(line, align=align, bold=bold, wide=wide, tall=tall, invert=invert)

    def line(
        self,
        line: str,
        *,
        align: Align = "left",
        bold: bool = False,
        wide: bool = False,
        tall: bool = False,
        invert: bool = False,
    ) -> None:
        """One line as given, cut if it would not fit (callers wrap; this is the last guard)."""
        line = truncate(line, self.columns // (2 if wide else 1))
        self._printer.set(
            align=align,
            bold=bold,
            invert=invert,
            normal_textsize=not (wide or tall),
            double_width=wide,
            double_height=tall,
        )
        self._printer.textln(line)
        if wide or tall or bold or invert:
            self._printer.set(bold=False, invert=False, normal_textsize=True)

    def lines(self, lines: list[str], *, align: Align = "left", bold: bool = False) -> None:
        for line in lines:
            self.line(line, align=align, bold=bold)

    def pair(
        self, left: str, right: str, *, bold: bool = False, wide: bool = False, tall: bool = False
    ) -> None:
        """``left`` and an amount right-aligned on the same line."""
        for line in two_columns(left, right, self.columns // (2 if wide else 1)):
            self.line(line, bold=bold, wide=wide, tall=tall)

    def rule(self, char: str = "-") -> None:
        self.line(rule(self.columns, char))

    def feed(self, count: int = 1) -> None:
        self._printer.ln(count)

    def image(self, image: Image.Image) -> None:
        """A black-on-white image centred on the paper (GS v 0).

        Centred by padding it to the paper's width here rather than with ESC a: GS v 0 ignores justification
        on some clones, and python-escpos's own centring uses the profile's 576 dots even on 58 mm paper.
        """
        if image.width > self.dots:
            raise ValueError(f"an image {image.width} dots wide does not fit {self.dots} dots of paper")
        canvas = Image.new("L", (self.dots, image.height), 255)
        canvas.paste(image.convert("L"), ((self.dots - image.width) // 2, 0))
        self._printer.set(align="left")
        self._printer.image(canvas.convert("1"), impl="bitImageRaster")

    def logo(self, png: bytes) -> None:
        """The store's logo, scaled down to the paper; a logo that is not an image is left out.

        A broken logo in the settings must not stop every receipt of the store from printing.
        """
        try:
            with Image.open(io.BytesIO(png)) as opened:
                opened.load()
                image = opened.convert("RGBA")
        except (UnidentifiedImageError, OSError, ValueError):
            return
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image).convert("L")
        scale = min(1.0, self.dots / image.width, LOGO_MAX_HEIGHT / image.height)
        if scale < 1.0:
            size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS)
        self.image(image.point(lambda value: 255 if value >= 128 else 0))

    def kick_drawer(self) -> None:
        """ESC p 0: a pulse on connector pin 2, where cash drawers are wired."""
        self._printer.cashdraw(2)

    def cut(self) -> None:
        """Feed past the cutter and cut, leaving a hinge (partial cut) where the printer has one."""
        self._printer.cut(mode="PART")
