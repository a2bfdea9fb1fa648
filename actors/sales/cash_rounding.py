"""Chile's cash rounding (Ley 20.956, 2017): cash totals go to a multiple of 10 pesos.

Since the 1 and 5 peso coins left circulation, a total paid in cash is rounded on its last digit:

    last digit 0      unchanged                      1,230 -> 1,230
    last digit 1..5   down to the lower ten          1,001 -> 1,000   1,005 -> 1,000
    last digit 6..9   up to the next ten             1,006 -> 1,010   1,009 -> 1,010

Five rounds down (the law favours the consumer on the tie). Only the part paid in cash is rounded; cards
and transfers pay the exact amount, so :mod:`actors.sales.settlement` applies this to the cash due only.
"""

from __future__ import annotations

from actors.sales.errors import InvalidAmountError


def round_cash_clp(amount: int) -> int:
    """``amount`` pesos rounded per Ley 20.956 (see the module docstring); ``amount`` must be >= 0."""
    if amount < 0:
        raise InvalidAmountError(f"a cash amount must not be negative, got {amount}", amount=amount)
    last = amount % 10
    return amount - last if last <= 5 else amount + (10 - last)
