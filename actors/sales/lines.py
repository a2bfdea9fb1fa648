"""The total of one cart line: price times quantity, less a percentage discount.

Rule, in integer minor units (prices include tax, as shelf prices do in Chile and Ecuador)::

    gross    = round_half_up(unit_price * quantity, 1000)   # quantity in thousandths of the unit
    discount = round_half_up(gross * discount_percent, 100)
    total    = gross - discount

The gross is rounded once, to a whole minor unit, before the discount so the receipt can print "1.235 kg x
$2.990 = $3.693" and a discount line that the customer can check from the printed gross. The discount is
subtracted (not the line multiplied by ``100 - percent``) so gross - discount = total holds exactly on
paper; 100 % gives a line of 0 and 0 % leaves the gross untouched.
"""

from __future__ import annotations

from actors.sales.errors import InvalidAmountError, InvalidDiscountError, InvalidQuantityError
from schema.errors import ValidationError
from schema.messages.catalog import ProductView
from schema.messages.till import CartLine
from schema.money import QUANTITY_SCALE, round_half_up


def line_gross(unit_price: int, quantity: int) -> int:
    """``unit_price * quantity / 1000`` rounded half up: the line before any discount."""
    if unit_price < 0:
        raise InvalidAmountError(f"unit price must not be negative, got {unit_price}", unit_price=unit_price)
    if quantity <= 0:
        raise InvalidQuantityError(
            f"quantity must be positive (thousandths of the unit), got {quantity}", quantity=quantity
        )
    return round_half_up(unit_price * quantity, QUANTITY_SCALE)


def line_discount(gross: int, discount_percent: int) -> int:
    """The discount taken off a line's gross: ``gross * percent / 100`` rounded half up."""
    if not 0 <= discount_percent <= 100:
        raise InvalidDiscountError(
            f"discount must be between 0 and 100 percent, got {discount_percent}",
            discount_percent=discount_percent,
        )
    return round_half_up(gross * discount_percent, 100)


def line_total(unit_price: int, quantity: int, discount_percent: int) -> int:
    """The line's total after discount, tax included (see the module docstring for the rule)."""
    gross = line_gross(unit_price, quantity)
    return gross - line_discount(gross, discount_percent)


def require_whole_units(unit: str, quantity: int, message: str, **details: object) -> None:
    """Refuse a fraction of a product sold by the unit (a kg product takes any number of grams)."""
    if unit != "kg" and quantity % QUANTITY_SCALE:
        raise ValidationError(message, quantity=quantity, **details)


def cart_line(line_id: int, product: ProductView, quantity: int, discount_percent: int = 0) -> CartLine:
    """A priced :class:`CartLine` for ``quantity`` thousandths of ``product`` at its current price."""
    return CartLine(
        line_id=line_id,
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        unit=product.unit,
        quantity=quantity,
        unit_price=product.price,
        discount_percent=discount_percent,
        total=line_total(product.price, quantity, discount_percent),
    )
