"""A test-only reader of the ESC/POS that python-escpos writes for our layouts: the printed lines (with how
many columns each really takes, double width counting twice), the raster images, drawer kicks and cuts.

It knows exactly the commands the layouts use and fails on any other, so a layout that starts emitting
something new is noticed here. The project's full decoder is ``devices.escpos.decode``.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from PIL import Image

_CODE_PAGES = {0: "cp437", 2: "cp850"}
_ONE_ARG_ESC = set(b"EGM-{3")  # bold, double strike, font, underline, upside down, line spacing
_INVERT = bytes(255 - i for i in range(256))


@dataclass
class PrintedLine:
    text: str
    cells: int  # columns taken: a double-width character takes two
    wide: bool = False
    tall: bool = False
    bold: bool = False
    align: str = "left"


@dataclass
class Printed:
    items: list[PrintedLine | Image.Image] = field(default_factory=list)
    kicks: list[bytes] = field(default_factory=list)
    cuts: int = 0

    @property
    def lines(self) -> list[PrintedLine]:
        return [item for item in self.items if isinstance(item, PrintedLine)]

    @property
    def images(self) -> list[Image.Image]:
        return [item for item in self.items if isinstance(item, Image.Image)]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def amount(self, label: str) -> str:
        """The amount right of ``label`` on the one line that is ``label`` and an amount."""
        found = [line for line in self.lines if line.text.rsplit(maxsplit=1)[:-1] == [label]]
        assert len(found) == 1, f"{len(found)} lines are {label!r} and an amount:\n{self.text}"
        return found[0].text.split()[-1]

    def line_starting(self, prefix: str) -> PrintedLine:
        found = [line for line in self.lines if line.text.startswith(prefix)]
        assert len(found) == 1, f"{len(found)} lines start with {prefix!r}:\n{self.text}"
        return found[0]


def read(data: bytes) -> Printed:
    printed = Printed()
    page = "cp437"
    wide = tall = bold = False
    align = "left"
    chars: list[str] = []
    cells = 0
    line_wide = line_tall = line_bold = False
    last_was_image = False

    def end_line() -> None:
        nonlocal chars, cells, line_wide, line_tall, line_bold, last_was_image
        printed.items.append(PrintedLine("".join(chars), cells, line_wide, line_tall, line_bold, align))
        chars, cells = [], 0
        line_wide = line_tall = line_bold = False
        last_was_image = False

    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x0A:
            end_line()
            i += 1
        elif byte == 0x1B:
            command = data[i + 1]
            if command == ord("@"):
                page, wide, tall, bold, align = "cp437", False, False, False, "left"
                i += 2
            elif command == ord("t"):
                page = _CODE_PAGES[data[i + 2]]
                i += 3
            elif command == ord("!"):
                mode = data[i + 2]
                wide, tall, bold = bool(mode & 0x20), bool(mode & 0x10), bool(mode & 0x08)
                i += 3
            elif command == ord("a"):
                align = ("left", "center", "right")[data[i + 2] % 48]
                i += 3
            elif command == ord("E"):
                bold = bool(data[i + 2])
                i += 3
            elif command in _ONE_ARG_ESC:
                i += 3
            elif command == ord("d"):  # print and feed n lines
                if chars:
                    end_line()
                for _ in range(data[i + 2]):
                    end_line()
                i += 3
            elif command == ord("p"):
                printed.kicks.append(data[i : i + 5])
                i += 5
            else:
                raise ValueError(f"unexpected ESC 0x{command:02x} at {i}")
        elif byte == 0x1D:
            command = data[i + 1]
            if command == ord("!"):
                size = data[i + 2]
                wide, tall = size >> 4 > 0, size & 0x0F > 0
                i += 3
            elif command in b"Bb":  # reverse, smoothing
                i += 3
            elif command == ord("V"):
                printed.cuts += 1
                i += 4 if data[i + 2] in (65, 66) else 3
            elif command == ord("v") and data[i + 2] == ord("0"):
                width_bytes = data[i + 4] | data[i + 5] << 8
                height = data[i + 6] | data[i + 7] << 8
                raster = data[i + 8 : i + 8 + width_bytes * height]
                image = Image.frombytes("1", (width_bytes * 8, height), raster.translate(_INVERT))
                if last_was_image and isinstance(printed.items[-1], Image.Image):
                    # python-escpos sends a tall image in fragments of 960 rows: put them back together.
                    above = printed.items.pop()
                    assert isinstance(above, Image.Image)
                    joined = Image.new("1", (image.width, above.height + image.height), 1)
                    joined.paste(above, (0, 0))
                    joined.paste(image, (0, above.height))
                    image = joined
                printed.items.append(image)
                last_was_image = True
                i += 8 + len(raster)
            else:
                raise ValueError(f"unexpected GS 0x{command:02x} at {i}")
        elif byte < 0x20:
            raise ValueError(f"unexpected control byte 0x{byte:02x} at {i}")
        else:
            chars.append(bytes([byte]).decode(page))
            cells += 2 if wide else 1
            line_wide, line_tall, line_bold = line_wide or wide, line_tall or tall, line_bold or bold
            i += 1
    if chars:
        end_line()
    return printed


def barcode_area(image: Image.Image) -> tuple[int, int]:
    """Width and height of the black part of a padded image (the symbol itself, quiet zone excluded)."""
    box = image.convert("L").point(lambda value: 255 - value).getbbox()
    assert box is not None, "the image is blank"
    return box[2] - box[0], box[3] - box[1]


class FakePrinter:
    """A network printer on 127.0.0.1 in a thread: keeps what each connection sent, answers DLE EOT n with
    ``status[n]`` (unless ``silent``), and closes when the client closes its side, as printers do."""

    def __init__(self, status: dict[int, int] | None = None, *, silent: bool = False) -> None:
        self.status = status if status is not None else {1: 0x12, 2: 0x12, 4: 0x12}
        self.silent = silent
        self.received: list[bytes] = []
        self.done = threading.Event()  # set when a connection ended
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)  # accept() wakes up to see the test is over
        self.port: int = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._closing = False

    def __enter__(self) -> FakePrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing = True
        self._thread.join(5)
        self._server.close()

    def _serve(self) -> None:
        while not self._closing:
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(10)
                self._talk(connection)
            self.done.set()

    def _talk(self, connection: socket.socket) -> None:
        data = bytearray()
        answered = 0  # DLE EOT queries before this offset have had their answer
        while True:
            try:
                chunk = connection.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            while not self.silent:
                index = data.find(b"\x10\x04", answered)
                if index < 0 or index + 2 >= len(data):
                    break
                answered = index + 3
                connection.sendall(bytes([self.status.get(data[index + 2], 0x12)]))
        self.received.append(bytes(data))


def unused_port() -> int:
    """A local TCP port nobody listens on (connecting to it is refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
