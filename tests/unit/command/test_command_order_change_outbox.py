"""Cancel and amend against the outbox and a fake OrderLookup: what is checked, what is stored, in one
transaction, idempotent by command id. No broker."""

from __future__ import annotations

import dataclasses

import sqlite3
import uuid
from pathlib import Path

import pytest

from desktop_app import contracts
from desktop_app.command.model import InvalidOrder, LineInput, PlaceOrder, check
from desktop_app.command.order_changes import AmendOrder, CancelOrder, accept_change
from desktop_app.command.order_lookup import KnownOrder, LookupUnavailable
from desktop_app.command.outbox import CANCELS_KEY, CommandIdReused, Outbox

ELSEWHERE = uuid.UUID("0b9d1c7e-5a43-4f6e-8d2c-7a1b2c3d4e5f")  # placed by another desk: only the view knows it
TEA = (contracts.OrderLine(item="Tea", unit_price_pence=350, quantity=2),)


class FakeLookup:
    """The query side's view as the port gives it: a dict of known orders, or unavailable."""

    def __init__(self, *orders: KnownOrder, unavailable: str | None = None) -> None:
        self.orders = {order.order_id: order for order in orders}
        self.unavailable = unavailable
        self.asked: list[uuid.UUID] = []

    def known_order(self, order_id: uuid.UUID) -> KnownOrder | None:
        self.asked.append(order_id)
        if self.unavailable:
            raise LookupUnavailable(self.unavailable)
        return self.orders.get(order_id)


def elsewhere(customer: str = "bob", standing: bool = True) -> KnownOrder:
    return KnownOrder(ELSEWHERE, customer, standing, TEA)


@pytest.fixture
def outbox(tmp_path: Path):
    box = Outbox(tmp_path / "command.db", "orders")
    yield box
    box.close()


def place(outbox: Outbox, customer: str = "alice", command_id: str = "place-1") -> uuid.UUID:
    receipt, _ = outbox.accept(check(PlaceOrder(customer, (LineInput("Tea", "3.50", "2"),), command_id)).to_event("t"))
    return receipt.order_id


def refused(outbox: Outbox, cmd, lookup=None) -> dict[str, str]:
    before = outbox.receipts()
    with pytest.raises(InvalidOrder) as caught:
        accept_change(outbox, cmd, lookup, "unit-test")
    assert outbox.receipts() == before  # nothing written
    return {p.field: p.message for p in caught.value.problems}


def events(outbox: Outbox) -> list[contracts.Event]:
    return [p.event for p in outbox.pending(100)]


def test_a_cancel_right_after_a_place_is_accepted_before_anything_is_published(outbox: Outbox) -> None:
    order_id = place(outbox)
    receipt, created = accept_change(outbox, CancelOrder(str(order_id), "wrong tea", "cancel-1"), None, "desk")
    assert created and receipt.status == "accepted" and receipt.order_id == order_id
    assert receipt.command_id == "cancel-1" and outbox.receipt("cancel-1") == receipt
    placed, cancelled = outbox.pending(10)
    assert cancelled.event_type == contracts.ORDER_CANCELLED and cancelled.seq > placed.seq
    assert cancelled.headers == list(contracts.encode(cancelled.event).headers)
    assert cancelled.event.payload == contracts.OrderCancelledV1(
        order_id=order_id, customer_id="alice", command_id="cancel-1", reason="wrong tea")
    assert cancelled.event.source == "desk" and cancelled.event.event_id == receipt.event_id


def test_a_second_cancel_of_the_same_order_is_refused_as_already_cancelled(outbox: Outbox) -> None:
    order_id = place(outbox)
    accept_change(outbox, CancelOrder(str(order_id), command_id="cancel-1"), None, "desk")
    assert refused(outbox, CancelOrder(str(order_id), command_id="cancel-2")) == {
        "order_id": f"order {order_id} is already cancelled"}
    # also when the view has not seen the first cancellation yet: the outbox knows at once
    assert refused(outbox, CancelOrder(str(order_id), command_id="cancel-3"),
                   FakeLookup(KnownOrder(order_id, "alice", True, TEA))) == {
        "order_id": f"order {order_id} is already cancelled"}


def test_an_order_unknown_to_the_outbox_and_the_lookup_is_refused(outbox: Outbox) -> None:
    place(outbox)
    unknown = uuid.uuid4()
    message = {"order_id": f"no order {unknown} is known"}
    assert refused(outbox, CancelOrder(str(unknown))) == message  # no lookup: only the outbox is known
    assert refused(outbox, CancelOrder(str(unknown)), FakeLookup(elsewhere())) == message
    assert refused(outbox, AmendOrder(str(unknown), (LineInput("Tea", "1", "1"),)), FakeLookup()) == message


def test_an_order_of_another_desk_is_cancelled_for_the_customer_the_view_knows(outbox: Outbox) -> None:
    lookup = FakeLookup(elsewhere("bob"))
    receipt, created = accept_change(outbox, CancelOrder(str(ELSEWHERE), command_id="c1"), lookup, "desk")
    assert created and lookup.asked == [ELSEWHERE]
    (cancelled,) = events(outbox)
    assert (cancelled.payload.order_id, cancelled.payload.customer_id) == (ELSEWHERE, "bob")
    assert contracts.encode(cancelled).key == b"bob"  # the order's partition


