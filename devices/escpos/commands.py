"""Splitting an ESC/POS byte stream into commands, knowing each command's length.

:func:`scan` is shared by the decoder and the virtual printer: the printer must find real-time status
queries and cuts at command boundaries only, never inside image or barcode data that happens to contain
``10 04 01`` or ``1D 56 00``. Lengths follow the Epson ESC/POS command reference (TM-T20/T88 family);
commands it does not know are reported as ``"?"`` and skipped as the lead byte plus one (their parameters,
if any, then read as text, which is what a printer that does not know them does too).
"""

from __future__ import annotations

ESC, FS, GS, DLE = 0x1B, 0x1C, 0x1D, 0x10

UNKNOWN = "?"
TEXT = "TEXT"

_CONTROLS = {0x0A: "LF", 0x0D: "CR", 0x09: "HT", 0x0C: "FF", 0x18: "CAN", 0x00: "NUL", 0x07: "BEL"}

# Total length (lead byte included) of the fixed-length commands.
_ESC_FIXED = {
    **{ord(c): 2 for c in "2@LSimv"},
    **{ord(c): 3 for c in " !%-3=?AEGJKMRTUVadelrtu{+Q"},
    **{ord(c): 4 for c in "$\\Bcf"},
    ord("p"): 5,
    ord("W"): 10,
    0x0C: 2,  # ESC FF: print in page mode
    0x0E: 2,  # ESC SO: one-line double width (older models)
    0x14: 2,  # ESC DC4: cancel ESC SO
}
_GS_FIXED = {
    **{ord(c): 2 for c in ":c"},
    **{ord(c): 3 for c in "!/BEHITabfhjrwZ|"},
    **{ord(c): 4 for c in "$LPW\\"},
    ord("^"): 5,
    ord("z"): 5,
    ord("g"): 6,
}
_FS_FIXED = {
    **{ord(c): 2 for c in "&."},
    **{ord(c): 3 for c in "!-CW"},
    **{ord(c): 4 for c in "S?p"},
    ord("2"): 76,  # FS 2 c1 c2 + 72 bytes of a 24x24 user-defined kanji
}
_DLE_DC4 = {1: 5, 2: 5, 3: 5, 7: 4, 8: 10}

# A GS k form-1 barcode ends at NUL; the reference caps the data at 255 bytes, so a stream without a NUL
# after that many bytes is not a barcode and must not swallow what follows.
_MAX_BARCODE_A = 255


def _u16(buf: bytes, at: int) -> int:
    return buf[at] | buf[at + 1] << 8


def _fit(buf: bytes, end: int) -> int | None:
    return end if end <= len(buf) else None


def scan(buf: bytes, pos: int) -> tuple[str, int] | None:
    """The name and end offset of the command starting at ``buf[pos]``; None when ``buf`` ends inside it.

    Names are the command as the reference writes it ("ESC a", "GS v 0", "GS ( k", "DLE EOT"), ``"TEXT"``
    for a run of printable bytes, ``"?"`` for something this scanner does not know.
    """
    b = buf[pos]
    if b >= 0x20:
        end = pos + 1
        while end < len(buf) and buf[end] >= 0x20:
            end += 1
        return TEXT, end
    if b in _CONTROLS:
        return _CONTROLS[b], pos + 1
    if b not in (ESC, FS, GS, DLE):
        return UNKNOWN, pos + 1
    if pos + 1 >= len(buf):
        return None
    c = buf[pos + 1]
    if b == ESC:
        return _scan_esc(buf, pos, c)
    if b == GS:
        return _scan_gs(buf, pos, c)
    if b == FS:
        return _scan_fs(buf, pos, c)
    return _scan_dle(buf, pos, c)


def _scan_esc(buf: bytes, pos: int, c: int) -> tuple[str, int] | None:
    name = f"ESC {chr(c)}"
    if c in _ESC_FIXED:
        end = _fit(buf, pos + _ESC_FIXED[c])
        return None if end is None else (name, end)
    if c == ord("*"):
        if pos + 5 > len(buf):
            return None
        m, n = buf[pos + 2], _u16(buf, pos + 3)
        end = _fit(buf, pos + 5 + (n * 3 if m >= 32 else n))
        return None if end is None else (name, end)
    if c == ord("("):  # ESC ( A pL pH ... and its siblings
        if pos + 5 > len(buf):
            return None
        end = _fit(buf, pos + 5 + _u16(buf, pos + 3))
        return None if end is None else (f"ESC ( {chr(buf[pos + 2])}", end)
    if c == ord("D"):
        return _scan_tabs(buf, pos)
    if c == ord("&"):
        return _scan_user_chars(buf, pos)
    return UNKNOWN, pos + 2


def _scan_tabs(buf: bytes, pos: int) -> tuple[str, int] | None:
    """ESC D n1 ... nk NUL: ends at NUL, after 32 positions, or before a position not above the previous."""
    end, previous = pos + 2, 0
    while end - pos - 2 < 32:
        if end >= len(buf):
            return None
        n = buf[end]
        if n == 0:
            return "ESC D", end + 1
        if n <= previous:
            break
        previous = n
        end += 1
    return "ESC D", end


def _scan_user_chars(buf: bytes, pos: int) -> tuple[str, int] | None:
    """ESC & y c1 c2 [x d1 ... d(y*x)] for each character c1..c2."""
    if pos + 5 > len(buf):
        return None
    y, c1, c2 = buf[pos + 2], buf[pos + 3], buf[pos + 4]
    end = pos + 5
    for _ in range(max(c2 - c1 + 1, 0)):
        if end >= len(buf):
            return None
        end += 1 + y * buf[end]
    end_ = _fit(buf, end)
    return None if end_ is None else ("ESC &", end_)


