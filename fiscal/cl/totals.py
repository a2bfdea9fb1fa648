"""SII amounts of a boleta (39), factura (33) or nota de crédito (61): lines, MntNeto, MntExe, IVA, MntTotal.

Everything is exact integer arithmetic (``schema.money.round_half_up``: halves away from zero, which for
the non-negative amounts here is "half up"). Units: quantities in thousandths of the unit (``QtyItem`` is
``quantity / 1000``), prices in pesos for input lines and in millionths of a peso (``PRICE_SCALE``) for
``PrcItem``, which the schema allows with 6 decimals; every amount of the document is whole pesos (CLP has
no decimals: SII's amounts are ``MontoType``, non-negative integers).

Rules, with the section of SII's *Formato Documentos Tributarios Electrónicos v2.2* they come from:

* line (§2.2 B "Detalle", field 38 ``MontoItem``): ``(PrcItem * QtyItem) - DescuentoMonto``. The product
  is rounded once to whole pesos, then the discount is subtracted; a percentage discount (field 29
  ``DescuentoPct``) must carry its amount (field 30 ``DescuentoMonto``: "si va el descuento en %, debe ir
  el monto correspondiente"), which is ``round(subtotal * pct / 100)``. MontoItem of an exempt line
  (``IndExe`` 1) is its exempt value, otherwise its net value (note 11 under field 38) - or its gross
  value on a boleta, whose prices include IVA.
* factura / nota de crédito (§2.2 A "Totales", fields 107, 108, 112, 124): ``MntNeto`` = sum of the
  affected lines, ``MntExe`` = sum of the exempt lines, ``IVA = MntNeto * TasaIVA`` rounded to a peso,
  ``MntTotal = MntNeto + MntExe + IVA``.
* boleta: the line amounts include IVA (field 107 describes the same division for a factura whose lines
  are gross, ``MntBruto`` = 1: "el resultado anterior se debe dividir por (1 + tasa de IVA)"): ``MntNeto =
  round(afecto / 1.19)``, ``IVA = afecto - MntNeto`` (the difference, never rounded separately, so
  ``MntNeto + IVA + MntExe == MntTotal`` to the peso), ``MntTotal`` = sum of the lines.

The PDF states the formulas and that amounts are whole pesos, but no tie-breaking rule; half up is what
SII's own examples and the till (``actors.sales``) use. §2.2 also says SII does not reject a document
because IVA differs from rate x net (such errors are corrected with notes), which matters for
:func:`from_gross_lines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from schema.errors import ValidationError
from schema.money import QUANTITY_SCALE, round_half_up

IVA_PERCENT: Final = 19
PRICE_SCALE: Final = 1_000_000  # PrcItem has 6 decimals (Dec12_6Type)
MAX_QUANTITY: Final = 1_000_000_000  # a million units in thousandths (QtyItem: 12 integer digits)
MAX_AMOUNT: Final = 10**15  # far below MontoType's 18 digits, far above any sale


class InvalidLineError(ValidationError):
    """A document line cannot be priced (bad quantity, price or discount)."""

    code = "invalid_dte_line"


class LineLike(Protocol):
    """What :func:`price_line` reads from a line (``fiscal.cl.dte.DocLine`` is one)."""

    @property
    def quantity(self) -> int: ...  # thousandths of the unit
    @property
    def unit_price(self) -> int: ...  # pesos
    @property
    def discount_percent(self) -> int: ...  # 0..100
    @property
    def discount_amount(self) -> int: ...  # pesos
    @property
    def exempt(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Line:
    """A plain input line (see :class:`LineLike`)."""

    quantity: int
    unit_price: int
    discount_percent: int = 0
    discount_amount: int = 0
    exempt: bool = False


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A line as the DTE states it: QtyItem, PrcItem, DescuentoPct / DescuentoMonto, MontoItem."""

    quantity: int  # thousandths of the unit
    price: int  # PrcItem in millionths of a peso
    discount_percent: int  # DescuentoPct, 0 = not stated
    discount: int  # DescuentoMonto
    amount: int  # MontoItem
    exempt: bool

    @property
    def subtotal(self) -> int:
        """``round(PrcItem * QtyItem)``, before the discount."""
        return self.amount + self.discount


