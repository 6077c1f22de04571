"""The read API over the read model: short read transactions, safe to call from any thread.

Each call checks a pooled connection out, reads in one transaction (one snapshot) and gives it back.
Before each read the pointer to the current generation is checked (one stat, see view_files): when a
rebuild has swapped a new generation in, reads move to it, whichever process swapped it. Readers never
create a read model: a missing file, a deleted one (its identity changes) or one being rebuilt after
damage (view_files' healing note) makes a read raise ViewUnavailable, with one line saying why.
Nothing here talks to Kafka: lag is computed from end offsets the caller passes in.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, or_
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from desktop_app.query.bands import Band
from desktop_app.query.day_values import DayValueReads
from desktop_app.query.orders_view import OrderReads
from desktop_app.query.pounds import pence_to_decimal
from desktop_app.query.row_history import RowHistoryReads
from desktop_app.query.schema import (
    AppliedEvent,
    IgnoredEvent,
    OrderedItem,
    QuarantinedRecord,
    open_engine,
    stored_projection_version,
)
from desktop_app.query.search import like_pattern
from desktop_app.query.tracking import read_stored_offsets
from desktop_app.query.view_files import PointerState, ViewFiles
from desktop_app.query.view_health import STORE_ERRORS, DamagedView, FileIdentity, ViewUnavailable, corruption_of

T = TypeVar("T")
FOLLOW_ATTEMPTS = 5  # pointer re-reads when the generation it named is deleted just before it is opened
_UNREAD: Any = object()

KEYS_PER_QUERY = 500  # customers per query (bound parameters)

SORTABLE_COLUMNS = (
    "customer_id", "item", "unit_price_pence", "band", "quantity", "line_value_pence", "orders", "first_ordered",
    "last_ordered",
)
DEFAULT_ORDER = ("customer_id", "item", "unit_price_pence")
_PRIMARY_KEY = ("customer_id", "item", "unit_price_pence")


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One view row: what a customer ordered of one item at one unit price."""

    customer_id: str
    item: str
    unit_price_pence: int
    band: Band
    quantity: int
    orders: int
    first_ordered: datetime  # aware, UTC
    last_ordered: datetime  # aware, UTC

    @property
    def key(self) -> tuple[str, Band]:
        return (self.customer_id, self.band)

    @property
    def unit_price(self) -> Decimal:
        return pence_to_decimal(self.unit_price_pence)

    @property
    def line_value_pence(self) -> int:
        """What the row is worth: quantity x unit price, in pence."""
        return self.quantity * self.unit_price_pence

    @property
    def line_value(self) -> Decimal:
        return pence_to_decimal(self.line_value_pence)


@dataclass(frozen=True, slots=True)
class BandTotals:
    rows: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Lag:
    """Records in the log not yet in the view: per partition and in total."""

    per_partition: dict[int, int]
    total: int


@dataclass(frozen=True, slots=True)
class Summary:
    bands: dict[Band, BandTotals]
    events_applied: int
    quarantined: int
    lag: Lag | None  # None when the end of the log is unknown (no broker asked)
    ignored: int = 0  # valid events that changed no row (see order_book)


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    topic: str
    partition: int
    offset: int
    reason: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, str | None]]
    quarantined_at: datetime  # aware, UTC


def compute_lag(end_offsets: Mapping[int, int], stored_offsets: Mapping[int, int]) -> Lag:
    """End offsets minus stored next offsets (a partition never read counts from offset 0)."""
    per_partition = {
        partition: max(0, end - stored_offsets.get(partition, 0)) for partition, end in sorted(end_offsets.items())
    }
    return Lag(per_partition, sum(per_partition.values()))


_ITEM_COLUMNS = (
    OrderedItem.customer_id, OrderedItem.item, OrderedItem.unit_price_pence, OrderedItem.band,
    OrderedItem.quantity, OrderedItem.orders, OrderedItem.first_ordered, OrderedItem.last_ordered,
)


