"""Barcodes and 2D symbols: GS k data and GS ( k symbol types read into items."""

from __future__ import annotations

from typing import Literal

from devices.escpos.model import Align, Barcode

Hri = Literal["none", "above", "below", "both"]
EcLevel = Literal["L", "M", "Q", "H"]
HRI: dict[int, Hri] = {0: "none", 1: "above", 2: "below", 3: "both"}
QR_EC: dict[int, EcLevel] = {48: "L", 49: "M", 50: "Q", 51: "H"}
_FORM_A = ("UPC-A", "UPC-E", "EAN13", "EAN8", "CODE39", "ITF", "CODABAR")  # GS k m, m = 0-6
_FORM_B = (  # GS k m n, m = 65-79
    *_FORM_A,
    "CODE93",
    "CODE128",
    "GS1-128",
    "GS1 DATABAR OMNIDIRECTIONAL",
    "GS1 DATABAR TRUNCATED",
    "GS1 DATABAR LIMITED",
    "GS1 DATABAR EXPANDED",
    "CODE128",  # 79: CODE128 with code sets chosen by the printer
)
SYMBOLS_2D = {
    48: "PDF417",
    49: "QR",
    50: "MAXICODE",
    51: "GS1 DATABAR 2D",
    52: "COMPOSITE",
    53: "AZTEC",
    54: "DATAMATRIX",
}


def text_of(data: bytes) -> str:
    """2D symbol data as text: UTF-8 (what python-escpos sends) or else Latin-1 (what SII's TED is)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def code128_text(raw: bytes) -> str:
    """CODE128 data as Epson takes it: "{A", "{B", "{C" pick the code set; in set C a byte is a digit pair."""
    out: list[str] = []
    code_set, i = "B", 0
    while i < len(raw):
        b = raw[i]
        if b == 0x7B and i + 1 < len(raw):  # "{" starts a code-set change or a function character
            nxt = chr(raw[i + 1])
            if nxt in "ABC":
                code_set = nxt
            elif nxt == "{":
                out.append("{")
            i += 2
            continue
        out.append(f"{b:02d}" if code_set == "C" and b < 100 else chr(b))
        i += 1
    return "".join(out)


def barcode(raw: bytes, *, height: int, module: int, hri: Hri, align: Align) -> Barcode:
    """GS k m d1...dk NUL (m 0-6) or GS k m n d1...dn (m 65-79), as the scanner delimited it."""
    m = raw[2]
    data = raw[3:-1] if m <= 6 else raw[4:]
    symbology = _FORM_A[m] if m <= 6 else _FORM_B[m - 65]
    text = code128_text(data) if symbology in ("CODE128", "GS1-128") else data.decode("latin-1")
    return Barcode(symbology, text, bytes(data), height, module, hri, align)