@dataclass(frozen=True, slots=True)
class Totals:
    """The ``<Totales>`` of a document."""

    neto: int  # MntNeto
    exento: int  # MntExe
    iva: int  # IVA
    total: int  # MntTotal
    tax_included: bool  # the line amounts include IVA (boleta)


@dataclass(frozen=True, slots=True)
class GrossToNet:
    """A factura's lines and totals derived from tax-included lines (:func:`from_gross_lines`)."""

    lines: tuple[PricedLine, ...]
    totals: Totals
    iva_adjusted: bool  # True when IVA had to differ from round(MntNeto * 19 %) by one peso


def price_line(line: LineLike) -> PricedLine:
    """``MontoItem = round(PrcItem * QtyItem) - DescuentoMonto`` (§2.2 B, fields 29, 30, 38)."""
    quantity, price = line.quantity, line.unit_price
    pct, amount_off = line.discount_percent, line.discount_amount
    if not 0 < quantity <= MAX_QUANTITY:
        raise InvalidLineError(
            f"quantity must be 1..{MAX_QUANTITY} thousandths of the unit, got {quantity}", quantity=quantity
        )
    if not 0 <= price <= MAX_AMOUNT:
        raise InvalidLineError(f"unit price must be 0..{MAX_AMOUNT} pesos, got {price}", unit_price=price)
    if not 0 <= pct <= 100:
        raise InvalidLineError(f"discount must be 0..100 percent, got {pct}", discount_percent=pct)
    if amount_off < 0:
        raise InvalidLineError(f"discount amount must not be negative, got {amount_off}")
    if pct and amount_off:
        raise InvalidLineError("give a line's discount as a percent or as an amount, not both")
    subtotal = round_half_up(quantity * price, QUANTITY_SCALE)
    discount = round_half_up(subtotal * pct, 100) if pct else amount_off
    if discount > subtotal:
        raise InvalidLineError(
            f"discount of {discount} pesos exceeds the line's {subtotal} pesos", discount=discount
        )
    return PricedLine(
        quantity=quantity,
        price=price * PRICE_SCALE,
        discount_percent=pct,
        discount=discount,
        amount=subtotal - discount,
        exempt=line.exempt,
    )


def iva_of_net(neto: int) -> int:
    """``IVA = MntNeto * 19 %`` rounded half up to a peso (§2.2 A, field 112)."""
    return round_half_up(neto * IVA_PERCENT, 100)


def net_of_gross(gross: int) -> int:
    """``gross / 1.19`` rounded half up to a peso (§2.2 A, field 107 with MntBruto)."""
    return round_half_up(gross * 100, 100 + IVA_PERCENT)


def _sums(lines: Sequence[PricedLine]) -> tuple[int, int]:
    affected = sum(line.amount for line in lines if not line.exempt)
    exempt = sum(line.amount for line in lines if line.exempt)
    return affected, exempt


def boleta_totals(lines: Sequence[PricedLine]) -> Totals:
    """Totals of lines whose amounts include IVA: ``IVA = afecto - round(afecto / 1.19)``."""
    affected, exempt = _sums(lines)
    neto = net_of_gross(affected)
    return Totals(neto=neto, exento=exempt, iva=affected - neto, total=affected + exempt, tax_included=True)


def factura_totals(lines: Sequence[PricedLine]) -> Totals:
    """Totals of net lines: ``IVA = round(MntNeto * 0.19)``, ``MntTotal = MntNeto + MntExe + IVA``."""
    neto, exempt = _sums(lines)
    iva = iva_of_net(neto)
    return Totals(neto=neto, exento=exempt, iva=iva, total=neto + exempt + iva, tax_included=False)


def document_totals(doc_type: int, lines: Sequence[LineLike]) -> tuple[list[PricedLine], Totals]:
    """Priced lines and totals of a 39 (prices include IVA) or a 33/61 (prices are net)."""
    priced = [price_line(line) for line in lines]
    if doc_type == 39:
        return priced, boleta_totals(priced)
    if doc_type in (33, 61):
        return priced, factura_totals(priced)
    raise ValidationError(f"document type {doc_type} is not one of 39, 33, 61", doc_type=doc_type)


