"""The command side's own store: every accepted event, in submission order, and its publish state.

One SQLite file (`command.db`), WAL mode, synchronous=FULL: once `accept()` returns, the event survives
a crash of the app or of the OS (the relay's notes, attempted and published, do not wait for the disk: see
`mark_published`). `command_id` is unique, so a resubmitted command gets its first
receipt back and no second event. Rows are never deleted; `seq` is the submission order.

Each row records the topic its event was accepted for (the desk's topic at that moment), and the relay
publishes it there, whatever topic a later process is configured with. Schema 1 files had no topic
column: opening one adds it and gives every existing row the topic of the process that opens it (the
desk's configured topic at migration time, the best knowledge there is: schema 1 always published to the
configured topic). Schema 1 apps cannot open a migrated file (the version check refuses it).

Two event types (schema 3): OrderPlaced and OrderCancelled; each row records its `event_type`, so the
relay sends the stored JSON with that type's headers. Schema 2 files held only OrderPlaced rows: opening
one adds the column with that value. A row's `command_id` column is its outbox key: the command id
itself, except for the OrderCancelled of an amendment, which shares its command id with the amendment's
new OrderPlaced and is keyed `command_id + CANCELS_KEY` (a typed command id never holds a control
character, so no command can collide with it). `receipt(command_id)` of an amendment is the new order's.
Several events of one command are added in one transaction (`Outbox.change`): all or none.

Plain `sqlite3` rather than SQLAlchemy: one small table, and writers need `BEGIN IMMEDIATE` so that two
processes (the GUI and the CLI) queue up on the write lock instead of failing to upgrade a read lock.
The connection is shared by threads under a lock (the service runs slow fsync-ing writes off the event
loop).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from desktop_app import contracts
from desktop_app.command.outbox_rows import (
    Acknowledgement, CommandIdReused, OwnOrder, PendingEvent, Receipt, StoredEvent, same_command,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
CANCELS_KEY = "\x00cancels"  # outbox key suffix of an amendment's OrderCancelled (see the module doc)
BUSY_TIMEOUT_MS = 10_000

_ORDER_KEY = "substr(order_id, 1, 8)"  # what outbox_order_key indexes (see below)
# An order's rows, found by its key (the "+" keeps SQLite from folding `order_id = ?` into the key's
# expression, which would make it read the whole table).
ORDER_ROWS = ("SELECT event_type, event_json, command_id FROM outbox"
              f" WHERE {_ORDER_KEY} = ? AND +order_id = ? AND topic = ? ORDER BY seq")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id   TEXT    NOT NULL UNIQUE,
    event_id     TEXT    NOT NULL UNIQUE,
    order_id     TEXT    NOT NULL,
    event_type   TEXT    NOT NULL DEFAULT 'OrderPlaced',
    customer_id  TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    event_json   BLOB    NOT NULL,
    accepted_at  TEXT    NOT NULL,
    attempted_at REAL,
    published_at TEXT,
    partition    INTEGER,
    "offset"     INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_order_key ON outbox (ORDER_KEY);
DROP INDEX IF EXISTS outbox_order
""".replace("ORDER_KEY", _ORDER_KEY)
# Orders are found by the first 8 characters of their random id (then compared whole): an index of the
# whole 36-character id cost 3-9 µs per accepted order at 50k rows, this one about 1. Files indexed by the
# whole id lose that index when opened (an older app recreates it: both work).
_SCHEMA_STATEMENTS = [s.strip() for s in _SCHEMA.split(";") if s.strip()]
# Schema 1 -> 2: the topic column, filled with the opening process's topic.
_ADD_TOPIC = "ALTER TABLE outbox ADD COLUMN topic TEXT NOT NULL DEFAULT ''"
_FILL_TOPIC = "UPDATE outbox SET topic = ? WHERE topic = ''"
# Schema 2 -> 3: the event type column; schema 2 held only OrderPlaced rows.
_ADD_EVENT_TYPE = "ALTER TABLE outbox ADD COLUMN event_type TEXT NOT NULL DEFAULT 'OrderPlaced'"
# The relay sends the stored JSON with its type's headers (contracts.headers_of), instead of parsing and
# re-encoding each event.



