"""Which copy of an event id counts, given what the view already holds (the rule: contracts' "Copies of one
event id").

The copy at the lowest (partition, offset) counts; another copy with the same content is a re-send, one
with other content is quarantined naming the copy that counts. The view must not depend on the order in
which partitions are read, so a lower copy read later takes over: if its content differs, the stored copy's
lines leave the view, and every stored copy of that id is judged again against the new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection

from desktop_app import contracts

SQL_IN_CHUNK = 500  # ids per "IN (...)": well under SQLite's bound-parameter limit


class CopyLike(Protocol):
    event_id: bytes  # uuid.bytes
    partition: int
    offset: int
    digest: bytes  # contracts.content_digest


F = TypeVar("F", bound=CopyLike)
# an applied_events row as the projector writes it (a tuple binds at a third of a dict's cost)
WinnerRow = tuple[bytes, int, int, bytes]
WINNER_COLUMNS = ("event_id", "partition", "offset", "digest")


@dataclass(frozen=True, slots=True)
class _Stored:
    partition: int
    offset: int
    digest: bytes | None  # None: counted by a view older than projection version 2, content unknown


@dataclass(slots=True)
class Resolution(Generic[F]):
    """What one batch changes, decided; the caller writes it in its transaction."""

    counted: list[F] = field(default_factory=list)  # copies whose lines enter the view
    taken_back: list[bytes] = field(default_factory=list)  # event ids whose stored lines leave it first
    new_winners: list[WinnerRow] = field(default_factory=list)  # applied_events rows to insert
    moved_winners: list[WinnerRow] = field(default_factory=list)  # applied_events rows to update
    copies: list[dict[str, Any]] = field(default_factory=list)  # event_copies rows to insert or replace
    reused: list[dict[str, Any]] = field(default_factory=list)  # quarantine rows to insert or re-word
    released: list[dict[str, Any]] = field(default_factory=list)  # quarantine rows to delete (now a re-send)
    duplicates: int = 0  # copies in this batch that are re-sends of the copy that counts
    quarantined: int = 0  # copies newly quarantined as a reused id

    def _judge(self, topic: str, event_id: bytes, copy: CopyLike | _Stored, winner: CopyLike | _Stored,
               *, new: bool, was_quarantined: bool = False, already_a_copy: bool = True) -> None:
        """Record `copy` as a re-send or a reused id of `winner`. new: read in this batch; already_a_copy:
        it has its event_copies row."""
        if (copy.partition, copy.offset) == (winner.partition, winner.offset):
            return  # the copy that counts itself
        if not already_a_copy:
            self.copies.append(_copy_row(event_id, copy))
        same = winner.digest is None or copy.digest is None or copy.digest == winner.digest
        if same:
            self.duplicates += new
            if was_quarantined:
                self.released.append({"topic": topic, "partition": copy.partition, "offset": copy.offset})
            return
        self.quarantined += new or not was_quarantined
        reason = contracts.reused_id_reason(uuid.UUID(bytes=event_id), winner.partition, winner.offset)
        self.reused.append({"topic": topic, "partition": copy.partition, "offset": copy.offset, "reason": reason})


def resolve(connection: Connection, topic: str, facts: Sequence[F]) -> Resolution[F]:
    """Decide, for every copy in `facts` (one batch, in any order), what it does to the view."""
    by_id: dict[bytes, list[F]] = {}
    for fact in facts:
        by_id.setdefault(fact.event_id, []).append(fact)
    stored = _stored_winners(connection, list(by_id))
    out: Resolution[F] = Resolution()
    taking_over: list[bytes] = []
    for event_id, batch in by_id.items():
        if len(batch) > 1:
            batch.sort(key=_position)
        first = batch[0]
        winner: CopyLike | _Stored | None = stored.get(event_id)
        if winner is None:
            out.counted.append(first)
            out.new_winners.append(_winner_row(event_id, first))
            winner = first
            batch = batch[1:]
        elif winner.digest is not None and _position(first) < (winner.partition, winner.offset):
            # (a copy counted by a view older than version 2 has no known content: it keeps counting,
            # as before, until the rebuild that the new projection version starts replaces that view)
            taking_over.append(event_id)
            continue
        for copy in batch:
            out._judge(topic, event_id, copy, winner, new=True, already_a_copy=False)
    if taking_over:
        _take_over(connection, topic, taking_over, by_id, stored, out)
    return out


def _take_over(connection: Connection, topic: str, event_ids: list[bytes], by_id: dict[bytes, list[F]],
               stored: dict[bytes, _Stored], out: Resolution[F]) -> None:
    """A lower copy than the stored one was read: it counts now, and every copy is judged against it."""
    older = _stored_copies(connection, event_ids)
    for event_id in event_ids:
        first, *rest = by_id[event_id]
        previous = stored[event_id]
        if previous.digest != first.digest:
            out.taken_back.append(event_id)
            out.counted.append(first)
        out.moved_winners.append(_winner_row(event_id, first))
        # the previous winner was never quarantined; a stored copy was if it differed from it
        out._judge(topic, event_id, previous, first, new=False, already_a_copy=False)
        for copy in older.get(event_id, ()):
            differed = copy.digest != previous.digest
            out._judge(topic, event_id, copy, first, new=False, was_quarantined=differed)
        for copy in rest:
            out._judge(topic, event_id, copy, first, new=True, already_a_copy=False)


def _position(copy: CopyLike) -> tuple[int, int]:
    return copy.partition, copy.offset


def _winner_row(event_id: bytes, copy: CopyLike) -> WinnerRow:
    return event_id, copy.partition, copy.offset, copy.digest


def _copy_row(event_id: bytes, copy: CopyLike | _Stored) -> dict[str, Any]:
    return {"event_id": event_id, "partition": copy.partition, "offset": copy.offset, "digest": copy.digest}


def _stored_winners(connection: Connection, ids: list[bytes]) -> dict[bytes, _Stored]:
    found: dict[bytes, _Stored] = {}
    for event_id, partition, offset, digest in _rows_of(connection, _SELECT_WINNERS, ids):
        found[event_id] = _Stored(partition, offset, digest)
    return found


def _stored_copies(connection: Connection, ids: list[bytes]) -> dict[bytes, list[_Stored]]:
    found: dict[bytes, list[_Stored]] = {}
    for event_id, partition, offset, digest in _rows_of(connection, _SELECT_COPIES, ids):
        found.setdefault(event_id, []).append(_Stored(partition, offset, digest))
    return found


def _rows_of(connection: Connection, select_in: str, ids: list[bytes]) -> Iterator[Any]:
    """Rows of `select_in` ("... IN ({marks})") for these ids, in chunks. Plain driver SQL: the ids are bytes
    already, and SQLAlchemy's per-value bind processing of a LargeBinary was a visible share of a batch."""
    for start in range(0, len(ids), SQL_IN_CHUNK):
        chunk = ids[start:start + SQL_IN_CHUNK]
        yield from connection.exec_driver_sql(select_in.format(marks=",".join("?" * len(chunk))), tuple(chunk))


# the tables of schema.AppliedEvent and schema.EventCopy
_SELECT_WINNERS = 'SELECT event_id, partition, "offset", digest FROM applied_events WHERE event_id IN ({marks})'
_SELECT_COPIES = 'SELECT event_id, partition, "offset", digest FROM event_copies WHERE event_id IN ({marks})'