def _target_net(gross: int) -> tuple[int, int, bool]:
    """``(MntNeto, IVA, adjusted)`` with ``MntNeto + IVA == gross``.

    ``n -> n + round(0.19 n)`` steps by 1 or 2, so about 16 % of gross amounts have no net amount whose
    IVA brings it back exactly (e.g. 100: 84 + 16 = 100, but 101 sits between 85 + 16 and 86 + 16 + 1).
    Any ``n`` that works lies within 0.42 of ``gross / 1.19``, so the three integers around it are all
    the candidates. When none works the net is ``round(gross / 1.19)`` and IVA the difference, which is
    within one peso of ``round(0.19 * net)`` (|gross - 1.19 net| <= 0.595): the boleta rule, chosen so the
    factura's total is what the customer paid.
    """
    nearest = net_of_gross(gross)
    for net in (nearest, nearest - 1, nearest + 1):
        if net >= 0 and net + iva_of_net(net) == gross:
            return net, gross - net, False
    return nearest, gross - nearest, True


def _split(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder, ties to the earlier line)."""
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    shares = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[: total - sum(shares)]:
        shares[index] += 1
    return shares


def _net_line(gross: PricedLine, amount: int) -> PricedLine:
    """A net line worth ``amount`` whose discount is the gross discount net of IVA and whose PrcItem
    (6 decimals) times QtyItem gives back its subtotal exactly."""
    discount = net_of_gross(gross.discount)
    subtotal = amount + discount
    price = round_half_up(subtotal * QUANTITY_SCALE * PRICE_SCALE, gross.quantity)
    if round_half_up(gross.quantity * price, QUANTITY_SCALE * PRICE_SCALE) != subtotal:
        raise InvalidLineError(
            f"a net unit price with 6 decimals cannot give {subtotal} pesos for quantity {gross.quantity}",
            quantity=gross.quantity,
        )
    pct = gross.discount_percent
    if pct and round_half_up(subtotal * pct, 100) != discount:
        pct = 0  # the percent no longer gives the net discount exactly: state the amount only
    return PricedLine(
        quantity=gross.quantity,
        price=price,
        discount_percent=pct,
        discount=discount,
        amount=amount,
        exempt=False,
    )


def from_gross_lines(lines: Sequence[LineLike]) -> GrossToNet:
    """A factura (or nota de crédito) for a sale rung up at tax-included prices, same total to the peso.

    Rule: the affected gross total ``G`` (sum of the till's line totals, exempt lines apart) gets the net
    amount ``N`` with ``N + round(0.19 N) == G`` (see :func:`_target_net`; when no such ``N`` exists,
    IVA is ``G - round(G / 1.19)``, one peso off ``round(0.19 N)``, and ``iva_adjusted`` says so). ``N`` is
    split over the affected lines in proportion to their gross amounts by largest remainder, so the lines
    add up to ``MntNeto`` exactly (rounding each line's ``gross / 1.19`` separately would drift a peso per
    line). Each net line keeps its quantity; its discount is the gross discount / 1.19 and its ``PrcItem``
    (up to 6 decimals) is chosen so ``round(PrcItem * QtyItem) - DescuentoMonto == MontoItem`` holds.
    Exempt lines carry no IVA and are unchanged. ``MntTotal`` equals the till's total.
    """
    gross_lines = [price_line(line) for line in lines]
    affected, exempt = _sums(gross_lines)
    neto, iva, adjusted = _target_net(affected)
    affected_lines = [line for line in gross_lines if not line.exempt]
    amounts = iter(_split(neto, [line.amount for line in affected_lines]))
    net_lines = tuple(line if line.exempt else _net_line(line, next(amounts)) for line in gross_lines)
    totals = Totals(neto=neto, exento=exempt, iva=iva, total=affected + exempt, tax_included=False)
    return GrossToNet(lines=net_lines, totals=totals, iva_adjusted=adjusted)
