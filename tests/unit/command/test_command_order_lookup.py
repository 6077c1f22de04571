"""The OrderLookup adapter bootstrap wires: the query side's `order(order_id)` as the command side's port.

A fake with the query side's documented shape (OrderDetail: `.order.customer_id`, `.order.status`,
`.lines` of OrderLineRow) stands in for QueryService: this is the control flow, not the view.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from desktop_app import contracts
from desktop_app.bootstrap import QueryOrderLookup
from desktop_app.command.order_lookup import KnownOrder, LookupUnavailable
from desktop_app.query.view_health import ViewUnavailable

ORDER = uuid.UUID("0b9d1c7e-5a43-4f6e-8d2c-7a1b2c3d4e5f")


@dataclass(frozen=True)
class Row:
    order_id: uuid.UUID
    customer_id: str
    status: str
    replaced_by: uuid.UUID | None = None


@dataclass(frozen=True)
class Line:
    item: str
    unit_price_pence: int
    quantity: int


@dataclass(frozen=True)
class Detail:
    order: Row
    lines: tuple[Line, ...]
    events: tuple[object, ...] = ()


class FakeQuery:
    def __init__(self, detail: Detail | None = None, error: Exception | None = None) -> None:
        self.detail, self.error, self.asked = detail, error, []

    def order(self, order_id):
        self.asked.append(order_id)
        if self.error:
            raise self.error
        return self.detail


NEW_ORDER = uuid.UUID("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")


@pytest.mark.parametrize("status, standing, replaced_by",
                         [("placed", True, None), ("cancelled", False, None), ("replaced", False, NEW_ORDER)])
def test_the_view_s_order_becomes_what_the_command_side_knows(status, standing, replaced_by) -> None:
    query = FakeQuery(Detail(Row(ORDER, "bob", status, replaced_by), (Line("Tea", 350, 2), Line("Cake", 125, 1))))
    known = QueryOrderLookup(query).known_order(ORDER)  # type: ignore[arg-type]
    assert query.asked == [ORDER]
    assert known == KnownOrder(ORDER, "bob", standing, (
        contracts.OrderLine(item="Tea", unit_price_pence=350, quantity=2),
        contracts.OrderLine(item="Cake", unit_price_pence=125, quantity=1)), replaced_by)


def test_an_order_the_view_does_not_know_is_none() -> None:
    assert QueryOrderLookup(FakeQuery()).known_order(ORDER) is None  # type: ignore[arg-type]


def test_a_view_that_cannot_be_read_makes_the_lookup_unavailable_with_its_reason() -> None:
    lookup = QueryOrderLookup(FakeQuery(error=ViewUnavailable("the view is being rebuilt")))  # type: ignore[arg-type]
    with pytest.raises(LookupUnavailable, match="the view is being rebuilt"):
        lookup.known_order(ORDER)