class OutboxVersionError(RuntimeError):
    """The outbox file was written by a newer version of the app."""


_NEXT_SEQ = ("SELECT 1 + max(coalesce((SELECT max(seq) FROM outbox), 0),"
             " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0))")
_RECEIPT_COLUMNS = 'order_id, command_id, published_at, partition, "offset", event_id'


def _receipt(row: Sequence[object]) -> Receipt:
    order_id, command_id, published_at, partition, offset, event_id = row
    return Receipt(
        order_id=uuid.UUID(str(order_id)),
        command_id=str(command_id).partition(CANCELS_KEY)[0],
        status="accepted" if published_at is None else "published",
        partition=None if partition is None else int(partition),  # type: ignore[call-overload]
        offset=None if offset is None else int(offset),  # type: ignore[call-overload]
        event_id=uuid.UUID(str(event_id)),
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Outbox:
    """The durable queue of accepted events. Thread-safe; several processes may share the file.

    `topic`: where the events this process accepts are to be published (each row keeps its own).
    """

    def __init__(self, path: Path, topic: str) -> None:
        if not topic:
            raise ValueError("topic is required")
        self.path = Path(path)
        self.topic = topic
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._on_commit: Callable[[list[PendingEvent]], None] | None = None
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            with self._write() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise OutboxVersionError(
                        f"{self.path} has outbox schema {version}; this app knows up to {SCHEMA_VERSION}"
                    )
                columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
                if columns and "topic" not in columns:  # a schema 1 file
                    conn.execute(_ADD_TOPIC)
                    filled = conn.execute(_FILL_TOPIC, (topic,)).rowcount
                    log.warning("outbox %s: recorded topic %r for its %d earlier events", self.path, topic, filled)
                if columns and "event_type" not in columns:  # schema 1 or 2: OrderPlaced rows only
                    conn.execute(_ADD_EVENT_TYPE)
                for statement in _SCHEMA_STATEMENTS:  # not executescript(): it would COMMIT first
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def hand_off_to(self, on_commit: Callable[[list[PendingEvent]], None]) -> None:
        """Call `on_commit(rows)` with the rows each `change()` added, right after its COMMIT, still under the
        lock (so in commit order). For the relay (`pending_rows`); the file stays the truth."""
        self._on_commit = on_commit

    @contextmanager
    def _write(self, synced: bool = True, committed: Callable[[], None] | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction. `synced=False`: its commit does not wait for the disk (see `mark_published`).
        `committed()` runs after a COMMIT, still under the lock."""
        with self._lock:
            if not synced:
                self._conn.execute("PRAGMA synchronous = NORMAL")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                if committed is not None:
                    committed()
            finally:
                if not synced:
                    self._conn.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    # -- commands ------------------------------------------------------------------------------
    def accept(self, event: contracts.EventEnvelope) -> tuple[Receipt, bool]:
        """Store the event unless its command was seen before. Returns (receipt, newly_accepted).

        The event is to be published to this outbox's topic. For a known command_id the first receipt
        comes back; raises CommandIdReused if that command was for a different customer, lines or topic.
        """
        return self.accept_many([event])[0]

    def accept_many(self, events: Sequence[contracts.EventEnvelope]) -> list[tuple[Receipt, bool]]:
        """`accept` for many events in ONE transaction (one sync to disk): all are stored, or none.

        Returns (receipt, newly_accepted) per event, in order. A command id repeated within the batch, or
        seen before, gets its first receipt. CommandIdReused (for any event) rolls the whole batch back.
        """
        outcomes: list[tuple[Receipt, bool]] = []
        with self.change() as change:
            fresh = change.add_all_new(events)
            if fresh is not None:
                return [(receipt, True) for receipt in fresh]
            for event in events:
                first = change.stored(event.payload.command_id)
                if first is None:
                    outcomes.append((change.add(event.payload.command_id, event), True))
                else:
                    change.check_same(first, event)  # rolls back the whole batch if not
                    outcomes.append((first.receipt, False))
        return outcomes

    @contextmanager
    def change(self) -> Iterator[OutboxChange]:
        """One write transaction (BEGIN IMMEDIATE): what is added in it is stored at once, or not at all
        (an exception rolls it back). Other processes' writers wait meanwhile, so what it reads stays true."""
        on_commit, added = self._on_commit, []
        with self._write(committed=None if on_commit is None else lambda: added and on_commit(added)) as conn:
            change = OutboxChange(conn, self.topic, _now(), added)
            yield change

    def mark_attempted(self, seqs: Iterable[int], at: float | None = None) -> None:
        """Note the first time these events were handed to a producer (bounds a later log search).
        Not synced to disk, as `mark_published`."""
        self.mark_published((), seqs, at)

    def mark_published(self, acks: Iterable[Acknowledgement], attempted: Iterable[int] = (),
                       at: float | None = None) -> None:
        """Record broker acknowledgements, all in one transaction, with the first attempt of the `attempted`
        events (the relay's next round: one transaction per round). Already published rows keep theirs.

        The commit does not wait for the disk (synchronous=NORMAL for this transaction): it survives a crash
        of the app, and the next synced commit (an accepted command) or checkpoint makes it durable. Lost in
        an OS crash, the events are simply pending again: the relay finds them in the log or re-sends them
        (at least once, deduplicated by event id; see relay). Accepting a command always waits for the disk."""
        stamp, tried = _now(), time.time() if at is None else at
        with self._write(synced=False) as conn:
            conn.executemany(
                'UPDATE outbox SET published_at = ?, partition = ?, "offset" = ?'
                " WHERE seq = ? AND published_at IS NULL",
                [(stamp, ack.partition, ack.offset, ack.seq) for ack in acks],
            )
            conn.executemany("UPDATE outbox SET attempted_at = ? WHERE seq = ? AND attempted_at IS NULL",
                             [(tried, seq) for seq in attempted])

    # -- queries -------------------------------------------------------------------------------
    def receipt(self, command_id: str) -> Receipt | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_RECEIPT_COLUMNS} FROM outbox WHERE command_id = ?", (command_id,)
            ).fetchone()
        return None if row is None else _receipt(row)

    def pending_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0])

    def pending(self, limit: int) -> list[PendingEvent]:
        """The oldest unpublished events, in submission order."""
        return self.pending_and_last_seq(limit)[0]

    def pending_and_last_seq(self, limit: int) -> tuple[list[PendingEvent], int]:
        """`pending(limit)` and the highest seq of the outbox (0 if empty), in one snapshot."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq, command_id, event_id, customer_id, topic, event_json, attempted_at, event_type"
                " FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            last_seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0])
        return [
            PendingEvent(
                seq=seq,
                command_id=command_id,
                event_id=uuid.UUID(event_id),
                customer_id=customer_id,
                topic=topic,
                event_json=bytes(event_json),
                attempted_at=attempted_at,
                event_type=event_type,
            )
            for seq, command_id, event_id, customer_id, topic, event_json, attempted_at, event_type in rows
        ], last_seq

    def receipts(self) -> list[Receipt]:
        """Every receipt in submission order (for tools and tests)."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_RECEIPT_COLUMNS} FROM outbox ORDER BY seq").fetchall()
        return [_receipt(row) for row in rows]


