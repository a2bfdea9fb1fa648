"""Sales arithmetic: pure functions (no I/O) for lines, taxes, cash rounding, settlement, average cost,
scale barcodes and the till's catalog search index.

Money is integer minor units, quantities integer thousandths of the unit; no floats anywhere. Every
rounding goes through :func:`actors.sales.rounding.round_half_up`, so there is one rounding rule.
"""
