"""The Orders tab's rows: one per order, newest first, live like the band tabs (a PagedRowsModel).

Cancelled and replaced orders stay in the list, struck through and greyed, so a clerk sees what happened.
Either the window's filters select the orders (customer, and a search by order id or customer), or
`show_behind` selects the placed orders whose lines make one band row.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont

from desktop_app.query.orders_view import OrderRow, OrderStatus
from desktop_app.query.views import ItemRow
from desktop_app.ui.items_tab import format_pounds
from desktop_app.ui.paged_model import PagedRowsModel

COLUMNS: tuple[tuple[str, str], ...] = (
    ("placed_at", "Time"),
    ("customer_id", "Customer"),
    ("line_count", "Lines"),
    ("total_pence", "Total"),
    ("status", "Status"),
    ("order_id", "Order"),
)
NUMERIC = frozenset({"line_count", "total_pence"})
SHORT_ID = 8  # hex digits of an order id shown; the search matches any prefix, the tooltip has it all
ENDED_COLOUR = QColor(120, 120, 120)


def short_id(order_id: uuid.UUID | None) -> str:
    return str(order_id)[:SHORT_ID] if order_id is not None else ""


def format_moment(row: OrderRow) -> str:
    return row.placed_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def status_text(row: OrderRow) -> str:
    if row.status == OrderStatus.REPLACED and row.replaced_by is not None:
        return f"replaced by {short_id(row.replaced_by)}"
    return OrderStatus(row.status).value


def display_text(row: OrderRow, name: str) -> str:
    """A cell as the Orders tab shows it; copy and CSV export use the same text."""
    if name == "placed_at":
        return format_moment(row)
    if name == "total_pence":
        return format_pounds(row.total_pence)
    if name == "status":
        return status_text(row)
    if name == "order_id":
        return short_id(row.order_id)
    value = getattr(row, name)
    return f"{value:,}" if isinstance(value, int) else value


def is_ended(row: OrderRow) -> bool:
    """Cancelled or replaced: shown struck through, never hidden."""
    return OrderStatus(row.status) != OrderStatus.PLACED


def describe(row: OrderRow) -> str:
    """The tooltip: the full id and, for an ended order, when and why."""
    lines = [f"Order {row.order_id}", f"from {row.source}"]
    if row.replaces is not None:
        lines.append(f"replaces order {row.replaces}")
    if is_ended(row) and row.cancelled_at is not None:
        lines.append(f"{OrderStatus(row.status).value} {row.cancelled_at.astimezone():%Y-%m-%d %H:%M:%S}"
                     + (f": {row.reason}" if row.reason else ""))
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class BandRow:
    """The band row whose orders are shown: (customer, item, unit price)."""

    customer_id: str
    item: str
    unit_price_pence: int

    @classmethod
    def of(cls, row: ItemRow) -> BandRow:
        return cls(row.customer_id, row.item, row.unit_price_pence)

    def __str__(self) -> str:
        return f"{self.customer_id} · {self.item} at {format_pounds(self.unit_price_pence)}"


class OrdersTableModel(PagedRowsModel[OrderRow]):
    columns = COLUMNS
    numeric = NUMERIC

    def __init__(self, source: Any, parent: Any = None, reader: ThreadPoolExecutor | None = None) -> None:
        """`source`: the query service (orders, count_orders, orders_behind)."""
        super().__init__(parent, reader, name="rows-orders")
        self.source = source
        self.behind: BandRow | None = None
        self._struck = QFont()
        self._struck.setStrikeOut(True)

    # -- what selects the rows -------------------------------------------------------------------
    def filters(self) -> tuple[Any, ...]:
        return (self.customer, self.search, self.behind)

    @property
    def filtered(self) -> bool:
        return self.behind is not None or super().filtered

    def show_behind(self, row: BandRow | None) -> None:
        """Show the placed orders behind one band row (None: back to the window's filters)."""
        if row != self.behind:
            self.behind = row
            self.reload()

    def set_filter(self, customer: str | None, search: str | None) -> None:
        """A new customer or search is a new question: it leaves the orders behind a band row."""
        customer, search = customer or None, (search or "").strip() or None
        if (customer, search) != (self.customer, self.search):
            self.behind = None
        super().set_filter(customer, search)

    def read_page(self, filters: tuple[Any, ...], limit: int | None, offset: int) -> list[OrderRow]:
        customer, search, behind = filters
        if behind is not None:
            rows = self.source.orders_behind(behind.customer_id, behind.item, behind.unit_price_pence)
            return rows[offset:] if limit is None else rows[offset:offset + limit]
        return self.source.orders(customer=customer, search=search, limit=limit, offset=offset)

    def read_count(self, filters: tuple[Any, ...]) -> int:
        customer, search, behind = filters
        if behind is not None:
            return len(self.source.orders_behind(behind.customer_id, behind.item, behind.unit_price_pence))
        return self.source.count_orders(customer=customer, search=search)

    def concerns(self, customer: str, band: Any) -> bool:
        if self.behind is not None:
            return customer == self.behind.customer_id
        return super().concerns(customer, band)

    # -- the rows --------------------------------------------------------------------------------
    def identity(self, row: OrderRow) -> uuid.UUID:
        return row.order_id

    def _sort_key(self, row: OrderRow) -> tuple[Any, ...]:
        return (row.placed_at, row.order_id)  # newest first; an order never moves

    def display_text(self, row: OrderRow, name: str) -> str:
        return display_text(row, name)

    def extra_data(self, row: OrderRow, name: str, role: int) -> Any:
        if role == Qt.ItemDataRole.FontRole and is_ended(row):
            return self._struck
        if role == Qt.ItemDataRole.ForegroundRole and is_ended(row):
            return QBrush(ENDED_COLOUR)
        if role == Qt.ItemDataRole.ToolTipRole:
            return describe(row)
        return None

    def find(self, order_id: uuid.UUID) -> int | None:
        """The position of a loaded order, if it is loaded."""
        return next((position for position, row in enumerate(self._rows) if row.order_id == order_id), None)
