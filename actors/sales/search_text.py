"""How the till's search compares text: without case and without accents.

``normalize`` decomposes (NFKD: "ñ" -> "n" + combining tilde, "ﬁ" -> "fi"), drops the combining marks and
case-folds, so "ÑUÑOA", "Ñuñoa" and "nunoa" are one word: cashiers type without accents and in any case,
and product names come from many suppliers' spellings. ``words`` splits the normalized text on anything
that is not a letter or digit ("Coca-Cola 1.5L" -> coca, cola, 1, 5l).
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")


class _DropCombining(dict[int, str | None]):
    """A ``str.translate`` table that deletes combining marks, filled in as characters are met.

    Loading 100,000 product names calls ``normalize`` hundreds of thousands of times; a per-character
    ``unicodedata.combining`` test in Python was most of the load time, a cached table lookup is not.
    """

    def __missing__(self, codepoint: int) -> str | None:
        mapped = None if unicodedata.combining(chr(codepoint)) else chr(codepoint)
        self[codepoint] = mapped
        return mapped


_DROP_COMBINING = _DropCombining()


def normalize(text: str) -> str:
    """``text`` without combining marks, case-folded, with runs of whitespace made one space.

    NUL characters are dropped too: they are never part of a name or code, and the catalog index uses NUL
    as the separator in its sort keys.
    """
    text = text.replace("\0", "")
    if text.isascii():  # no accents to take off; ASCII case-folding is lower()
        return " ".join(text.lower().split())
    stripped = unicodedata.normalize("NFKD", text).translate(_DROP_COMBINING)
    return " ".join(stripped.casefold().split())


def split_words(normalized: str) -> list[str]:
    """The words of text already :func:`normalize`-d, in order."""
    return _WORD.findall(normalized)


def words(text: str) -> list[str]:
    """The words of ``text`` after :func:`normalize`, in order."""
    return split_words(normalize(text))
