"""The refusals of restaurant mode, each with its stable code (``schema.messages.restaurant`` lists them)."""

from __future__ import annotations

from schema.errors import ConflictError


class NotRestaurantError(ConflictError):
    """The store is not in restaurant mode: it has no floor plan and no tabs."""

    code = "not_restaurant"


class TableBusyError(ConflictError):
    """The table already has an open tab (``details.tab_id``)."""

    code = "table_busy"


class TabClosedError(ConflictError):
    """The tab is not open any more (paid, closed or merged into another)."""

    code = "tab_closed"


class AlreadySentError(ConflictError):
    """The kitchen has this item already: void it instead (a manager's approval)."""

    code = "already_sent"


class AlreadyPaidError(ConflictError):
    """The item was paid already."""

    code = "already_paid"


class TabChangedError(ConflictError):
    """The tab's items changed while the payment was being prepared: reload the tab and try again."""

    code = "tab_changed"


class UnpaidItemsError(ConflictError):
    """The tab still has items to pay: pay them (or void them) before closing it."""

    code = "unpaid_items"
