"""The outbox on its own: durable accept, idempotency on command_id, order, publish state. No broker."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import pytest

from desktop_app.command.model import LineInput, PlaceOrder, check
from desktop_app.command.outbox import Acknowledgement, CommandIdReused, Outbox, OutboxVersionError, Receipt


def event(customer: str = "alice", command_id: str = "cmd-1", price: str = "3.50", item: str = "Tea"):
    return check(PlaceOrder(customer, (LineInput(item, price, "2"),), command_id)).to_event("unit-test")


@pytest.fixture
def outbox(tmp_path: Path):
    box = Outbox(tmp_path / "command.db", "orders")
    yield box
    box.close()


def test_accepted_events_survive_reopening(tmp_path: Path) -> None:
    first = Outbox(tmp_path / "command.db", "orders")
    placed = event()
    receipt, created = first.accept(placed)
    first.close()

    again = Outbox(tmp_path / "command.db", "orders")
    try:
        assert created and receipt.status == "accepted" and receipt.partition is None
        assert again.receipt("cmd-1") == receipt
        (pending,) = again.pending(limit=10)
        assert pending.event == placed  # the very same event: same event_id, order_id, timestamp
        assert again.pending_count() == 1
    finally:
        again.close()


def test_a_resubmitted_command_returns_the_first_receipt_and_adds_nothing(outbox: Outbox) -> None:
    first, created_first = outbox.accept(event())
    second, created_second = outbox.accept(event())  # same command, a fresh event_id and order_id
    assert (created_first, created_second) == (True, False)
    assert second == first
    assert [p.event_id for p in outbox.pending(10)] == [first.event_id]


def test_a_command_id_reused_for_another_order_is_refused(outbox: Outbox) -> None:
    outbox.accept(event(price="3.50"))
    with pytest.raises(CommandIdReused, match="cmd-1"):
        outbox.accept(event(price="3.51"))
    with pytest.raises(CommandIdReused):
        outbox.accept(event(customer="bob"))
    assert outbox.pending_count() == 1


def test_pending_is_in_submission_order_and_publishing_records_the_position(outbox: Outbox) -> None:
    receipts = [outbox.accept(event(customer=f"c{n % 3}", command_id=f"cmd-{n}"))[0] for n in range(7)]
    pending = outbox.pending(limit=5)
    assert [p.command_id for p in pending] == [f"cmd-{n}" for n in range(5)]

    outbox.mark_published([Acknowledgement(pending[0].seq, 2, 40), Acknowledgement(pending[1].seq, 0, None)])
    assert outbox.receipt("cmd-0") == Receipt(
        order_id=receipts[0].order_id, command_id="cmd-0", status="published", partition=2, offset=40,
        event_id=receipts[0].event_id,
    )
    assert (outbox.receipt("cmd-1").status, outbox.receipt("cmd-1").offset) == ("published", None)
    assert [p.command_id for p in outbox.pending(limit=10)] == [f"cmd-{n}" for n in range(2, 7)]
    assert outbox.pending_count() == 5

    # a later acknowledgement of the same event (a re-send) does not move its recorded position
    outbox.mark_published([Acknowledgement(pending[0].seq, 2, 99)])
    assert outbox.receipt("cmd-0").offset == 40
    # resubmitting a published command returns the published receipt
    assert outbox.accept(event(customer="c0", command_id="cmd-0"))[0].status == "published"


def test_attempts_keep_the_first_time(outbox: Outbox) -> None:
    outbox.accept(event())
    (pending,) = outbox.pending(1)
    assert pending.attempted_at is None
    outbox.mark_attempted([pending.seq], at=1000.0)
    outbox.mark_attempted([pending.seq], at=2000.0)
    assert outbox.pending(1)[0].attempted_at == 1000.0


def test_the_store_is_wal_with_full_sync(outbox: Outbox, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "command.db") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert outbox._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL, on the outbox's own connection


def test_accepting_waits_for_the_disk_and_only_the_relays_notes_do_not(outbox: Outbox) -> None:
    """Each commit runs at the connection's synchronous level: FULL for an accepted command (it must survive
    an OS crash before place_order returns); NORMAL only inside the relay's attempted/published notes."""
    levels: list[int] = []  # the synchronous level at each write transaction's COMMIT
    writing = []
    real_execute = outbox._conn.execute

    def note(statement: str) -> None:
        if statement.startswith("BEGIN"):
            writing[:] = [statement == "BEGIN IMMEDIATE"]
        elif statement == "COMMIT" and writing == [True]:
            levels.append(real_execute("PRAGMA synchronous").fetchone()[0])
    outbox._conn.set_trace_callback(note)

    outbox.accept(event(command_id="cmd-1"))
    outbox.accept_many([event(command_id="cmd-2"), event(command_id="cmd-3")])
    accepted_levels = list(levels)
    seqs = [p.seq for p in outbox.pending(10)]
    outbox.mark_attempted(seqs)
    outbox.mark_published([Acknowledgement(seq, 0, n) for n, seq in enumerate(seqs)])
    outbox.accept(event(command_id="cmd-4"))
    outbox._conn.set_trace_callback(None)

    assert accepted_levels == [2, 2]  # FULL
    assert levels[2:] == [1, 1, 2]  # NORMAL for the two notes, FULL again for the next accept
    assert outbox._conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_a_newer_outbox_is_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "command.db"
    Outbox(path, "orders").close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(OutboxVersionError, match="99"):
        Outbox(path, "orders")


def test_two_writers_on_one_file_never_duplicate_a_command(tmp_path: Path) -> None:
    boxes = [Outbox(tmp_path / "command.db", "orders") for _ in range(2)]  # like the GUI and the CLI
    created: list[bool] = []
    lock = threading.Lock()

    def submit(box: Outbox) -> None:
        for n in range(40):
            _, new = box.accept(event(customer=f"c{n % 4}", command_id=f"cmd-{n}"))
            with lock:
                created.append(new)

    threads = [threading.Thread(target=submit, args=(box,)) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert created.count(True) == 40 and len(created) == 80
        assert sorted(r.command_id for r in boxes[0].receipts()) == sorted(f"cmd-{n}" for n in range(40))
    finally:
        for box in boxes:
            box.close()


def test_an_order_is_found_by_its_short_key_index_not_by_reading_the_table(outbox: Outbox) -> None:
    from desktop_app.command.outbox import ORDER_ROWS

    placed = event()
    outbox.accept(placed)
    with outbox._read() as conn:
        plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + ORDER_ROWS, ("a", "b", "orders")))
    assert "USING INDEX outbox_order_key" in plan, plan
    with outbox.change() as change:
        own = change.own_order(placed.payload.order_id)
        assert own is not None and own.placed == placed.payload
        other = uuid.UUID(str(placed.payload.order_id)[:8] + "-0000-4000-8000-000000000000")  # same key, another id
        assert change.own_order(other) is None
