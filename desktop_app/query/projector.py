"""Apply one batch of Kafka records to the read model in ONE SQLite transaction.

The batch's view changes, its applied event ids, its quarantined records and the next offset of every
partition it touched commit together, so the view is exactly-once across crashes and duplicates.
Which copy of a reused event id counts is decided by `copies` (a function of the log, not of read order);
what each counted event does to the orders and their lines is decided by `order_book`, and the sums in
ordered_items are kept by `item_sums` (a cancellation, or an event that stops counting, is subtracted
exactly through the order's stored lines). Writes are SQLAlchemy Core statements, batched: one
executemany per table per batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from desktop_app.query import copies as copies_module
from desktop_app.query import item_sums, order_book
from desktop_app.query.bands import Band
from desktop_app.query.event_facts import Facts, RecordLike, facts_or_reason, stored_time
from desktop_app.query.item_sums import driver_sql, positional_sql
from desktop_app.query.view_health import STORE_ERRORS
from desktop_app.query.schema import (
    META_PROJECTION_VERSION,
    PROJECTION_VERSION,
    AppliedEvent,
    EventCopy,
    IgnoredEvent,
    OrderedItem,
    OrderRecord,
    PartitionOffset,
    QuarantinedRecord,
    ReadModelMeta,
)

log = logging.getLogger(__name__)

ITEMS = OrderedItem.__table__
APPLIED = AppliedEvent.__table__
COPIES = EventCopy.__table__
ORDERS = OrderRecord.__table__
IGNORED = IgnoredEvent.__table__
OFFSETS = PartitionOffset.__table__
QUARANTINE = QuarantinedRecord.__table__
META = ReadModelMeta.__table__

ViewKey = tuple[str, Band]  # (customer_id, band): the unit the UI re-reads


@dataclass(frozen=True, slots=True)
class Record:
    """A plain record, for tests and tools that do not read from Kafka."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    changed_keys: frozenset[ViewKey]
    next_offsets: dict[int, int]  # partition -> next offset, for the partitions the batch touched
    applied: int  # events that now count in the view (new ids, and lower copies that replaced another)
    duplicates: int  # re-sends: copies with the content of the copy that counts
    quarantined: int  # malformed records, and copies of a reused event id
    ignored: int = 0  # valid events that change no row (a cancellation of an unknown order, ...)


@dataclass(slots=True)
class _Plan:
    """One batch, decoded and aggregated, ready to write."""

    facts: list[Facts] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)