def _scan_gs(buf: bytes, pos: int, c: int) -> tuple[str, int] | None:
    if c in _GS_FIXED:
        end = _fit(buf, pos + _GS_FIXED[c])
        return None if end is None else (f"GS {chr(c)}", end)
    if pos + 3 > len(buf):
        return None
    m = buf[pos + 2]
    if c == ord("V"):
        if m in (0, 1, 48, 49):
            return "GS V", pos + 3
        if m in (65, 66, 97, 98, 103, 104):
            end = _fit(buf, pos + 4)
            return None if end is None else ("GS V", end)
        return UNKNOWN, pos + 3
    if c == ord("v"):
        if m != 0x30:
            return UNKNOWN, pos + 2
        if pos + 8 > len(buf):
            return None
        end = _fit(buf, pos + 8 + _u16(buf, pos + 4) * _u16(buf, pos + 6))
        return None if end is None else ("GS v 0", end)
    if c == ord("("):
        if pos + 5 > len(buf):
            return None
        end = _fit(buf, pos + 5 + _u16(buf, pos + 3))
        return None if end is None else (f"GS ( {chr(m)}", end)
    if c == ord("8"):
        if m != ord("L"):
            return UNKNOWN, pos + 2
        if pos + 7 > len(buf):
            return None
        size = int.from_bytes(buf[pos + 3 : pos + 7], "little")
        end = _fit(buf, pos + 7 + size)
        return None if end is None else ("GS 8 L", end)
    if c == ord("*"):
        if pos + 4 > len(buf):
            return None
        end = _fit(buf, pos + 4 + buf[pos + 2] * buf[pos + 3] * 8)
        return None if end is None else ("GS *", end)
    if c == ord("k"):
        return _scan_barcode(buf, pos, m)
    return UNKNOWN, pos + 2


def _scan_barcode(buf: bytes, pos: int, m: int) -> tuple[str, int] | None:
    if m <= 6:  # form 1: data up to NUL
        stop = min(len(buf), pos + 3 + _MAX_BARCODE_A + 1)
        nul = buf.find(b"\x00", pos + 3, stop)
        if nul >= 0:
            return "GS k", nul + 1
        return None if stop == len(buf) and len(buf) < pos + 3 + _MAX_BARCODE_A + 1 else (UNKNOWN, pos + 3)
    if 65 <= m <= 79:  # form 2: length byte, then data
        if pos + 4 > len(buf):
            return None
        end = _fit(buf, pos + 4 + buf[pos + 3])
        return None if end is None else ("GS k", end)
    return UNKNOWN, pos + 3


def _scan_fs(buf: bytes, pos: int, c: int) -> tuple[str, int] | None:
    if c in _FS_FIXED:
        end = _fit(buf, pos + _FS_FIXED[c])
        return None if end is None else (f"FS {chr(c)}", end)
    if c == ord("("):
        if pos + 5 > len(buf):
            return None
        end = _fit(buf, pos + 5 + _u16(buf, pos + 3))
        return None if end is None else (f"FS ( {chr(buf[pos + 2])}", end)
    if c == ord("q"):  # FS q n [xL xH yL yH d1 ... d(x*y*8)] n times
        if pos + 3 > len(buf):
            return None
        end = pos + 3
        for _ in range(buf[pos + 2]):
            if end + 4 > len(buf):
                return None
            end += 4 + _u16(buf, end) * _u16(buf, end + 2) * 8
        end_ = _fit(buf, end)
        return None if end_ is None else ("FS q", end_)
    return UNKNOWN, pos + 2


def _scan_dle(buf: bytes, pos: int, c: int) -> tuple[str, int] | None:
    if c not in (0x04, 0x05, 0x14):
        # A DLE that starts no real-time command is ignored by the printer; what follows is read normally.
        return UNKNOWN, pos + 1
    if pos + 3 > len(buf):
        return None
    n = buf[pos + 2]
    if c == 0x04:
        end = _fit(buf, pos + (4 if n in (7, 8) else 3))
        return None if end is None else ("DLE EOT", end)
    if c == 0x05:
        return "DLE ENQ", pos + 3
    if n not in _DLE_DC4:
        return UNKNOWN, pos + 3
    end = _fit(buf, pos + _DLE_DC4[n])
    return None if end is None else ("DLE DC4", end)


def split(data: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """All complete commands of ``data`` as (name, bytes), and the incomplete tail."""
    out: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(data):
        found = scan(data, pos)
        if found is None:
            return out, data[pos:]
        name, end = found
        out.append((name, data[pos:end]))
        pos = end
    return out, b""


def u16(raw: bytes, at: int) -> int:
    """The little-endian 16-bit parameter (nL nH) at ``raw[at]``."""
    return raw[at] | raw[at + 1] << 8


def arg(n: int) -> int:
    """Parameters that accept both 0-9 and the ASCII digits '0'-'9' (ESC a 1 and ESC a '1' centre alike)."""
    return n - 48 if 48 <= n <= 57 else n


# Commands understood but with nothing to show: line spacing, density, smoothing, peripheral settings...
NO_EFFECT = frozenset(
    ["CR", "NUL", "BEL", "CAN", "DLE ENQ"]
    + [f"ESC {c}" for c in " \x0c\x0e\x14%&?{VTrULSWlQufBGc23A+eK"]
    + [f"GS {c}" for c in "abf|PTE^:cIgjzZ\\$"]
    + [f"FS {c}" for c in ".&!-CSW?2"]
)
