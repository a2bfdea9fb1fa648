"""Text helpers and the Paper builder: money and quantities as printed, lines that never overflow."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from devices.printing.layout import (
    Paper,
    box,
    dots_for,
    format_datetime,
    format_money,
    format_quantity,
    format_signed_money,
    split_evenly,
    two_columns,
    wrap,
    zone,
)
from tests.devices.printing.support import read

SANTIAGO = ZoneInfo("America/Santiago")


@pytest.mark.parametrize(
    ("amount", "currency", "printed"),
    [
        (0, "CLP", "$0"),
        (990, "CLP", "$990"),
        (1990, "CLP", "$1.990"),
        (1234567, "CLP", "$1.234.567"),
        (-500, "CLP", "-$500"),
        (199, "USD", "$1.99"),
        (5, "USD", "$0.05"),
        (123456, "USD", "$1,234.56"),
        (-199, "USD", "-$1.99"),
    ],
)
def test_money(amount: int, currency: str, printed: str) -> None:
    assert format_money(amount, currency) == printed


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="EUR"):
        format_money(100, "EUR")


def test_signed_money() -> None:
    assert format_signed_money(500, "CLP") == "+$500"
    assert format_signed_money(-1200, "CLP") == "-$1.200"
    assert format_signed_money(0, "CLP") == "$0"
    assert format_signed_money(-5, "USD") == "-$0.05"


@pytest.mark.parametrize(
    ("quantity", "unit", "decimal", "printed"),
    [
        (1000, "unit", ",", "1"),
        (12000, "unit", ",", "12"),
        (2500, "unit", ",", "2,5"),
        (1250, "kg", ",", "1,250 kg"),
        (50, "kg", ",", "0,050 kg"),
        (1250, "kg", ".", "1.250 kg"),
        (-2000, "unit", ",", "-2"),
    ],
)
def test_quantity(quantity: int, unit: str, decimal: str, printed: str) -> None:
    assert format_quantity(quantity, unit, decimal) == printed


@pytest.mark.parametrize("width", [32, 48])
def test_two_columns_right_aligns_and_wraps(width: int) -> None:
    [line] = two_columns("Total", "$1.990", width)
    assert len(line) == width
    assert line.startswith("Total ") and line.endswith(" $1.990")
    long = two_columns("Queso mantecoso laminado Colun " * 3, "$12.345", width)
    assert len(long) > 1
    assert all(len(text) <= width for text in long)
    assert long[-1].endswith(" $12.345") and len(long[-1]) == width
    assert "$12.345" not in "".join(long[:-1])


def test_wrap_cuts_words_longer_than_the_line() -> None:
    assert wrap("a" * 10, 4) == ["aaaa", "aaaa", "aa"]
    assert wrap("", 10) == []
    assert wrap("uno dos tres", 7) == ["uno dos", "tres"]


@pytest.mark.parametrize("width", [32, 48])
def test_clave_de_acceso_splits_evenly(width: int) -> None:
    digits = "".join(str(i % 10) for i in range(49))
    parts = split_evenly(digits, width)
    assert "".join(parts) == digits
    assert len(parts) == 2
    assert all(len(part) <= width for part in parts)


def test_box_lines_have_the_width() -> None:
    lines = box(["R.U.T.: 76.086.428-5", "NOTA DE CRÉDITO ELECTRÓNICA N° 12345"], 32)
    assert {len(line) for line in lines} == {32}
    assert lines[0].startswith("┌") and lines[-1].endswith("┘")


def test_times_print_in_the_store_zone() -> None:
    assert format_datetime("2025-05-01T13:15:00+00:00", SANTIAGO) == "01-05-2025 09:15"
    assert format_datetime("2025-05-01T13:15:00Z", zone("", "EC")) == "01-05-2025 08:15"
    assert format_datetime("2025-05-01T13:15:00", SANTIAGO) == "01-05-2025 13:15"  # naive: already local
    assert format_datetime("ayer", SANTIAGO) == "ayer"
    assert zone("Not/AZone", "EC") == ZoneInfo("America/Guayaquil")


def test_paper_widths() -> None:
    assert dots_for(48) == 576
    assert dots_for(32) == 384
    with pytest.raises(ValueError, match="columns"):
        Paper(64)


@pytest.mark.parametrize("columns", [32, 48])
def test_paper_never_overflows(columns: int) -> None:
    paper = Paper(columns)
    long = "Empanada de pino horneada con aceituna y huevo " * 3
    paper.text(long)
    paper.text(long, wide=True, tall=True, bold=True)
    paper.pair(long, "$1.234.567", wide=True)
    paper.line("x" * 100)
    printed = read(paper.output)
    assert printed.lines
    assert max(line.cells for line in printed.lines) == columns
    wide = [line for line in printed.lines if line.wide]
    assert wide and all(len(line.text) <= columns // 2 for line in wide)


def test_spanish_text_prints_in_code_page_850() -> None:
    paper = Paper(48)
    sentence = "¿Año? ¡Sí! Ñandú, camión, pingüino, 25° ÁÉÍÓÚ"
    paper.text(sentence)
    data = paper.output
    assert data.startswith(b"\x1b@\x1bt\x02")  # reset, then PC850 once
    assert data.count(b"\x1bt") == 1
    assert b"?" not in data.replace("¿Año?".encode("cp850"), b"")  # no character fell back to "?"
    assert read(data).lines[0].text == sentence


def _png(size: tuple[int, int]) -> bytes:
    image = Image.new("RGBA", size, (255, 255, 255, 0))
    image.paste((0, 0, 0, 255), (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("columns", [32, 48])
def test_logo_is_scaled_to_the_paper(columns: int) -> None:
    paper = Paper(columns)
    paper.logo(_png((2000, 400)))
    [image] = read(paper.output).images
    assert image.width == dots_for(columns)
    assert image.height <= 160
    # The transparent background printed white, the square black.
    assert image.getpixel((image.width // 2, image.height // 2)) == 0
    assert image.getpixel((2, 2)) == 255


def test_a_logo_that_is_not_an_image_is_left_out() -> None:
    paper = Paper(48)
    paper.logo(b"not a png")
    paper.text("Tienda")
    printed = read(paper.output)
    assert printed.images == []
    assert printed.text == "Tienda"


def test_an_image_wider_than_the_paper_is_refused() -> None:
    with pytest.raises(ValueError, match="384"):
        Paper(32).image(Image.new("L", (400, 10), 255))