def _headers_json(headers: Iterable[tuple[str, bytes | None]] | None) -> str:
    shown = []
    for name, value in headers or ():
        text = None if value is None else bytes(value).decode("utf-8", "backslashreplace")
        shown.append([str(name), text])
    return json.dumps(shown, ensure_ascii=False)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Projector:
    """Projects records of one topic into one read-model file (any file: the live one or a shadow copy)."""

    def __init__(self, engine: Engine, topic: str) -> None:
        self.engine = engine
        self.topic = topic

    # -- reading the tracking state --------------------------------------------------------------
    def stored_offsets(self) -> dict[int, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(OFFSETS.c.partition, OFFSETS.c.next_offset).where(OFFSETS.c.topic == self.topic)
            )
            return {partition: next_offset for partition, next_offset in rows}

    # -- applying ---------------------------------------------------------------------------------
    def apply(self, records: Sequence[RecordLike]) -> BatchOutcome:
        """Apply a batch in one transaction. Never fails because of a record's content.

        Malformed records are quarantined. A store error (SQLAlchemy's DBAPIError or sqlite3.Error: busy,
        damaged file, disk I/O, a constraint a damaged index breaks) is never a record's fault: it is
        raised, nothing is committed and the offsets stay, for the caller to retry or heal the file (see
        view_health). Should the batch fail for any other reason, the records are applied one at a time and
        the one that cannot be written is quarantined.
        """
        if not records:
            return BatchOutcome(frozenset(), {}, 0, 0, 0)
        foreign = {record.topic for record in records} - {self.topic}
        if foreign:
            raise ValueError(f"records of {sorted(foreign)} given to the projector of {self.topic!r}")
        try:
            return self._apply_plan(self._plan(records))
        except (*STORE_ERRORS, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - a content problem of some record: find it below
            log.warning("batch of %d records failed to apply (%r); applying them one by one", len(records), exc)
        return self._apply_one_by_one(records)

    def _apply_one_by_one(self, records: Sequence[RecordLike]) -> BatchOutcome:
        outcomes = []
        for record in records:
            try:
                outcomes.append(self._apply_plan(self._plan([record])))
            except (*STORE_ERRORS, MemoryError):
                raise  # the batches applied before this one are committed, with their offsets: nothing lost
            except Exception as exc:  # noqa: BLE001 - the record's content cannot be written: quarantine it
                log.warning("record %s/%s could not be projected: %r", record.partition, record.offset, exc)
                plan = _Plan(next_offsets={record.partition: record.offset + 1})
                plan.quarantine.append(self._quarantine_row(record, f"could not be projected: {exc!r}"))
                outcomes.append(self._apply_plan(plan))
        return _merge(outcomes)

    def _plan(self, records: Sequence[RecordLike]) -> _Plan:
        plan = _Plan()
        for record in records:
            next_offset = record.offset + 1
            if plan.next_offsets.get(record.partition, -1) < next_offset:
                plan.next_offsets[record.partition] = next_offset
            facts = facts_or_reason(record)
            if isinstance(facts, str):
                plan.quarantine.append(self._quarantine_row(record, facts))
            else:
                plan.facts.append(facts)
        return plan

    def _quarantine_row(self, record: RecordLike, reason: str) -> dict[str, Any]:
        value = record.value
        key = record.key
        return {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "reason": reason,
            "value": bytes(value) if value is not None else None,
            "key": bytes(key) if key is not None else None,
            "headers": _headers_json(record.headers),
            "quarantined_at": stored_time(_utc_now()),
        }

    def _apply_plan(self, plan: _Plan) -> BatchOutcome:
        with self.engine.begin() as connection:
            resolved = copies_module.resolve(connection, self.topic, plan.facts)
            book = order_book.BookOutcome()
            # first undo what a replaced copy did: its orders' other events are judged again with the batch
            judged_again = order_book.take_back(connection, resolved.taken_back, book)
            order_book.apply(connection, [*judged_again, *resolved.counted], book)
            item_sums.refresh_times(connection, book.taken)  # after: the new lines count too
            self._write_copies(connection, resolved)
            if plan.quarantine:
                connection.exec_driver_sql(_INSERT_QUARANTINED, plan.quarantine)
            if plan.next_offsets:
                connection.exec_driver_sql(_UPSERT_OFFSET, [
                    {"topic": self.topic, "partition": partition, "next_offset": next_offset}
                    for partition, next_offset in plan.next_offsets.items()
                ])
        return BatchOutcome(
            changed_keys=frozenset(item_sums.row_keys(book.rows)),
            next_offsets=dict(plan.next_offsets),
            applied=len(resolved.counted) - book.ignored_new(resolved.counted),
            duplicates=resolved.duplicates,
            quarantined=len(plan.quarantine) + resolved.quarantined,
            ignored=book.ignored_new(resolved.counted),
        )

    @staticmethod
    def _write_copies(connection: Connection, resolved: copies_module.Resolution[Facts]) -> None:
        """Which copy of each event id counts, the other copies, and the quarantine of reused ids."""
        if resolved.new_winners:
            # in key order: the random ids then go into the B-tree page by page, not at random places
            connection.exec_driver_sql(_INSERT_APPLIED, sorted(resolved.new_winners, key=itemgetter(0)))
        if resolved.moved_winners:
            connection.exec_driver_sql(_UPSERT_APPLIED, resolved.moved_winners)
        if resolved.copies:
            connection.exec_driver_sql(_REPLACE_COPY, resolved.copies)
        if resolved.reused:
            # no value, key or headers: the copy that stopped counting was read earlier, so a row with bytes
            # would depend on read order; the record stays in the log at its position
            now = stored_time(_utc_now())
            connection.exec_driver_sql(_UPSERT_REUSED, [
                {**row, "value": None, "key": None, "headers": "[]", "quarantined_at": now} for row in resolved.reused
            ])
        if resolved.released:
            connection.exec_driver_sql(_RELEASE_QUARANTINED, resolved.released)

    # -- starting over ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty the view and its tracking state, so the next run replays the log from the beginning."""
        with self.engine.begin() as connection:
            for table in (ITEMS, APPLIED, COPIES, ORDERS, IGNORED, OFFSETS, QUARANTINE):
                connection.execute(delete(table))
            connection.execute(
                sqlite_insert(META)
                .values(key=META_PROJECTION_VERSION, value=str(PROJECTION_VERSION))
                .on_conflict_do_update(index_elements=[META.c.key], set_={"value": str(PROJECTION_VERSION)})
            )


def _merge(outcomes: list[BatchOutcome]) -> BatchOutcome:
    keys: set[ViewKey] = set()
    offsets: dict[int, int] = {}
    for outcome in outcomes:
        keys |= outcome.changed_keys
        for partition, next_offset in outcome.next_offsets.items():
            offsets[partition] = max(offsets.get(partition, 0), next_offset)
    return BatchOutcome(
        changed_keys=frozenset(keys),
        next_offsets=offsets,
        applied=sum(o.applied for o in outcomes),
        duplicates=sum(o.duplicates for o in outcomes),
        quarantined=sum(o.quarantined for o in outcomes),
        ignored=sum(o.ignored for o in outcomes),
    )


def _build_offset_upsert() -> Any:
    insert = sqlite_insert(OFFSETS)
    return insert.on_conflict_do_update(
        index_elements=[OFFSETS.c.topic, OFFSETS.c.partition],
        set_={"next_offset": insert.excluded.next_offset},
    )


_UPSERT_OFFSET = driver_sql(_build_offset_upsert())
_INSERT_APPLIED = positional_sql(APPLIED.insert(), copies_module.WINNER_COLUMNS)
_INSERT_QUARANTINED = driver_sql(QUARANTINE.insert().prefix_with("OR IGNORE"))


def _build_applied_upsert() -> Any:
    insert = sqlite_insert(APPLIED)
    new = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[APPLIED.c.event_id],
        set_={"partition": new.partition, "offset": new.offset, "digest": new.digest},
    )


def _build_reused_upsert() -> Any:
    insert = sqlite_insert(QUARANTINE)
    return insert.on_conflict_do_update(
        index_elements=[QUARANTINE.c.topic, QUARANTINE.c.partition, QUARANTINE.c.offset],
        set_={"reason": insert.excluded.reason},
    )


_UPSERT_APPLIED = positional_sql(_build_applied_upsert(), copies_module.WINNER_COLUMNS)
_REPLACE_COPY = driver_sql(COPIES.insert().prefix_with("OR REPLACE"))
_UPSERT_REUSED = driver_sql(_build_reused_upsert())
_RELEASE_QUARANTINED = driver_sql(
    delete(QUARANTINE).where(
        QUARANTINE.c.topic == bindparam("topic"),
        QUARANTINE.c.partition == bindparam("partition"),
        QUARANTINE.c.offset == bindparam("offset"),
    )
)
