"""The TED's PDF417, read back by an independent decoder (zxing-cpp)."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
import zxingcpp
from lxml import etree
from PIL import Image

from fiscal.cl.caf import Caf, parse_caf
from fiscal.cl.pdf417 import (
    COLUMNS,
    MODULE_PX,
    ROW_HEIGHT,
    codewords,
    encode_bytes,
    ted_barcode,
    ted_barcode_png,
)
from fiscal.cl.ted import TedData, parse_ted, stamp, ted_bytes, verify_ted

DATA = TedData(
    issuer_rut="76086428-5",
    doc_type=39,
    folio=7,
    issue_date=date(2025, 5, 1),
    receiver_rut="66666666-6",
    receiver_name="Peñalolén Ñuñoa & Cía",
    total=3490,
    first_item="Pan amasado, marraqueta y hallulla",
    timestamp=datetime(2025, 5, 1, 9, 15, 0),
)
EC_CODEWORDS = 2 ** (5 + 1)  # security level 5


@pytest.fixture(scope="module")
def ted(caf_file: bytes) -> etree._Element:
    caf: Caf = parse_caf(caf_file)
    return stamp(DATA, caf)


def _read_one(image: Image.Image) -> zxingcpp.Barcode:
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1
    assert found[0].format == zxingcpp.BarcodeFormat.PDF417
    return found[0]


def _check_security_level_5(barcode: zxingcpp.Barcode, module_px: int = MODULE_PX) -> None:
    """zxing reports the share of error-correction codewords; derive the symbol's size from its position."""
    position = barcode.position
    width_modules = round((position.top_right.x - position.top_left.x) / module_px)
    height_rows = round((position.bottom_left.y - position.top_left.y) / (module_px * ROW_HEIGHT))
    columns = (width_modules - 69) // 17  # start 17 + left 17 + right 17 + stop 18 modules
    assert columns == COLUMNS
    codewords = columns * height_rows
    assert barcode.ec_level == f"{EC_CODEWORDS * 100 // codewords}%"
    # Level 4 or 6 would read differently.
    assert barcode.ec_level not in {f"{32 * 100 // codewords}%", f"{128 * 100 // codewords}%"}


def test_png_decodes_to_the_exact_iso_8859_1_bytes(ted: etree._Element) -> None:
    expected = ted_bytes(ted)
    assert "Peñalolén Ñuñoa".encode("iso-8859-1") in expected
    png = ted_barcode_png(ted)
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    barcode = _read_one(image)
    assert barcode.bytes == expected
    assert verify_ted(parse_ted(barcode.bytes)).receiver_name == "Peñalolén Ñuñoa & Cía"


def test_error_correction_level_is_5(ted: etree._Element) -> None:
    _check_security_level_5(_read_one(ted_barcode(ted)))


def test_real_sample_teds_round_trip(sii_samples: dict[str, bytes]) -> None:
    for raw in sii_samples.values():
        ted = etree.fromstring(raw).find(".//TED")
        assert ted is not None
        barcode = _read_one(ted_barcode(ted))
        assert barcode.bytes == ted_bytes(ted)
        _check_security_level_5(barcode)


def test_bytes_are_accepted_and_columns_can_change(ted: etree._Element) -> None:
    data = ted_bytes(ted)
    wide = ted_barcode(data, columns=16)
    assert wide.width > ted_barcode(data).width
    assert _read_one(wide).bytes == data


@pytest.mark.parametrize("size", [6, 7, 760])
def test_only_byte_compaction_is_used(size: int) -> None:
    data = (b"<TED>12345 Peluquer\xeda</TED>" * 40)[:size]
    words = codewords(data, columns=3 if size < 100 else 12)
    data_count = words[0]  # the length descriptor counts itself, the data and the padding
    assert words[1] == (924 if size % 6 == 0 else 901)  # byte compaction latch
    # 6 bytes -> 5 base-900 codewords, leftover bytes one codeword each; no other latch (900, 902, 913).
    assert len([w for w in words[2:data_count] if w < 900]) == size // 6 * 5 + size % 6
    assert all(w == 900 for w in words[2 + size // 6 * 5 + size % 6 : data_count])  # padding
    assert len(words) - data_count == EC_CODEWORDS
    assert len(words) % (3 if size < 100 else 12) == 0


def test_too_much_data_is_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        encode_bytes(bytes(2000))
    with pytest.raises(ValueError, match="1 to 30 data columns"):
        encode_bytes(b"x", columns=31)