class OutboxChange:
    """The reads and writes of one `Outbox.change()` transaction."""

    def __init__(self, conn: sqlite3.Connection, topic: str, accepted_at: str, added: list[PendingEvent]) -> None:
        self._conn, self._topic, self._accepted_at = conn, topic, accepted_at
        self.added = added  # the rows this transaction wrote, in seq order

    def stored(self, key: str) -> StoredEvent | None:
        """The event stored under this outbox key, if any."""
        row = self._conn.execute(
            f"SELECT {_RECEIPT_COLUMNS}, topic, event_json FROM outbox WHERE command_id = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return StoredEvent(contracts.parse_event_json(row[-1]), _receipt(row[:-2]), row[-2])

    def check_same(self, first: StoredEvent, again: contracts.Event) -> None:
        """CommandIdReused unless `again` is a resubmission of `first`'s command, for the same topic."""
        if first.topic != self._topic or not same_command(first.event, again):
            raise CommandIdReused(again.payload.command_id)

    def own_order(self, order_id: uuid.UUID) -> OwnOrder | None:
        """What this outbox accepted about the order for this topic (published or not), or None if nothing.
        Another topic's orders do not count: a cancellation published here could never meet them."""
        rows = self._conn.execute(
            ORDER_ROWS, (str(order_id)[:8], str(order_id), self._topic),
        ).fetchall()
        if not rows:
            return None
        placed = [contracts.parse_event_json(data).payload for kind, data, _ in rows if kind == contracts.ORDER_PLACED]
        cancelled = any(kind == contracts.ORDER_CANCELLED for kind, _, _ in rows)
        # an amendment's cancellation is keyed command id + CANCELS_KEY; its new order, by the command id
        amended = [key[:-len(CANCELS_KEY)] for kind, _, key in rows
                   if kind == contracts.ORDER_CANCELLED and key.endswith(CANCELS_KEY)]
        replacement = amended and self._conn.execute(
            "SELECT order_id FROM outbox WHERE command_id = ?", (amended[0],)).fetchone()
        return OwnOrder(order_id, placed[0] if placed else None, cancelled,  # type: ignore[arg-type]
                        uuid.UUID(replacement[0]) if replacement else None)

    def add(self, key: str, event: contracts.Event) -> Receipt:
        """Store the event under a new outbox key (IntegrityError if the key is taken: use `stored`)."""
        return self._insert([(key, event)])[0]

    def add_all_new(self, events: Sequence[contracts.Event]) -> list[Receipt] | None:
        """Store each event under its command id, if none of them is taken or repeated in `events`; else
        None, storing nothing (then use `stored` and `add` per event). One statement for them all, and one
        look-up instead of one per event: what an import's place_orders costs per order."""
        keys = [event.payload.command_id for event in events]
        if len(set(keys)) < len(keys) or self._conn.execute(
                "SELECT 1 FROM outbox WHERE command_id IN (SELECT value FROM json_each(?)) LIMIT 1",
                (msgspec.json.encode(keys),)).fetchone():
            return None
        return self._insert(list(zip(keys, events, strict=True)))

    def _insert(self, keyed: list[tuple[str, contracts.Event]]) -> list[Receipt]:
        if not keyed:
            return []
        first = self._conn.execute(_NEXT_SEQ).fetchone()[0]  # AUTOINCREMENT: theirs, in order (we hold the lock)
        rows = [(key, str(event.event_id), str(event.payload.order_id), event.event_type, event.payload.customer_id,
                 self._topic, contracts.event_json(event), self._accepted_at) for key, event in keyed]
        self._conn.executemany(
            "INSERT INTO outbox (command_id, event_id, order_id, event_type, customer_id, topic, event_json,"
            " accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        last = first + len(rows) - 1
        if self._conn.execute("SELECT count(*), max(seq) FROM outbox WHERE seq >= ?", (first,)).fetchone() != (
                len(rows), last):
            raise RuntimeError("the outbox did not number its new rows in order")  # rolls the transaction back
        self.added.extend(PendingEvent(seq, row[0], event.event_id, row[4], self._topic, row[6], None, row[3])
                          for seq, row, (_, event) in zip(range(first, last + 1), rows, keyed, strict=True))
        return [Receipt(event.payload.order_id, event.payload.command_id, "accepted", None, None, event.event_id)
                for _, event in keyed]
