"""The outbox records the topic each event was accepted for, and migrates schema 1 files. No broker."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desktop_app import contracts
from desktop_app.command.model import LineInput, PlaceOrder, check
from desktop_app.command.outbox import CommandIdReused, Outbox

# The outbox table as schema 1 (before topics were recorded) created it.
SCHEMA_1 = """
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id   TEXT    NOT NULL UNIQUE,
    event_id     TEXT    NOT NULL UNIQUE,
    order_id     TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    event_json   BLOB    NOT NULL,
    accepted_at  TEXT    NOT NULL,
    attempted_at REAL,
    published_at TEXT,
    partition    INTEGER,
    "offset"     INTEGER
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
PRAGMA user_version = 1;
"""


def event(customer: str = "alice", command_id: str = "cmd-1"):
    return check(PlaceOrder(customer, (LineInput("Tea", "3.50", "2"),), command_id)).to_event("unit-test")


def test_each_event_keeps_the_topic_it_was_accepted_for(tmp_path: Path) -> None:
    alpha, beta = Outbox(tmp_path / "command.db", "alpha"), Outbox(tmp_path / "command.db", "beta")
    try:
        alpha.accept(event(command_id="for-alpha"))
        beta.accept(event(command_id="for-beta"))
        assert [(p.command_id, p.topic) for p in alpha.pending(10)] == [("for-alpha", "alpha"), ("for-beta", "beta")]
        assert [p.topic for p in beta.pending(10)] == ["alpha", "beta"]  # whoever reads, the row decides
    finally:
        alpha.close()
        beta.close()


def test_a_command_id_resubmitted_for_another_topic_is_refused(tmp_path: Path) -> None:
    alpha, beta = Outbox(tmp_path / "command.db", "alpha"), Outbox(tmp_path / "command.db", "beta")
    try:
        first, _ = alpha.accept(event())
        assert alpha.accept(event())[0] == first  # same order, same topic: the first receipt
        with pytest.raises(CommandIdReused, match="cmd-1"):
            beta.accept(event())
        assert [p.topic for p in beta.pending(10)] == ["alpha"]
    finally:
        alpha.close()
        beta.close()


def test_a_schema_1_file_gets_the_topic_of_the_desk_that_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "command.db"
    with sqlite3.connect(path) as old:
        old.executescript(SCHEMA_1)
        for n, placed in enumerate([event(command_id="old-1"), event(customer="bob", command_id="old-2")]):
            old.execute(
                "INSERT INTO outbox (command_id, event_id, order_id, customer_id, event_json, accepted_at,"
                " published_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (placed.payload.command_id, str(placed.event_id), str(placed.payload.order_id),
                 placed.payload.customer_id, contracts.event_json(placed), "2026-01-01T00:00:00+00:00",
                 "2026-01-01T00:00:01+00:00" if n == 0 else None),
            )
    old.close()

    outbox = Outbox(path, "shop.events")
    try:
        (pending,) = outbox.pending(10)
        assert (pending.command_id, pending.topic) == ("old-2", "shop.events")
        outbox.accept(event(command_id="new-1"))
        assert [p.topic for p in outbox.pending(10)] == ["shop.events", "shop.events"]
        assert [r.command_id for r in outbox.receipts()] == ["old-1", "old-2", "new-1"]
    finally:
        outbox.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3  # through 2 (topics) to 3 (event types)
        assert conn.execute("SELECT DISTINCT topic FROM outbox").fetchall() == [("shop.events",)]
        assert conn.execute("SELECT DISTINCT event_type FROM outbox").fetchall() == [("OrderPlaced",)]
    conn.close()

    reopened = Outbox(path, "another.topic")  # migrated once: a later desk's topic changes no row
    try:
        assert {p.topic for p in reopened.pending(10)} == {"shop.events"}
    finally:
        reopened.close()


def test_an_outbox_needs_a_topic(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="topic is required"):
        Outbox(tmp_path / "command.db", "")
    assert not (tmp_path / "command.db").exists()


# The outbox table as schema 2 created it (topics, but OrderPlaced rows only and no event_type column).
SCHEMA_2 = SCHEMA_1.replace("customer_id  TEXT    NOT NULL,",
                            "customer_id  TEXT    NOT NULL,\n    topic        TEXT    NOT NULL DEFAULT '',"
                            ).replace("user_version = 1", "user_version = 2")


def test_a_schema_2_file_gets_event_types_and_its_orders_still_relay_as_order_placed(tmp_path: Path) -> None:
    from desktop_app import contracts
    from desktop_app.command.order_changes import CancelOrder, accept_change

    path = tmp_path / "command.db"
    placed = event(command_id="old-1")
    with sqlite3.connect(path) as old:
        old.executescript(SCHEMA_2)
        old.execute(
            "INSERT INTO outbox (command_id, event_id, order_id, customer_id, topic, event_json, accepted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (placed.payload.command_id, str(placed.event_id), str(placed.payload.order_id),
             placed.payload.customer_id, "shop.events", contracts.event_json(placed), "2026-01-01T00:00:00+00:00"),
        )
    old.close()

    outbox = Outbox(path, "shop.events")
    try:
        (pending,) = outbox.pending(10)
        assert (pending.event_type, pending.topic, pending.event) == ("OrderPlaced", "shop.events", placed)
        assert pending.headers == list(contracts.encode(placed).headers)
        accept_change(outbox, CancelOrder(str(placed.payload.order_id), command_id="new-1"), None, "desk")
        assert [p.event_type for p in outbox.pending(10)] == ["OrderPlaced", "OrderCancelled"]
    finally:
        outbox.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        indexes = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
        assert ("outbox_order_key",) in indexes and ("outbox_order",) not in indexes  # the short key only
    conn.close()
