"""Bit images: the ESC/POS image commands read into :class:`~devices.escpos.model.RasterImage` bitmaps."""

from __future__ import annotations

from PIL import Image

from devices.escpos.commands import arg, u16
from devices.escpos.model import INVERT, Align, RasterImage


def from_raster(data: bytes, width: int, height: int, *, align: Align, source: str) -> RasterImage | None:
    """Row-major data, ``(width + 7) // 8`` bytes a row (GS v 0, GS ( L fn 112); None if data is short."""
    stride = (width + 7) // 8
    if width <= 0 or height <= 0 or len(data) < stride * height:
        return None
    return RasterImage(width, height, bytes(data[: stride * height]), align, source)


def from_columns(
    data: bytes, columns: int, bytes_per_column: int, *, align: Align, source: str
) -> RasterImage | None:
    """Column-major data, each column ``bytes_per_column`` bytes top to bottom (ESC *, GS *, FS q)."""
    if columns <= 0 or bytes_per_column <= 0 or len(data) < columns * bytes_per_column:
        return None
    # Each column read as one row of a sideways image, then turned upright.
    sideways = Image.frombytes(
        "1", (bytes_per_column * 8, columns), bytes(data[: columns * bytes_per_column]).translate(INVERT)
    )
    return RasterImage.from_image(sideways.transpose(Image.Transpose.TRANSPOSE), align=align, source=source)


def scaled(image: RasterImage, sx: int, sy: int) -> RasterImage:
    """The image as printed in a double width / double height mode (dots repeated)."""
    if sx == 1 and sy == 1:
        return image
    big = image.to_image().resize((image.width * sx, image.height * sy), Image.Resampling.NEAREST)
    return RasterImage.from_image(big, align=image.align, source=image.source)


def stacked(top: RasterImage, bottom: RasterImage) -> RasterImage:
    """Two images of one width, one under the other (ESC * strips of one picture)."""
    canvas = Image.new("1", (top.width, top.height + bottom.height), 1)
    canvas.paste(top.to_image(), (0, 0))
    canvas.paste(bottom.to_image(), (0, top.height))
    return RasterImage.from_image(canvas, align=top.align, source=top.source)


def merged(a: RasterImage, b: RasterImage) -> RasterImage:
    """Two colour planes of one size printed together (GS ( L stores one per colour)."""
    return RasterImage(
        a.width, a.height, bytes(x | y for x, y in zip(a.data, b.data, strict=True)), a.align, a.source
    )


# --- the image commands -----------------------------------------------------------------------------------


def _by_mode(image: RasterImage | None, mode: int) -> RasterImage | None:
    """Modes 0-3 (or '0'-'3'): bit 0 doubles the width, bit 1 the height; other modes print nothing."""
    if image is None or mode > 3:
        return None
    return scaled(image, 2 if mode & 1 else 1, 2 if mode & 2 else 1)


def raster_command(raw: bytes) -> RasterImage | None:
    """GS v 0 m xL xH yL yH d1...dk: x in bytes, y in dots."""
    image = from_raster(raw[8:], u16(raw, 4) * 8, u16(raw, 6), align="left", source="GS v 0")
    return _by_mode(image, arg(raw[3]))


def graphics_store(fn: int, params: bytes) -> RasterImage | None:
    """GS ( L / GS 8 L fn 112 (raster) or 113 (column) store: a bx by c xL xH yL yH d1...dk, monochrome."""
    if len(params) < 8 or params[0] != 48 or params[1] not in (1, 2) or params[2] not in (1, 2):
        return None
    x, y = u16(params, 4), u16(params, 6)
    if fn == 112:
        image = from_raster(params[8:], x, y, align="left", source="GS ( L")
    else:
        image = from_columns(params[8:], x, (y + 7) // 8, align="left", source="GS ( L")
        # Columns come in whole bytes; the picture is the top y dots of them.
        image = image and RasterImage(x, y, image.data[: (x + 7) // 8 * y], "left", "GS ( L")
    return None if image is None else scaled(image, params[1], params[2])


def column_strip(raw: bytes) -> RasterImage | None:
    """ESC * m nL nH d1...dk: one line of bit image, n columns of 8 (m 0, 1) or 24 (m 32, 33) dots."""
    m, n = raw[2], u16(raw, 3)
    if m not in (0, 1, 32, 33):
        return None
    strip = from_columns(raw[5:], n, 3 if m >= 32 else 1, align="left", source="ESC *")
    # 8-dot modes print each dot three dots high; single density (m even) prints each column twice.
    return None if strip is None else scaled(strip, 1 if m & 1 else 2, 1 if m >= 32 else 3)


def downloaded(raw: bytes) -> RasterImage | None:
    """GS * x y d1...dk: the downloaded bit image, x * 8 columns of y bytes."""
    return from_columns(raw[4:], raw[2] * 8, raw[3], align="left", source="GS /")


def downloaded_print(image: RasterImage | None, raw: bytes) -> RasterImage | None:
    """GS / m."""
    return _by_mode(image, arg(raw[2]))


def nv_images(raw: bytes) -> dict[int, RasterImage]:
    """FS q n [xL xH yL yH d1...dk]: NV bit images 1..n, each x * 8 columns of y bytes."""
    images, pos = {}, 3
    for number in range(1, raw[2] + 1):
        x, y = u16(raw, pos), u16(raw, pos + 2)
        size = x * y * 8
        image = from_columns(raw[pos + 4 : pos + 4 + size], x * 8, y, align="left", source="FS p")
        if image is not None:
            images[number] = image
        pos += 4 + size
    return images


def nv_print(images: dict[int, RasterImage], raw: bytes) -> RasterImage | None:
    """FS p n m."""
    return _by_mode(images.get(raw[2]), arg(raw[3]))
