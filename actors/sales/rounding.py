"""The one rounding rule of the sales arithmetic (half away from zero, on exact integers).

It lives in ``schema.money`` because every package rounds money the same way; this module names it for
the sales arithmetic.
"""

from __future__ import annotations

from schema.money import round_half_up

__all__ = ["round_half_up"]