def test_an_order_the_view_knows_as_cancelled_or_replaced_is_refused(outbox: Outbox) -> None:
    assert refused(outbox, CancelOrder(str(ELSEWHERE)), FakeLookup(elsewhere(standing=False))) == {
        "order_id": f"order {ELSEWHERE} is already cancelled"}
    successor = uuid.uuid4()
    replaced = dataclasses.replace(elsewhere(standing=False), replaced_by=successor)
    assert refused(outbox, CancelOrder(str(ELSEWHERE)), FakeLookup(replaced)) == {
        "order_id": f"order {ELSEWHERE} was replaced by order {successor} (amended)"}


def test_an_order_of_another_customer_is_refused_on_the_customer_field(outbox: Outbox) -> None:
    mine = place(outbox, "alice")
    assert refused(outbox, CancelOrder(str(mine), customer_id="bob")) == {
        "customer": f"order {mine} is for customer alice, not bob"}
    assert refused(outbox, CancelOrder(str(ELSEWHERE), customer_id="alice"), FakeLookup(elsewhere("bob"))) == {
        "customer": f"order {ELSEWHERE} is for customer bob, not alice"}
    assert accept_change(outbox, CancelOrder(str(mine), customer_id=" alice "), None, "d")[1]  # the same id, trimmed


def test_problems_of_the_order_come_with_the_problems_of_the_fields(outbox: Outbox) -> None:
    mine = place(outbox, "alice")
    accept_change(outbox, CancelOrder(str(mine)), None, "d")
    assert refused(outbox, CancelOrder(str(mine), "x" * 201, customer_id="bob")) == {
        "order_id": f"order {mine} is already cancelled",
        "customer": f"order {mine} is for customer alice, not bob",
        "reason": "at most 200 characters (this has 201)",
    }


def test_when_the_view_cannot_tell_only_the_outbox_s_orders_can_change(outbox: Outbox) -> None:
    mine = place(outbox)
    lookup = FakeLookup(unavailable="the view is being rebuilt")
    assert refused(outbox, CancelOrder(str(ELSEWHERE)), lookup) == {
        "order_id": f"cannot check order {ELSEWHERE} now: the view is being rebuilt"}
    assert accept_change(outbox, CancelOrder(str(mine)), lookup, "desk")[1]


def test_an_amend_is_the_cancel_of_the_old_order_then_the_new_order_replacing_it(outbox: Outbox) -> None:
    old = place(outbox, "alice")
    receipt, created = accept_change(outbox, AmendOrder(str(old), (LineInput("Cake", "2.25", "4"),),
                                                        command_id="amend-1"), None, "desk")
    placed, cancel_row, new_row = outbox.pending(10)
    assert created and placed.event.payload.order_id == old
    assert cancel_row.seq < new_row.seq  # published in seq order: the cancel lands first in the partition
    assert (cancel_row.command_id, new_row.command_id) == ("amend-1" + CANCELS_KEY, "amend-1")
    cancelled, replacing = cancel_row.event, new_row.event
    assert cancelled.payload == contracts.OrderCancelledV1(order_id=old, customer_id="alice", command_id="amend-1",
                                                           reason="amended")
    assert replacing.payload.replaces == old and replacing.payload.customer_id == "alice"
    assert replacing.payload.command_id == "amend-1" and replacing.payload.order_id not in (old,)
    assert replacing.payload.lines == (contracts.OrderLine(item="Cake", unit_price_pence=225, quantity=4),)
    assert (receipt.order_id, receipt.event_id) == (replacing.payload.order_id, replacing.event_id)
    assert outbox.receipt("amend-1") == receipt  # the new order's receipt
    assert [r.command_id for r in outbox.receipts()] == ["place-1", "amend-1", "amend-1"]


def test_an_amended_order_cannot_change_again_but_its_replacement_can(outbox: Outbox) -> None:
    old = place(outbox)
    new, _ = accept_change(outbox, AmendOrder(str(old), (LineInput("Cake", "1", "1"),)), None, "d")
    assert refused(outbox, AmendOrder(str(old), (LineInput("Pie", "1", "1"),))) == {
        "order_id": f"order {old} was replaced by order {new.order_id} (amended)"}
    assert refused(outbox, CancelOrder(str(old))) == {"order_id": f"order {old} was replaced by order {new.order_id} (amended)"}
    assert accept_change(outbox, CancelOrder(str(new.order_id)), None, "d")[1]


