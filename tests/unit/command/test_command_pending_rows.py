"""The rows each accept transaction hands the relay (`pending_rows`, `Outbox.hand_off_to`): the relay takes
its rounds from them only while they are exactly the outbox's pending rows; otherwise it reads the outbox.
No broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.command.model import LineInput, PlaceOrder, check
from desktop_app.command.outbox import Acknowledgement, CommandIdReused, Outbox, PendingEvent
from desktop_app.command.pending_rows import PendingRows


def event(n: int, price: str = "3.50"):
    return check(PlaceOrder(f"customer {n % 3}", (LineInput(f"Tea {n}", price, "2"),), f"cmd-{n}")).to_event("unit")


@pytest.fixture
def outbox(tmp_path: Path):
    box = Outbox(tmp_path / "command.db", "orders")
    yield box
    box.close()


def relay_view(outbox: Outbox, limit: int = 100) -> PendingRows:
    """A PendingRows fed by the outbox's commits and brought up to date by one read, as the relay does."""
    rows = PendingRows()
    outbox.hand_off_to(rows.handed)
    assert rows.take(limit) is None  # knows nothing yet: read the outbox
    read, last_seq = outbox.pending_and_last_seq(limit)
    rows.read(read, last_seq, limit)
    return rows


def test_the_handed_rows_are_the_stored_pending_rows(outbox: Outbox) -> None:
    rows = relay_view(outbox)
    outbox.accept_many([event(n) for n in range(5)])
    outbox.accept(event(5))
    taken = rows.take(100)
    assert taken == outbox.pending(100)  # same seq, ids, customer, topic, JSON bytes, type, never attempted
    assert rows.take(100) is None  # all taken: the next round reads the outbox (it may hold other processes' rows)


def test_rows_are_taken_in_seq_order_at_most_limit_at_a_time(outbox: Outbox) -> None:
    rows = relay_view(outbox)
    outbox.accept_many([event(n) for n in range(7)])
    assert [[p.command_id for p in rows.take(3)] for _ in range(3)] == [  # type: ignore[union-attr]
        ["cmd-0", "cmd-1", "cmd-2"], ["cmd-3", "cmd-4", "cmd-5"], ["cmd-6"]]


def test_a_rolled_back_transaction_hands_nothing_over(outbox: Outbox) -> None:
    outbox.accept(event(1))
    rows = relay_view(outbox)
    rows.take(100)
    with pytest.raises(CommandIdReused):
        outbox.accept_many([event(2), event(1, price="9.99")])
    assert rows.take(100) is None and [p.command_id for p in outbox.pending(10)] == ["cmd-1"]
    outbox.accept(event(2))  # the seq the rolled-back row had is used again, and continues what is known
    assert [p.command_id for p in rows.take(100)] == ["cmd-2"]  # type: ignore[union-attr]


def test_rows_written_by_another_process_make_the_relay_read_the_outbox(tmp_path: Path, outbox: Outbox) -> None:
    rows = relay_view(outbox)
    outbox.accept(event(1))
    other = Outbox(tmp_path / "command.db", "orders")  # the CLI, say: its commits are not handed over here
    try:
        other.accept(event(2))
    finally:
        other.close()
    outbox.accept(event(3))  # follows a row this process never saw: not taken from memory
    assert [p.command_id for p in rows.take(100)] == ["cmd-1"]  # type: ignore[union-attr]
    assert rows.take(100) is None
    read, last_seq = outbox.pending_and_last_seq(100)
    assert [p.command_id for p in read] == ["cmd-1", "cmd-2", "cmd-3"]  # the relay published none of them yet
    rows.read(read, last_seq, 100)
    outbox.accept(event(4))
    assert [p.command_id for p in rows.take(100)] == ["cmd-4"]  # type: ignore[union-attr]


def test_rows_are_kept_only_after_a_read_that_saw_every_pending_row(outbox: Outbox) -> None:
    rows = PendingRows()
    outbox.hand_off_to(rows.handed)
    outbox.accept_many([event(n) for n in range(3)])
    assert rows.take(2) is None  # nothing was read yet: these rows are the outbox's to tell
    read, last_seq = outbox.pending_and_last_seq(2)
    rows.read(read, last_seq, 2)  # two of three: more may be pending
    outbox.accept(event(3))
    assert rows.take(10) is None
    read, last_seq = outbox.pending_and_last_seq(10)
    rows.read(read, last_seq, 10)
    assert [p.command_id for p in read] == ["cmd-0", "cmd-1", "cmd-2", "cmd-3"]
    outbox.accept(event(4))
    assert [p.command_id for p in rows.take(10)] == ["cmd-4"]  # type: ignore[union-attr]


def test_a_hand_off_committed_during_the_read_is_taken_once(outbox: Outbox) -> None:
    rows = relay_view(outbox)
    assert rows.take(100) is None
    read, last_seq = outbox.pending_and_last_seq(100)  # the relay's read, then a commit before it is noted
    outbox.accept(event(1))
    rows.read(read, last_seq, 100)
    assert [p.command_id for p in rows.take(100)] == ["cmd-1"]  # type: ignore[union-attr]

    assert rows.take(100) is None
    outbox.accept(event(2))  # committed before the read: the read has it, the hand-off is not taken again
    read, last_seq = outbox.pending_and_last_seq(100)
    rows.read(read, last_seq, 100)
    assert [p.command_id for p in read] == ["cmd-1", "cmd-2"]
    assert rows.take(100) is None


def test_forget_after_a_failed_round_reads_the_outbox_again(outbox: Outbox) -> None:
    rows = relay_view(outbox)
    outbox.accept_many([event(n) for n in range(4)])
    failed = rows.take(2)
    rows.forget()  # the round failed: its rows are pending again, before the others
    outbox.accept(event(4))
    assert rows.take(100) is None
    read, _ = outbox.pending_and_last_seq(100)
    assert [p.seq for p in read[:2]] == [p.seq for p in failed]  # type: ignore[union-attr]


def test_more_rows_than_it_may_hold_are_left_to_the_outbox(outbox: Outbox) -> None:
    rows = PendingRows(max_rows=3)
    outbox.hand_off_to(rows.handed)
    rows.take(10)
    read, last_seq = outbox.pending_and_last_seq(10)
    rows.read(read, last_seq, 10)
    outbox.accept_many([event(n) for n in range(2)])
    outbox.accept_many([event(n) for n in range(2, 4)])  # would make 4
    outbox.accept(event(4))
    assert [p.command_id for p in rows.take(10)] == ["cmd-0", "cmd-1"]  # type: ignore[union-attr]
    assert rows.take(10) is None
    read, _ = outbox.pending_and_last_seq(10)
    assert [p.command_id for p in read] == ["cmd-0", "cmd-1", "cmd-2", "cmd-3", "cmd-4"]


def test_published_rows_are_not_handed_over_again(outbox: Outbox) -> None:
    rows = relay_view(outbox)
    outbox.accept_many([event(n) for n in range(2)])
    taken: list[PendingEvent] = rows.take(100)  # type: ignore[assignment]
    outbox.mark_published([Acknowledgement(p.seq, 0, n) for n, p in enumerate(taken)])
    assert rows.take(100) is None
    read, last_seq = outbox.pending_and_last_seq(100)
    assert read == [] and last_seq == taken[-1].seq
