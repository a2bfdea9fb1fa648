"""The TED drawn as the PDF417 barcode printed on every Chilean tax document.

What SII asks, and what this module does:

* Symbology PDF417 with error-correction (security) level 5 (SII, formato-dtes-v2.2 section G names PDF417;
  level 5 is SII's requirement as collected in ``shared/reference/README.md`` and as every provider does).
* Content: the TED exactly as in the document, flattened, ISO-8859-1 (:func:`fiscal.cl.ted.ted_bytes`),
  encoded entirely in *byte compaction* mode so readers hand back the same bytes, accents included.
* Size: SII's FAQ 001.380.6277.006 asks for a printed stamp of at least 2 x 4.5 cm generated at more than
  200 dpi; formato-dtes-v2.2 leaves the geometry to SII's printed-samples manual, which is not among the
  reference files. Defaults here: 12 data columns, a module (X) of 0.254 mm (3 pixels at 300 dpi, written
  into the PNG; 2 dots on a 203 dpi thermal printer) and rows 3 modules high (Y = 3X, the PDF417 minimum).
  That is 273 modules, 6.9 cm wide, inside an 80 mm receipt's 72 mm print width; the 760-byte TEDs of SII's
  samples take 59-60 rows, 4.5 cm. ``columns`` trades width for height (16: 8.7 x 3.4 cm on a letter page).
"""

from __future__ import annotations

import io
import math

from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from pdf417gen.compaction.byte import compact_bytes  # type: ignore[import-untyped]
from pdf417gen.encoding import MAX_ROWS, MIN_ROWS, encode_rows, get_padding  # type: ignore[import-untyped]
from pdf417gen.error_correction import compute_error_correction_code_words  # type: ignore[import-untyped]
from pdf417gen.rendering import render_image  # type: ignore[import-untyped]
from PIL import Image

from fiscal.cl.ted import ted_bytes

SECURITY_LEVEL = 5
COLUMNS = 12
MODULE_PX = 3
ROW_HEIGHT = 3
DPI = 300
QUIET_ZONE = 4  # modules of white around the symbol (the standard's minimum is 2)

_MAX_CODE_WORDS = 928
_BYTE_LATCH = 901  # byte compaction, length not a multiple of 6
_BYTE_LATCH_6 = 924  # byte compaction, length a multiple of 6


def codewords(data: bytes, columns: int = COLUMNS, security_level: int = SECURITY_LEVEL) -> list[int]:
    """The symbol's codewords: length, byte-compacted ``data``, padding, error correction.

    Byte compaction only: pdf417gen's own ``encode`` would switch to text compaction for ASCII runs.
    """
    if not 1 <= columns <= 30:
        raise ValueError(f"a PDF417 has 1 to 30 data columns, not {columns}")
    latch = _BYTE_LATCH_6 if len(data) % 6 == 0 else _BYTE_LATCH
    data_words = [latch, *compact_bytes(data)]
    ec_count = 2 ** (security_level + 1)
    padding = get_padding(len(data_words), ec_count, columns)
    words = [len(data_words) + len(padding) + 1, *data_words, *padding]
    total = len(words) + ec_count
    rows = math.ceil(total / columns)
    if total > _MAX_CODE_WORDS or rows > MAX_ROWS:
        raise ValueError(
            f"{len(data)} bytes do not fit in a PDF417 of {columns} columns "
            f"at security level {security_level}"
        )
    if rows < MIN_ROWS:
        raise ValueError(f"{len(data)} bytes make only {rows} rows at {columns} columns: use fewer columns")
    ec_words: list[int] = compute_error_correction_code_words(words, security_level)
    return words + ec_words


def encode_bytes(
    data: bytes, columns: int = COLUMNS, security_level: int = SECURITY_LEVEL
) -> list[list[int]]:
    """The symbol's rows (low-level codewords with row indicators), as pdf417gen's renderer takes them."""
    words = codewords(data, columns, security_level)
    rows = [words[i : i + columns] for i in range(0, len(words), columns)]
    return list(encode_rows(rows, columns, security_level))


def _content(ted: etree._Element | bytes) -> bytes:
    return ted if isinstance(ted, bytes) else ted_bytes(ted)


def ted_barcode(
    ted: etree._Element | bytes, *, columns: int = COLUMNS, module_px: int = MODULE_PX
) -> Image.Image:
    """The TED (element, or the bytes of :func:`fiscal.cl.ted.ted_bytes`) as a black-on-white image."""
    codes = encode_bytes(_content(ted), columns)
    image: Image.Image = render_image(
        codes, scale=module_px, ratio=ROW_HEIGHT, padding=QUIET_ZONE * module_px
    )
    return image.convert("L")


def ted_barcode_png(
    ted: etree._Element | bytes, *, columns: int = COLUMNS, module_px: int = MODULE_PX
) -> bytes:
    """:func:`ted_barcode` as a PNG tagged at 300 dpi, so it prints with 0.254 mm modules at natural size."""
    buffer = io.BytesIO()
    ted_barcode(ted, columns=columns, module_px=module_px).convert("1").save(
        buffer, format="PNG", dpi=(DPI, DPI), optimize=True
    )
    return buffer.getvalue()