def test_an_amend_is_stored_whole_or_not_at_all(outbox: Outbox, tmp_path: Path) -> None:
    old = place(outbox)
    with sqlite3.connect(tmp_path / "command.db") as conn:  # the second insert of the transaction fails
        conn.execute("CREATE TRIGGER no_new_orders BEFORE INSERT ON outbox WHEN NEW.event_type = 'OrderPlaced'"
                     " BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    conn.close()
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        accept_change(outbox, AmendOrder(str(old), (LineInput("Cake", "1", "1"),), command_id="amend-1"), None, "d")
    assert [p.event_type for p in outbox.pending(10)] == ["OrderPlaced"]  # not the cancel either
    assert outbox.receipt("amend-1") is None


def test_a_repeated_cancel_returns_its_first_receipt_and_adds_nothing(outbox: Outbox) -> None:
    order_id = place(outbox)
    cmd = CancelOrder(str(order_id), "wrong tea", "cancel-1")
    first, _ = accept_change(outbox, cmd, None, "desk")
    lookup = FakeLookup(KnownOrder(order_id, "alice", False, TEA))  # by now the view knows it cancelled
    again, created = accept_change(outbox, cmd, lookup, "desk")
    assert (again, created) == (first, False) and len(outbox.pending(10)) == 2
    assert lookup.asked == []  # a repeat needs no look-up


def test_a_repeated_amend_returns_the_new_order_s_receipt_and_adds_nothing(outbox: Outbox) -> None:
    old = place(outbox)
    cmd = AmendOrder(str(old), (LineInput("Cake", "1", "1"),), command_id="amend-1")
    first, _ = accept_change(outbox, cmd, None, "desk")
    assert accept_change(outbox, cmd, None, "desk") == (first, False)
    assert accept_change(outbox, AmendOrder(f" {str(old).upper()} ", cmd.lines, command_id="amend-1",
                                            customer_id="alice"), None, "desk") == (first, False)
    assert len(outbox.pending(10)) == 3


@pytest.mark.parametrize("again", [
    CancelOrder("{other}", "wrong tea", "cmd-1"),  # another order
    CancelOrder("{old}", "another reason", "cmd-1"),
    CancelOrder("{old}", "wrong tea", "cmd-1", customer_id="bob"),
    AmendOrder("{old}", (LineInput("Tea", "3.50", "2"),), "wrong tea", "cmd-1"),  # an amend, not a cancel
])
def test_a_cancel_command_id_reused_for_another_change_is_refused(outbox: Outbox, again) -> None:
    old, other = place(outbox, command_id="p1"), place(outbox, command_id="p2")
    accept_change(outbox, CancelOrder(str(old), "wrong tea", "cmd-1"), None, "d")
    before = outbox.receipts()
    again = type(again)(**{**{f: getattr(again, f) for f in again.__dataclass_fields__},
                           "order_id": again.order_id.format(old=old, other=other)})
    with pytest.raises(CommandIdReused, match="cmd-1"):
        accept_change(outbox, again, None, "d")
    assert outbox.receipts() == before


@pytest.mark.parametrize("again", [
    AmendOrder("{old}", (LineInput("Cake", "1.01", "1"),), command_id="cmd-1"),  # other lines
    AmendOrder("{old}", (LineInput("Cake", "1", "1"),), reason="other", command_id="cmd-1"),
    CancelOrder("{old}", "amended", "cmd-1"),  # a cancel, not an amend
])
def test_an_amend_command_id_reused_for_another_change_is_refused(outbox: Outbox, again) -> None:
    old = place(outbox, command_id="p1")
    accept_change(outbox, AmendOrder(str(old), (LineInput("Cake", "1", "1"),), command_id="cmd-1"), None, "d")
    again = type(again)(**{**{f: getattr(again, f) for f in again.__dataclass_fields__},
                           "order_id": again.order_id.format(old=old)})
    with pytest.raises(CommandIdReused):
        accept_change(outbox, again, None, "d")
    assert len(outbox.pending(10)) == 3


def test_a_place_and_a_change_never_share_a_command_id(outbox: Outbox) -> None:
    old = place(outbox, command_id="p1")
    with pytest.raises(CommandIdReused):  # a cancel reusing a place's id
        accept_change(outbox, CancelOrder(str(old), command_id="p1"), None, "d")
    accept_change(outbox, CancelOrder(str(old), command_id="c1"), None, "d")
    with pytest.raises(CommandIdReused):  # a place reusing a cancel's id
        place(outbox, command_id="c1")
    other = place(outbox, command_id="p2")
    new, _ = accept_change(outbox, AmendOrder(str(other), (LineInput("Tea", "3.50", "2"),), command_id="a1"), None, "d")
    with pytest.raises(CommandIdReused):  # a place reusing an amend's id, even with the same customer and lines
        place(outbox, command_id="a1")
    assert [p.command_id.partition("\x00")[0] for p in outbox.pending(10)] == ["p1", "c1", "p2", "a1", "a1"]


def test_an_order_accepted_for_another_topic_is_not_known_to_this_one(tmp_path: Path) -> None:
    alpha, beta = Outbox(tmp_path / "command.db", "alpha"), Outbox(tmp_path / "command.db", "beta")
    try:
        order_id = place(alpha)
        assert refused(beta, CancelOrder(str(order_id))) == {"order_id": f"no order {order_id} is known"}
        assert accept_change(alpha, CancelOrder(str(order_id)), None, "d")[1]
    finally:
        alpha.close()
        beta.close()
