"""ESC/POS bytes back into what the printer put on paper: text lines with their style, images, codes, cuts.

:func:`decode` reads a whole stream. :class:`Decoder` is the same machine fed command by command, keeping the
printer's modes between jobs, as the virtual printer needs (it splits jobs at cuts and answers status queries
itself, see :mod:`devices.sim.printer`).

Like a printer, the decoder never fails: a command it does not know is kept in ``Printout.unknown`` and
skipped (by its length when the reference gives one), a command cut off at the end of the stream is kept there
too. Text is held in a line buffer and printed by LF (CR is ignored, as with auto line feed off), by a feed
or cut command, or when the next character would not fit in the print area (the printer wraps); text still
buffered when the stream ends is printed as a last line, and ESC @ discards it, as the printer does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from devices.escpos import bitmaps, charsets, codes
from devices.escpos.codes import EcLevel, Hri
from devices.escpos.commands import NO_EFFECT, TEXT, arg, scan, u16
from devices.escpos.model import (
    FONT_WIDTH,
    Align,
    Barcode,
    Cut,
    DrawerKick,
    Feed,
    Item,
    Printout,
    QrCode,
    RasterImage,
    StoredImage,
    Style,
    TextLine,
    TextSpan,
)

_ALIGN: dict[int, Align] = {0: "left", 1: "center", 2: "right"}
_DEFAULT_TABS = tuple(range(8, 256, 8))  # every 8 Font A characters
# Commands between ESC * strips that do not stop them stacking into one picture.
_STRIP_NEUTRAL = frozenset({"ESC *", "LF", "CR", "ESC 2", "ESC 3", "ESC A", "ESC +"})


@dataclasses.dataclass
class _Modes:
    """What ESC @ resets."""

    style: Style = dataclasses.field(default_factory=Style)
    align: Align = "left"
    code_page: int = 0
    international: int = 0
    margin: int = 0
    area: int = 0
    tabs: tuple[int, ...] = _DEFAULT_TABS
    barcode_height: int = 162
    barcode_module: int = 3
    hri: Hri = "none"
    qr_module: int = 3
    qr_ec: EcLevel = "L"
    qr_model: int = 2


class Decoder:
    """An ESC/POS interpreter that keeps the printer's modes and buffers across :meth:`take` calls."""

    def __init__(self, width_dots: int = 576) -> None:
        self.width_dots = width_dots
        self.printout = Printout()
        self._modes = _Modes()
        self._selected = True  # ESC = : a daisy-chained customer display may be selected instead
        self._buf = b""
        self._spans: list[tuple[Style, list[str]]] = []
        self._dots = 0
        self._line_align: Align = "left"
        self._line_margin = 0
        self._line_area = 0
        self._strip: RasterImage | None = None  # an ESC * strip waiting for its LF
        self._stacking = False  # the last item is an ESC * picture the next strip may extend
        self._stored_graphics: RasterImage | None = None  # GS ( L graphics stored, not yet printed
        self._downloaded: RasterImage | None = None  # GS *
        self._nv: dict[int, RasterImage] = {}  # FS q
        self._symbols: dict[int, bytes] = {}  # GS ( k fn 80 data, by symbol type
        self._handlers: dict[str, Callable[[bytes], None]] = {
            TEXT: self._text,
            "LF": lambda raw: self._flush(blank=True),
            "FF": lambda raw: self._flush(),
            "HT": self._tab,
            "ESC @": self._reset,
            "ESC !": self._esc_bang,
            "GS !": self._gs_bang,
            "ESC E": lambda raw: self._set_style(bold=bool(raw[2] & 1)),
            "ESC -": lambda raw: self._set_style(underline=min(arg(raw[2]), 2)),
            "ESC M": lambda raw: self._set_style(font=min(arg(raw[2]), 2)),
            "GS B": lambda raw: self._set_style(invert=bool(raw[2] & 1)),
            "ESC a": lambda raw: self._set(align=_ALIGN.get(arg(raw[2]), "left")),
            "ESC t": lambda raw: self._set(code_page=raw[2]),
            "ESC R": lambda raw: self._set(international=raw[2]),
            # Beyond the paper, a printer takes the widest margin it has (Epson: "the maximum value").
            "GS L": lambda raw: self._set(margin=min(u16(raw, 2), self.width_dots)),
            "GS W": lambda raw: self._set(area=u16(raw, 2)),
            "ESC $": self._absolute,
            "ESC \\": self._relative,
            "ESC D": self._set_tabs,
            "ESC d": lambda raw: self._feed(lines=raw[2]),
            "ESC J": lambda raw: self._feed(dots=raw[2]),
            "GS h": lambda raw: self._set(barcode_height=raw[2]),
            "GS w": lambda raw: self._set(barcode_module=raw[2]),
            "GS H": lambda raw: self._set(hri=codes.HRI.get(arg(raw[2]), "none")),
            "GS k": self._barcode,
            "GS ( k": self._symbol,
            "GS v 0": self._raster,
            "GS ( L": lambda raw: self._graphics(raw, 5),
            "GS 8 L": lambda raw: self._graphics(raw, 7),
            "ESC *": self._column_strip,
            "GS *": self._define_downloaded,
            "GS /": lambda raw: self._print_stored(
                bitmaps.downloaded_print(self._downloaded, raw), StoredImage("GS /", "downloaded"), raw
            ),
            "FS q": self._define_nv,
            "FS p": lambda raw: self._print_stored(
                bitmaps.nv_print(self._nv, raw), StoredImage("FS p", str(raw[2])), raw
            ),
            "GS V": self._cut,
            "ESC i": lambda raw: self._cut(b"\x1dV\x01"),
            "ESC m": lambda raw: self._cut(b"\x1dV\x01"),
            "ESC p": lambda raw: self._kick(DrawerKick(pin=2 if arg(raw[2]) == 0 else 5)),
            "DLE DC4": self._realtime_pulse,
            "DLE EOT": self._status_query,
            "GS r": self._status_query,
            "ESC v": self._status_query,
        }

    # --- feeding ----------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Interpret ``data``; a command cut off at the end waits for the next call."""
        buf = self._buf + data
        pos = 0
        while pos < len(buf):
            found = scan(buf, pos)
            if found is None:
                break
            name, end = found
            self.execute(name, buf[pos:end])
            pos = end
        self._buf = buf[pos:]

    def execute(self, name: str, raw: bytes) -> None:
        """Interpret one whole command, as :func:`devices.escpos.commands.scan` named and delimited it."""
        if not self._selected and name not in ("ESC =", "DLE EOT", "DLE DC4", "DLE ENQ"):
            return  # the printer is deselected: the bytes are for the customer display
        if name == "ESC =":
            self._selected = bool(raw[2] & 1)
        elif name in self._handlers:
            self._handlers[name](raw)
        elif name not in NO_EFFECT:
            self.printout.unknown.append(raw)
        if name not in _STRIP_NEUTRAL:
            self._stacking = False

    def finish(self, tail: bytes = b"") -> None:
        """The stream ended: a cut-off command is unknown, buffered text is printed."""
        tail = self._buf + tail
        self._buf = b""
        if tail:
            self.printout.unknown.append(tail)
        self._flush()

    def take(self) -> Printout:
        """What was printed since the last call; the modes stay."""
        printout, self.printout = self.printout, Printout()
        self._stacking = False
        return printout

    # --- lines ------------------------------------------------------------------------------------------

    def _append(self, item: Item) -> None:
        self.printout.items.append(item)
        self._stacking = False

    def _limit(self) -> int:
        room = self.width_dots - self._modes.margin
        area = self._modes.area
        return max(min(area, room) if area else room, FONT_WIDTH[0])

    def _put(self, text: str, style: Style) -> None:
        if self._strip is not None:
            self._flush()
        cw = FONT_WIDTH.get(style.font, 12) * style.width
        limit = self._limit()
        for char in text:
            if self._dots and self._dots + cw > limit:
                self._flush()  # the printer wraps a line that does not fit
            if not self._spans:
                self._line_align, self._line_margin, self._line_area = (
                    self._modes.align,
                    self._modes.margin,
                    self._modes.area,
                )
            if self._spans and self._spans[-1][0] == style:
                self._spans[-1][1].append(char)
            else:
                self._spans.append((style, [char]))
            self._dots += cw

    def _flush(self, *, blank: bool = False) -> None:
        """Print the line buffer; ``blank``: an empty buffer still prints an empty line (LF)."""
        if self._strip is not None:
            strip, self._strip = self._strip, None
            last = self.printout.items[-1] if self.printout.items else None
            if self._stacking and isinstance(last, RasterImage) and last.width == strip.width:
                self.printout.items[-1] = bitmaps.stacked(last, strip)
            else:
                self._append(strip)
            self._stacking = True
            return
        if not self._spans:
            if blank:
                self._append(
                    TextLine("", self._modes.align, margin=self._modes.margin, area=self._modes.area)
                )
            return
        spans = tuple(TextSpan("".join(chars), style) for style, chars in self._spans)
        first = spans[0].style
        self._append(
            TextLine(
                text="".join(span.text for span in spans),
                align=self._line_align,
                bold=first.bold,
                underline=first.underline,
                width=first.width,
                height=max(span.style.height for span in spans),
                font=first.font,
                invert=first.invert,
                spans=spans,
                margin=self._line_margin,
                area=self._line_area,
            )
        )
        self._spans, self._dots = [], 0

    def _text(self, raw: bytes) -> None:
        self._put(
            charsets.decode_text(raw, self._modes.code_page, self._modes.international), self._modes.style
        )

    def _tab(self, raw: bytes) -> None:
        stop = next((t * FONT_WIDTH[0] for t in self._modes.tabs if t * FONT_WIDTH[0] > self._dots), None)
        if stop is not None and stop <= self._limit():
            self._pad_to(stop)

    def _pad_to(self, dots: int) -> None:
        style = self._modes.style
        cw = FONT_WIDTH.get(style.font, 12) * style.width
        if dots > self._dots:
            self._put(" " * -(-(dots - self._dots) // cw), style)

    def _absolute(self, raw: bytes) -> None:
        self._pad_to(u16(raw, 2))

    def _relative(self, raw: bytes) -> None:
        shift = u16(raw, 2)
        if shift < 0x8000:  # a negative (two's complement) move would overprint: not shown
            self._pad_to(self._dots + shift)

    def _set_tabs(self, raw: bytes) -> None:
        self._set(tabs=tuple(b for b in raw[2:] if b))

    def _feed(self, *, lines: int = 0, dots: int = 0) -> None:
        had_line = bool(self._spans) or self._strip is not None
        self._flush()
        if lines and had_line:
            lines -= 1  # printing the buffered line is itself the first line fed
        if lines or dots:
            self._append(Feed(lines=lines, dots=dots))

    # --- modes ------------------------------------------------------------------------------------------

    def _set(self, **changes: object) -> None:
        self._modes = dataclasses.replace(self._modes, **changes)  # type: ignore[arg-type]

    def _set_style(self, **changes: object) -> None:
        self._set(style=dataclasses.replace(self._modes.style, **changes))  # type: ignore[arg-type]

    def _reset(self, raw: bytes) -> None:
        self._modes = _Modes()
        self._spans, self._dots, self._strip = [], 0, None  # ESC @ clears the print buffer

    def _esc_bang(self, raw: bytes) -> None:
        n = raw[2]
        self._set(
            style=dataclasses.replace(
                self._modes.style,
                font=n & 1,
                bold=bool(n & 0x08),
                height=2 if n & 0x10 else 1,
                width=2 if n & 0x20 else 1,
                underline=1 if n & 0x80 else 0,
            )
        )

    def _gs_bang(self, raw: bytes) -> None:
        n = raw[2]
        self._set_style(width=min((n >> 4 & 7) + 1, 8), height=min((n & 7) + 1, 8))

    # --- images -----------------------------------------------------------------------------------------

    def _image(self, image: RasterImage | None, raw: bytes) -> None:
        if image is None:
            self.printout.unknown.append(raw)
            return
        self._flush()
        self._append(dataclasses.replace(image, align=self._modes.align))

    def _raster(self, raw: bytes) -> None:
        self._image(bitmaps.raster_command(raw), raw)

    def _graphics(self, raw: bytes, at: int) -> None:
        """GS ( L / GS 8 L, ``raw[at:]`` being m fn and the parameters."""
        fn, params = (raw[at + 1], raw[at + 2 :]) if len(raw) > at + 1 else (-1, b"")
        if fn in (112, 113):
            image = bitmaps.graphics_store(fn, params)
            if image is None:
                self.printout.unknown.append(raw)
                return
            # One store per colour; a two-colour printer prints them together.
            pending = self._stored_graphics
            same = pending is not None and (pending.width, pending.height) == (image.width, image.height)
            self._stored_graphics = bitmaps.merged(pending, image) if pending is not None and same else image
        elif fn == 50:
            if self._stored_graphics is not None:
                self._image(self._stored_graphics, raw)
                self._stored_graphics = None
        elif fn in (69, 85) and len(params) >= 2:
            self._flush()
            self._append(StoredImage(f"GS ( L fn {fn}", params[:2].decode("latin-1")))
        elif fn != 49:  # 49 sets the dot density: nothing to show
            self.printout.unknown.append(raw)

    def _column_strip(self, raw: bytes) -> None:
        strip = bitmaps.column_strip(raw)
        if strip is None:
            self.printout.unknown.append(raw)
            return
        stacking = self._stacking
        if self._spans or self._strip is not None:
            self._flush()
            stacking = False
        self._strip, self._stacking = dataclasses.replace(strip, align=self._modes.align), stacking

    def _define_downloaded(self, raw: bytes) -> None:
        self._downloaded = bitmaps.downloaded(raw)

    def _define_nv(self, raw: bytes) -> None:
        self._nv = bitmaps.nv_images(raw)

    def _print_stored(self, image: RasterImage | None, missing: StoredImage, raw: bytes) -> None:
        if image is not None:
            self._image(image, raw)
        elif arg(raw[-1]) > 3:
            self.printout.unknown.append(raw)
        else:  # defined outside this stream: kept in the printer's memory
            self._flush()
            self._append(missing)

    # --- codes ------------------------------------------------------------------------------------------

    def _barcode(self, raw: bytes) -> None:
        modes = self._modes
        self._flush()
        self._append(
            codes.barcode(
                raw,
                height=modes.barcode_height,
                module=modes.barcode_module,
                hri=modes.hri,
                align=modes.align,
            )
        )

    def _symbol(self, raw: bytes) -> None:
        if len(raw) < 7:
            self.printout.unknown.append(raw)
            return
        cn, fn, params = raw[5], raw[6], raw[7:]
        modes = self._modes
        if cn == 49 and fn == 65 and params:
            self._set(qr_model=params[0] - 48)
        elif cn == 49 and fn == 67 and params:
            self._set(qr_module=params[0])
        elif cn == 49 and fn == 69 and params:
            self._set(qr_ec=codes.QR_EC.get(params[0], "L"))
        elif fn == 80 and params:
            self._symbols[cn] = bytes(params[1:])  # params[0] is m = 48
        elif fn == 81:
            data = self._symbols.get(cn)
            if data is None:
                return  # nothing stored: the printer prints nothing
            self._flush()
            if cn == 49:
                self._append(
                    QrCode(
                        codes.text_of(data), data, modes.qr_module, modes.qr_ec, modes.qr_model, modes.align
                    )
                )
            else:
                symbology = codes.SYMBOLS_2D.get(cn, f"2D {cn}")
                self._append(Barcode(symbology, codes.text_of(data), data, align=modes.align))
        elif cn not in codes.SYMBOLS_2D or fn not in range(65, 83):
            self.printout.unknown.append(raw)
        # other functions (PDF417 columns, rows, module and so on) change nothing the decoder shows

    # --- cuts, drawer, status ---------------------------------------------------------------------------

    def _cut(self, raw: bytes) -> None:
        m = raw[2]
        self._flush()
        self._append(Cut(partial=m in (1, 49, 66, 98, 104), feed=raw[3] if len(raw) > 3 else 0))
        self.printout.cuts += 1

    def _kick(self, kick: DrawerKick) -> None:
        self._append(kick)
        self.printout.drawer_kicks += 1

    def _realtime_pulse(self, raw: bytes) -> None:
        if raw[2] == 1:
            self._kick(DrawerKick(pin=2 if raw[3] == 0 else 5, realtime=True))

    def _status_query(self, raw: bytes) -> None:
        self.printout.status_queries += 1


def decode(data: bytes, width_dots: int = 576) -> Printout:
    """Everything ``data`` prints on paper ``width_dots`` wide (576: 80 mm, 384: 58 mm at 203 dpi)."""
    decoder = Decoder(width_dots)
    decoder.feed(data)
    decoder.finish()
    return decoder.take()


__all__ = ["Decoder", "decode"]
