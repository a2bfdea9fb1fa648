"""Character tables: ESC t code pages and ESC R international character sets, as Unicode.

The code page numbers are the ones python-escpos's default profile (escpos-printer-db) assigns, with the
Python codec it encodes with, so text written through its magic encoder decodes back to the same Unicode:
it builds each page byte by byte with the same codecs. Numbers it has no codec for (Epson's Hiragana, Thai,
kanji pages, TCVN-3) decode their upper half to U+FFFD.
"""

from __future__ import annotations

import codecs
import contextlib
from functools import cache

CODE_PAGES: dict[int, str] = {
    0: "cp437",
    1: "cp932",  # escpos-printer-db's choice; Epson calls page 1 "Katakana" (the same half-width kana)
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    13: "cp857",
    14: "cp737",
    15: "iso8859_7",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    21: "cp874",
    32: "cp720",
    33: "cp775",
    34: "cp855",
    35: "cp861",
    36: "cp862",
    37: "cp864",
    38: "cp869",
    39: "iso8859_2",
    40: "iso8859_15",
    44: "cp1125",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
    48: "cp1254",
    49: "cp1255",
    50: "cp1256",
    51: "cp1257",
    52: "cp1258",
}

# ESC R n replaces these twelve ASCII positions.
_INTL_POSITIONS = (0x23, 0x24, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x60, 0x7B, 0x7C, 0x7D, 0x7E)
_INTL_SETS: dict[int, tuple[str, ...]] = {
    0: ("#", "$", "@", "[", "\\", "]", "^", "`", "{", "|", "}", "~"),  # U.S.A.
    1: ("#", "$", "à", "°", "ç", "§", "^", "`", "é", "ù", "è", "¨"),  # France
    2: ("#", "$", "§", "Ä", "Ö", "Ü", "^", "`", "ä", "ö", "ü", "ß"),  # Germany
    3: ("£", "$", "@", "[", "\\", "]", "^", "`", "{", "|", "}", "~"),  # U.K.
    4: ("#", "$", "@", "Æ", "Ø", "Å", "^", "`", "æ", "ø", "å", "~"),  # Denmark I
    5: ("#", "¤", "É", "Ä", "Ö", "Å", "Ü", "é", "ä", "ö", "å", "ü"),  # Sweden
    6: ("#", "$", "@", "°", "\\", "é", "^", "ù", "à", "ò", "è", "ì"),  # Italy
    7: ("₧", "$", "@", "¡", "Ñ", "¿", "^", "`", "¨", "ñ", "}", "~"),  # Spain I
    8: ("#", "$", "@", "[", "¥", "]", "^", "`", "{", "|", "}", "~"),  # Japan
    9: ("#", "¤", "É", "Æ", "Ø", "Å", "Ü", "é", "æ", "ø", "å", "ü"),  # Norway
    10: ("#", "$", "É", "Æ", "Ø", "Å", "Ü", "é", "æ", "ø", "å", "ü"),  # Denmark II
    11: ("#", "$", "á", "¡", "Ñ", "¿", "é", "`", "í", "ñ", "ó", "ú"),  # Spain II
    12: ("#", "$", "á", "¡", "Ñ", "¿", "é", "ü", "í", "ñ", "ó", "ú"),  # Latin America
    13: ("#", "$", "@", "[", "₩", "]", "^", "`", "{", "|", "}", "~"),  # Korea
}


@cache
def table(code_page: int, international: int = 0) -> str:
    """The 256 characters of a code page under an international set, indexable by byte value.

    Control positions below 0x20 are never looked up (the scanner never hands them over as text).
    """
    low = [chr(i) for i in range(128)]
    for position, char in zip(_INTL_POSITIONS, _INTL_SETS.get(international, _INTL_SETS[0]), strict=True):
        low[position] = char
    codec = CODE_PAGES.get(code_page)
    high = ["\ufffd"] * 128
    if codec is not None:
        decoder = codecs.getdecoder(codec)
        for i in range(128):
            # A lead byte of a double-byte code page, or a hole in the page: nothing prints there.
            with contextlib.suppress(UnicodeDecodeError):
                high[i] = decoder(bytes((128 + i,)))[0] or "\ufffd"
    return "".join(low + high)


def decode_text(data: bytes, code_page: int, international: int = 0) -> str:
    """Printable bytes as the printer shows them."""
    chars = table(code_page, international)
    return "".join(chars[b] for b in data)