def _sort_expression(name: str) -> Any:
    """The SQL a row is sorted by for a column name: the line value is computed as ItemRow computes it."""
    if name == "line_value_pence":
        return col(OrderedItem.quantity) * col(OrderedItem.unit_price_pence)
    return col(getattr(OrderedItem, name))


def _item_row(row: Sequence[Any]) -> ItemRow:
    customer_id, item, price, band, quantity, orders, first, last = row
    return ItemRow(customer_id, item, price, Band(band), quantity, orders, _as_utc(first), _as_utc(last))


class ReadModel(OrderReads, DayValueReads, RowHistoryReads):
    """Reads of the current generation of one read model. Cheap to share between threads.

    `db_path` is the read model's base path; `engine` pins the reads to that engine (no pointer followed).
    """

    def __init__(self, db_path: Path, *, engine: Engine | None = None) -> None:
        self.db_path = Path(db_path)
        self.files = ViewFiles(self.db_path)
        self._switch_lock = threading.Lock()
        self._pinned = engine is not None
        self._engine: Engine | None = engine
        self._view_path: Path | None = self.db_path if engine is not None else None
        self._identity: FileIdentity | None = None
        self._pointer_seen: PointerState = _UNREAD

    def close(self) -> None:
        with self._switch_lock:
            if self._engine is not None:
                self._engine.dispose()

    # -- which generation ---------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The engine on the current generation (as of this call)."""
        return self._current_engine()

    @property
    def view_path(self) -> Path:
        """The file of the current generation (the one the latest read used, or the pointer names)."""
        if self._pinned:
            assert self._view_path is not None
            return self._view_path
        try:
            self._current_engine()
        except (ViewUnavailable, *STORE_ERRORS):  # missing, being rebuilt, or damaged: the pointer's file
            return self.files.current_path()
        assert self._view_path is not None
        return self._view_path

    def refresh(self) -> Path:
        """Follow the pointer now (reads do so by themselves); the current generation's file."""
        return self.view_path

    def unavailable_reason(self) -> str | None:
        """Why reads fail now, in one line (being rebuilt after damage, no read model yet); None if they work."""
        healing = self.files.healing_message()
        if healing is not None:
            return healing
        path = self.files.current_path()
        if not path.exists():
            return f"no read model at {path} yet (the desktop app or a synced order-desk command builds it)"
        return None

    def _current_engine(self) -> Engine:
        """The engine on the current generation. Never creates a read model: a missing file, or one being
        rebuilt after damage, raises ViewUnavailable (one line)."""
        if self._pinned:
            assert self._engine is not None
            return self._engine
        healing = self.files.healing_message()
        if healing is not None:
            raise ViewUnavailable(healing)
        if (self.files.pointer_state() != self._pointer_seen or self._view_path is None
                or FileIdentity.of(self._view_path) != self._identity):
            with self._switch_lock:
                self._follow_pointer()
        assert self._engine is not None
        return self._engine

    def _follow_pointer(self) -> None:
        """Open the generation the pointer names (under _switch_lock), unless it is open already."""
        for _ in range(FOLLOW_ATTEMPTS):
            seen = self.files.pointer_state()
            path = self.files.current_path()
            identity = FileIdentity.of(path)
            if path == self._view_path and identity == self._identity and identity is not None:
                self._pointer_seen = seen
                return
            if identity is None:
                if self.files.pointer_state() != seen:
                    continue  # swapped again meanwhile: follow anew
                self._drop_engine()
                raise ViewUnavailable(self.unavailable_reason() or f"no read model at {path}")
            engine = open_engine(path, create=False)
            try:
                with engine.connect():
                    pass
            except OperationalError:
                engine.dispose()
                if self.files.pointer_state() == seen:
                    raise  # the pointer still names it: the file is really unreadable
                continue  # swapped again meanwhile (and the file we were sent to deleted): follow anew
            old, self._engine, self._view_path, self._pointer_seen = self._engine, engine, path, seen
            self._identity = identity
            if old is not None:
                old.dispose()  # reads still running on it finish on their connections
            return
        raise OperationalError("following the read model's pointer", None, RuntimeError("it kept changing"))

    def _drop_engine(self) -> None:
        old, self._engine, self._view_path, self._identity = self._engine, None, None, None
        if old is not None:
            old.dispose()

    def in_one_read(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in one read transaction on the current generation, for a reader that is not one
        of this class's mixins (the event log's verdicts on records)."""
        return self._read(work)

    def _read(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one read transaction on the current generation.

        A read that got the engine just before a swap may find its generation deleted: it is run again
        on the new one. A read that finds the file damaged raises DamagedView (one line, no SQL).
        """
        try:
            engine = self._current_engine()
            try:
                with Session(engine) as session:
                    return work(session)
            except OperationalError:
                if self._pinned or self._current_engine() is engine:
                    raise
            with Session(self._current_engine()) as session:
                return work(session)
        except STORE_ERRORS as exc:
            reason = corruption_of(exc)
            if reason is None:
                raise
            raise DamagedView(self._view_path or self.db_path, reason) from exc

    # -- the view -----------------------------------------------------------------------------------
    @staticmethod
    def _filters(band: Band | str | None, customer: str | None, search: str | None) -> list[Any]:
        where: list[Any] = []
        if band is not None:
            where.append(col(OrderedItem.band) == Band(band).value)
        if customer is not None:
            where.append(col(OrderedItem.customer_id) == customer)
        if search:
            pattern = like_pattern(search)
            where.append(or_(
                col(OrderedItem.item).like(pattern, escape="\\"),
                col(OrderedItem.customer_id).like(pattern, escape="\\"),
            ))
        return where

    def items(
        self,
        band: Band | str | None = None,
        customer: str | None = None,
        search: str | None = None,
        order_by: Sequence[str] = DEFAULT_ORDER,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ItemRow]:
        """View rows, filtered (band, exact customer, case-insensitive text in item or customer) and sorted.

        The primary key is always appended to the sort, so pages (limit/offset) never overlap.
        """
        unknown = [name for name in order_by if name not in SORTABLE_COLUMNS]
        if unknown:
            raise ValueError(f"cannot sort by {unknown}; choose from {SORTABLE_COLUMNS}")
        names = list(dict.fromkeys([*order_by, *_PRIMARY_KEY]))
        columns = [_sort_expression(name) for name in names]
        statement = (
            select(*_ITEM_COLUMNS)
            .where(*self._filters(band, customer, search))
            .order_by(*[c.desc() if descending else c.asc() for c in columns])
            .offset(offset)
        )
        if limit is not None:
            statement = statement.limit(limit)
        return self._read(lambda session: [_item_row(row) for row in session.exec(statement)])

    def count_items(
        self, band: Band | str | None = None, customer: str | None = None, search: str | None = None
    ) -> int:
        statement = select(func.count()).select_from(OrderedItem).where(*self._filters(band, customer, search))
        return self._read(lambda session: session.exec(statement).one())

    def value_of_items(
        self, band: Band | str | None = None, customer: str | None = None, search: str | None = None
    ) -> int:
        """The line value (quantity x unit price) of the rows these filters select, in pence."""
        value = func.coalesce(func.sum(col(OrderedItem.quantity) * col(OrderedItem.unit_price_pence)), 0)
        statement = select(value).select_from(OrderedItem).where(*self._filters(band, customer, search))
        return self._read(lambda session: int(session.exec(statement).one()))

    def rows_for_keys(self, keys: Iterable[tuple[str, Band | str]]) -> list[ItemRow]:
        """All rows of the given (customer_id, band) keys, sorted by customer, band, item, price.

        Asked per band as `band = ? AND customer_id IN (...)`, which the (band, customer, item) index serves.
        """
        by_band: dict[str, set[str]] = {}
        for customer, band in keys:
            by_band.setdefault(Band(band).value, set()).add(customer)

        def read(session: Session) -> list[ItemRow]:
            rows: list[ItemRow] = []
            for band, customers in sorted(by_band.items()):
                wanted = sorted(customers)
                for start in range(0, len(wanted), KEYS_PER_QUERY):
                    statement = select(*_ITEM_COLUMNS).where(
                        col(OrderedItem.band) == band,
                        col(OrderedItem.customer_id).in_(wanted[start:start + KEYS_PER_QUERY]),
                    )
                    rows.extend(_item_row(row) for row in session.exec(statement))
            return rows

        rows = self._read(read)
        rows.sort(key=lambda r: (r.customer_id, r.band.value, r.item, r.unit_price_pence))
        return rows

    def customers(self) -> list[str]:
        statement = select(OrderedItem.customer_id).distinct().order_by(col(OrderedItem.customer_id))
        return self._read(lambda session: list(session.exec(statement)))

    # -- totals and tracking state --------------------------------------------------------------------
    def summary(self, end_offsets: Mapping[int, int] | None = None, topic: str | None = None) -> Summary:
        """Totals per band, events applied, quarantined count; lag if the log's end offsets are given."""

        def read(session: Session) -> tuple[dict[Band, BandTotals], int, int, int, dict[int, int]]:
            totals = {
                Band(band): BandTotals(rows, quantity or 0)
                for band, rows, quantity in session.exec(
                    select(OrderedItem.band, func.count(), func.sum(OrderedItem.quantity)).group_by(
                        col(OrderedItem.band)
                    )
                )
            }
            applied = session.exec(select(func.count()).select_from(AppliedEvent)).one()
            quarantined = session.exec(select(func.count()).select_from(QuarantinedRecord)).one()
            ignored = session.exec(select(func.count()).select_from(IgnoredEvent)).one()
            return totals, applied, quarantined, ignored, read_stored_offsets(session.connection(), topic)

        totals, applied, quarantined, ignored, stored = self._read(read)
        bands = {band: totals.get(band, BandTotals(0, 0)) for band in Band}
        lag = compute_lag(end_offsets, stored) if end_offsets is not None else None
        return Summary(bands, applied, quarantined, lag, ignored)

    def events_applied(self) -> int:
        return self._read(lambda session: session.exec(select(func.count()).select_from(AppliedEvent)).one())

    def stored_offsets(self, topic: str | None = None) -> dict[int, int]:
        """Next offset per partition (of `topic`, or of the only topic projected into this file)."""
        return self._read(lambda session: read_stored_offsets(session.connection(), topic))

    def lag(self, end_offsets: Mapping[int, int], topic: str | None = None) -> Lag:
        return compute_lag(end_offsets, self.stored_offsets(topic))

    def quarantined(self, limit: int = 100) -> list[QuarantinedRow]:
        """The most recently quarantined records first."""
        statement = (
            select(QuarantinedRecord)
            .order_by(col(QuarantinedRecord.quarantined_at).desc(), col(QuarantinedRecord.offset).desc())
            .limit(limit)
        )
        return self._read(lambda session: [
            QuarantinedRow(
                topic=q.topic,
                partition=q.partition,
                offset=q.offset,
                reason=q.reason,
                value=q.value,
                key=q.key,
                headers=[(name, value) for name, value in json.loads(q.headers)],
                quarantined_at=_as_utc(q.quarantined_at),
            )
            for q in session.exec(statement)
        ])

    def quarantined_count(self) -> int:
        return self._read(lambda session: session.exec(select(func.count()).select_from(QuarantinedRecord)).one())

    def projection_version(self) -> int | None:
        """The projection version the current generation was built with."""
        return stored_projection_version(self._current_engine())


__all__ = [
    "ViewUnavailable", "BandTotals", "ItemRow", "Lag", "QuarantinedRow", "ReadModel", "Summary", "compute_lag", "pence_to_decimal",
]
