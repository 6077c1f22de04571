"""The command side's own store: every accepted event, in submission order, and its publish state.

One SQLite file (`command.db`), WAL mode, synchronous=FULL: once `accept()` returns, the event survives
a crash of the app or of the OS. `command_id` is unique, so a resubmitted command gets its first
receipt back and no second event. Rows are never deleted; `seq` is the submission order.

Each row records the topic its event was accepted for (the desk's topic at that moment), and the relay
publishes it there, whatever topic a later process is configured with. Schema 1 files had no topic
column: opening one adds it and gives every existing row the topic of the process that opens it (the
desk's configured topic at migration time, the best knowledge there is: schema 1 always published to the
configured topic). Schema 1 apps cannot open a migrated file (the version check refuses it).

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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from desktop_app import contracts

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id   TEXT    NOT NULL UNIQUE,
    event_id     TEXT    NOT NULL UNIQUE,
    order_id     TEXT    NOT NULL,
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
"""
_SCHEMA_STATEMENTS = [s.strip() for s in _SCHEMA.split(";") if s.strip()]
# Schema 1 -> 2: the topic column, filled with the opening process's topic.
_ADD_TOPIC = "ALTER TABLE outbox ADD COLUMN topic TEXT NOT NULL DEFAULT ''"
_FILL_TOPIC = "UPDATE outbox SET topic = ? WHERE topic = ''"

ReceiptStatus = Literal["accepted", "published"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the command side promises about one command.

    accepted: the event is durably in the outbox and will be published.
    published: the broker acknowledged it at (partition, offset), the consistency token. The offset
    is None in the rare case the broker answered a retried send as a duplicate without its offset.
    """

    order_id: uuid.UUID
    command_id: str
    status: ReceiptStatus
    partition: int | None
    offset: int | None
    event_id: uuid.UUID

    def as_json(self) -> dict[str, object]:
        return {
            "order_id": str(self.order_id),
            "command_id": self.command_id,
            "status": self.status,
            "partition": self.partition,
            "offset": self.offset,
        }


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An accepted event not yet acknowledged by the broker.

    `event_json` is the event exactly as `contracts.encode` writes a record's value (the outbox stores
    `model_dump_json()`), so the relay sends it as it is; `event` parses it, for whoever needs the fields.
    """

    seq: int
    command_id: str
    event_id: uuid.UUID
    customer_id: str
    topic: str  # where it was accepted to go
    event_json: bytes
    attempted_at: float | None

    @property
    def event(self) -> contracts.EventEnvelope:
        return contracts.EventEnvelope.model_validate_json(self.event_json)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    seq: int
    partition: int
    offset: int | None


class CommandIdReused(ValueError):
    """The command id was already used for a different order (other customer, lines or topic)."""

    def __init__(self, command_id: str) -> None:
        super().__init__(f"command id {command_id!r} was already used for a different order")
        self.command_id = command_id


class OutboxVersionError(RuntimeError):
    """The outbox file was written by a newer version of the app."""


_RECEIPT_COLUMNS = 'order_id, command_id, published_at, partition, "offset", event_id'


def _receipt(row: Sequence[object]) -> Receipt:
    order_id, command_id, published_at, partition, offset, event_id = row
    return Receipt(
        order_id=uuid.UUID(str(order_id)),
        command_id=str(command_id),
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
                for statement in _SCHEMA_STATEMENTS:  # not executescript(): it would COMMIT first
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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
        with self._write() as conn:
            accepted_at = _now()
            for event in events:
                payload = event.payload
                created = conn.execute(
                    "INSERT INTO outbox (command_id, event_id, order_id, customer_id, topic, event_json, accepted_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (command_id) DO NOTHING",
                    (
                        payload.command_id,
                        str(event.event_id),
                        str(payload.order_id),
                        payload.customer_id,
                        self.topic,
                        event.model_dump_json().encode("utf-8"),
                        accepted_at,
                    ),
                ).rowcount == 1
                if created:
                    receipt = Receipt(payload.order_id, payload.command_id, "accepted", None, None, event.event_id)
                else:
                    row = conn.execute(
                        f"SELECT {_RECEIPT_COLUMNS}, topic, event_json FROM outbox WHERE command_id = ?",
                        (payload.command_id,),
                    ).fetchone()
                    first = contracts.EventEnvelope.model_validate_json(row[-1]).payload
                    if (first.customer_id, first.lines, row[-2]) != (payload.customer_id, payload.lines, self.topic):
                        raise CommandIdReused(payload.command_id)  # rolls back the whole batch
                    receipt = _receipt(row[:-2])
                outcomes.append((receipt, created))
        return outcomes

    def mark_attempted(self, seqs: Iterable[int], at: float | None = None) -> None:
        """Note the first time these events were handed to a producer (bounds a later log search)."""
        stamp = time.time() if at is None else at
        with self._write() as conn:
            conn.executemany(
                "UPDATE outbox SET attempted_at = ? WHERE seq = ? AND attempted_at IS NULL",
                [(stamp, seq) for seq in seqs],
            )

    def mark_published(self, acks: Iterable[Acknowledgement]) -> None:
        """Record broker acknowledgements, all in one transaction. Already published rows keep theirs."""
        stamp = _now()
        with self._write() as conn:
            conn.executemany(
                'UPDATE outbox SET published_at = ?, partition = ?, "offset" = ?'
                " WHERE seq = ? AND published_at IS NULL",
                [(stamp, ack.partition, ack.offset, ack.seq) for ack in acks],
            )

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
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq, command_id, event_id, customer_id, topic, event_json, attempted_at FROM outbox"
                " WHERE published_at IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            PendingEvent(
                seq=seq,
                command_id=command_id,
                event_id=uuid.UUID(event_id),
                customer_id=customer_id,
                topic=topic,
                event_json=bytes(event_json),
                attempted_at=attempted_at,
            )
            for seq, command_id, event_id, customer_id, topic, event_json, attempted_at in rows
        ]

    def receipts(self) -> list[Receipt]:
        """Every receipt in submission order (for tools and tests)."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_RECEIPT_COLUMNS} FROM outbox ORDER BY seq").fetchall()
        return [_receipt(row) for row in rows]
