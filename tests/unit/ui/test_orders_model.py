"""OrdersTableModel's choices, with a fake source (control flow only; the real reads are tested in tests/ui):
which reads it makes, when it leaves "the orders behind a row", how an ended order looks, the footer's text."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import Qt

from desktop_app.query.orders_view import OrderRow, OrderStatus
from desktop_app.ui.orders_model import BandRow, OrdersTableModel, display_text
from desktop_app.ui.paged_model import NO_VALUE
from desktop_app.ui.tab_footer import footer_text

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)


def order(customer: str, minutes: int, status: OrderStatus = OrderStatus.PLACED, total: int = 700,
          replaced_by: uuid.UUID | None = None) -> OrderRow:
    return OrderRow(uuid.uuid4(), customer, T0 + timedelta(minutes=minutes), "desk-1", 1, total, status,
                    None if status == OrderStatus.PLACED else T0 + timedelta(minutes=minutes + 1), None, None,
                    replaced_by, 0, minutes)


class FakeOrders:
    """Answers like QueryService; records each read."""

    def __init__(self, rows: list[OrderRow], behind: list[OrderRow]) -> None:
        self.rows = rows
        self.behind = behind
        self.reads: list[tuple] = []

    def orders(self, customer=None, status=None, search=None, limit=None, offset=0):
        self.reads.append(("orders", customer, search, limit, offset))
        rows = [row for row in self.rows if customer in (None, row.customer_id)]
        return rows[offset:] if limit is None else rows[offset:offset + limit]

    def count_orders(self, customer=None, status=None, search=None):
        return len([row for row in self.rows if customer in (None, row.customer_id)])

    def orders_behind(self, customer_id, item, unit_price_pence):
        self.reads.append(("behind", customer_id, item, unit_price_pence))
        return list(self.behind)


@pytest.fixture
def model(qapp):
    rows = [order("bob", 3), order("alice", 2), order("alice", 1, OrderStatus.CANCELLED)]
    source = FakeOrders(rows, behind=[rows[1]])
    model = OrdersTableModel(source)
    model.reload()
    yield model
    model.close()


def test_the_orders_behind_a_row_are_read_from_orders_behind_and_left_by_a_new_search(model):
    source = model.source
    model.show_behind(BandRow("alice", "Tea", 350))
    assert (model.rowCount(), model.total, model.filtered) == (1, 1, True)
    assert source.reads[-1] == ("behind", "alice", "Tea", 350)
    assert model.concerns("alice", "cheap") and not model.concerns("bob", "cheap")

    model.set_filter(None, "bo")  # a new search is a new question
    assert model.behind is None and model.search == "bo"
    assert source.reads[-1][0] == "orders"


def test_an_unchanged_filter_keeps_the_orders_behind_a_row(model):
    model.show_behind(BandRow("alice", "Tea", 350))
    model.set_filter(None, "  ")  # the window applies its (unchanged) filters again, e.g. new customers known
    assert model.behind == BandRow("alice", "Tea", 350)


def test_an_ended_order_is_struck_through_and_says_what_ended_it(model):
    fonts = [model.data(model.index(row, 0), Qt.ItemDataRole.FontRole) for row in range(3)]
    assert [font is not None and font.strikeOut() for font in fonts] == [False, False, True]
    new = uuid.uuid4()
    replaced = order("carol", 5, OrderStatus.REPLACED, replaced_by=new)
    assert display_text(replaced, "status") == f"replaced by {str(new)[:8]}"
    assert display_text(replaced, "total_pence") == "£7.00"
    assert model.value_pence == NO_VALUE  # orders have no footer total


def test_the_footer_names_the_rows_and_their_total():
    assert footer_text(1, "row", "rows", 1059, False) == "1 row shown, total £10.59"
    assert footer_text(1234, "row", "rows", 123456789, True) == "1,234 rows shown (filtered), total £1,234,567.89"
    assert footer_text(2, "order", "orders", NO_VALUE, True) == "2 orders shown (filtered)"
    assert footer_text(2, "row", "rows", None, False) == "2 rows shown, total …"  # being read
