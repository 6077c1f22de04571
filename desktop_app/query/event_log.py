"""The event log as support staff browse it: pages of records, filtered, each with its decode result.

`EventLog` reads the topic through `LogReader` (a consumer without a group: it never writes, commits or
produces) with the desk's own client settings, and pages across partitions newest first (or oldest first,
log_pages.py). Each record becomes a `LogEntry`: position, time, key, and what the view made of it:
- quarantined, with the reason: the projector's stored reason where the view has one for that position
  (a reused event id, say), else the reason the projector's own decoding (`event_facts`) gives;
- ignored, with the reason the view stored (`ignored_events`, matched by position);
- valid otherwise (`in_view` False: the view has not read that far yet, so it cannot have ignored it).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from sqlmodel import Session, col, select

from desktop_app import contracts
from desktop_app.kafka_errors import explain_unreachable
from desktop_app.query.event_facts import CancelledFacts, Facts, PlacedFacts, facts_or_reason
from desktop_app.query.log_end import run_blocking
from desktop_app.query.log_pages import CHUNK, SCAN_BUDGET, Cursor, Direction, Window, clamp, scan
from desktop_app.query.log_reader import LogReader, LogReadError, LogRecord
from desktop_app.query.schema import IgnoredEvent, QuarantinedRecord
from desktop_app.query.tracking import read_stored_offsets
from desktop_app.query.view_health import STORE_ERRORS, ViewUnavailable

T = TypeVar("T")
PAGE_SIZE = 50
READ_TIMEOUT_S = 60.0  # one page, broker round trips included
_ORDER_ID_TEXT = re.compile(r"[0-9a-f-]{1,36}")


class EventLogError(RuntimeError):
    """The log could not be read as asked; the message is one line for the person asking."""


class Outcome(str, Enum):
    VALID = "valid"
    QUARANTINED = "quarantined"
    IGNORED = "ignored"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class LogEntry:
    partition: int
    offset: int
    timestamp: datetime  # the record's own timestamp, aware UTC
    key: bytes | None
    event_type: str | None  # the decoded type; for a malformed record, its event_type header if any
    customer_id: str | None  # decoded; None for a malformed record
    order_id: str | None
    replaces: str | None  # the order an amendment's OrderPlaced replaces
    outcome: Outcome
    reason: str | None  # why quarantined or ignored
    in_view: bool  # the view has read past this record (False too while the view cannot be read)
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def key_text(self) -> str:
        return "" if self.key is None else self.key.decode("utf-8", "backslashreplace")

    @property
    def outcome_text(self) -> str:
        if self.outcome is Outcome.VALID:
            return "valid" if self.in_view else "valid (not yet in the view)"
        return f"{self.outcome}: {self.reason}"

    def value_text(self) -> str:
        """The value pretty-printed as JSON if it is JSON, else as text, else its bytes escaped."""
        if self.value is None:
            return "(no value: a tombstone)"
        try:
            return json.dumps(json.loads(self.value), indent=2, ensure_ascii=False)
        except (ValueError, UnicodeDecodeError):
            return self.value.decode("utf-8", "backslashreplace")

    def header_lines(self) -> list[str]:
        return [f"{name}: {bytes(value).decode('utf-8', 'backslashreplace')}" for name, value in self.headers]


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which records a page keeps. Customer ids are exact (as everywhere); an order id is the whole id or
    its start, in any case, and also finds the amendment that replaced it. Times: from (inclusive) to
    (exclusive), aware. A malformed record has no customer: its key (the customer id, by contract) stands in."""

    customer: str | None = None
    order_id: str | None = None
    event_type: str | None = None
    outcome: Outcome | None = None
    partition: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        customer = (self.customer or "").strip() or None
        order_id = (self.order_id or "").strip().lower() or None
        if order_id is not None and not _ORDER_ID_TEXT.fullmatch(order_id):
            raise ValueError("order id: hex digits and dashes only (the whole id or its start)")
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name}: a time with its time zone is needed")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("the 'from' time must be before the 'to' time")
        if self.partition is not None and self.partition < 0:
            raise ValueError("partition: 0 or more")
        object.__setattr__(self, "customer", customer)
        object.__setattr__(self, "order_id", order_id)
        object.__setattr__(self, "event_type", (self.event_type or "").strip() or None)

    def keeps(self, entry: LogEntry) -> bool:
        if self.customer is not None:
            if (entry.customer_id if entry.customer_id is not None else entry.key_text) != self.customer:
                return False
        if self.order_id is not None and not any(
                found is not None and found.startswith(self.order_id) for found in (entry.order_id, entry.replaces)):
            return False
        if self.event_type is not None and entry.event_type != self.event_type:
            return False
        if self.outcome is not None and entry.outcome is not self.outcome:
            return False
        if self.since is not None and entry.timestamp < self.since:
            return False
        return self.until is None or entry.timestamp < self.until


@dataclass(frozen=True, slots=True)
class ViewFacts:
    """What the view knows of a batch of positions."""

    stored: Mapping[int, int]  # partition -> next offset the view will read
    quarantined: Mapping[tuple[int, int], str]  # (partition, offset) -> the reason stored
    ignored: Mapping[tuple[int, int], str]


class ViewVerdicts:
    """The read model's verdicts on records by position, in one read transaction. `reading` wraps a read as
    the service does (a damaged file starts its heal)."""

    def __init__(self, read_model: Any, topic: str, reading: Callable[[Callable[[], T]], T] | None = None) -> None:
        self.read_model = read_model  # a views.ReadModel
        self.topic = topic
        self._reading = reading or (lambda work: work())
        self.unavailable: str | None = None  # why the latest look-up found no view (one line), else None

    def facts(self, records: Sequence[LogRecord], event_ids: Sequence[bytes]) -> ViewFacts | None:
        """None when the view cannot be read now (being rebuilt, missing): decode results still stand."""
        spans: dict[int, tuple[int, int]] = {}
        for record in records:
            low, high = spans.get(record.partition, (record.offset, record.offset))
            spans[record.partition] = (min(low, record.offset), max(high, record.offset))

        def read(session: Session) -> ViewFacts:
            quarantined: dict[tuple[int, int], str] = {}
            for partition, (low, high) in spans.items():
                rows = session.exec(select(QuarantinedRecord.offset, QuarantinedRecord.reason).where(
                    col(QuarantinedRecord.topic) == self.topic, col(QuarantinedRecord.partition) == partition,
                    col(QuarantinedRecord.offset) >= low, col(QuarantinedRecord.offset) <= high))
                quarantined.update(((partition, offset), reason) for offset, reason in rows)
            ignored: dict[tuple[int, int], str] = {}
            if event_ids:
                rows = session.exec(select(IgnoredEvent.partition, IgnoredEvent.offset, IgnoredEvent.reason)
                                    .where(col(IgnoredEvent.event_id).in_(list(event_ids))))
                ignored.update(((partition, offset), reason) for partition, offset, reason in rows)
            return ViewFacts(read_stored_offsets(session.connection(), self.topic), quarantined, ignored)

        try:
            found = self._reading(lambda: self.read_model.in_one_read(read))
        except (ViewUnavailable, *STORE_ERRORS) as exc:
            self.unavailable = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return None
        self.unavailable = None
        return found


def decoded(record: LogRecord) -> Facts | str:
    """The projector's decoding of a record (event_facts), or the reason it quarantines the record with."""
    return facts_or_reason(record)


def _header_type(record: LogRecord) -> str | None:
    for name, value in record.headers:
        if name == contracts.HEADER_EVENT_TYPE:
            return bytes(value).decode("ascii", "backslashreplace")
    return None


def entries_of(records: Sequence[LogRecord], verdicts: ViewVerdicts | None) -> list[LogEntry]:
    """One entry per record, in the same order, judged as the projector judged (or would judge) it."""
    facts = [decoded(record) for record in records]
    event_ids = [fact.event_id for fact in facts if not isinstance(fact, str)]
    view = verdicts.facts(records, event_ids) if verdicts is not None and records else None
    entries = []
    for record, fact in zip(records, facts):
        position = (record.partition, record.offset)
        in_view = view is not None and record.offset < view.stored.get(record.partition, 0)
        stored_reason = view.quarantined.get(position) if view is not None else None
        ignored_reason = view.ignored.get(position) if view is not None else None
        common = dict(partition=record.partition, offset=record.offset, key=record.key, value=record.value,
                      timestamp=datetime.fromtimestamp(record.timestamp / 1000, tz=timezone.utc),
                      headers=tuple(record.headers), in_view=in_view)
        if isinstance(fact, str):
            entries.append(LogEntry(**common, event_type=_header_type(record), customer_id=None, order_id=None,
                                    replaces=None, outcome=Outcome.QUARANTINED, reason=stored_reason or fact))
            continue
        kind = contracts.ORDER_CANCELLED if isinstance(fact, CancelledFacts) else contracts.ORDER_PLACED
        replaces = fact.replaces if isinstance(fact, PlacedFacts) else None
        if stored_reason is not None:
            outcome, reason = Outcome.QUARANTINED, stored_reason
        elif ignored_reason is not None:
            outcome, reason = Outcome.IGNORED, ignored_reason
        else:
            outcome, reason = Outcome.VALID, None
        entries.append(LogEntry(**common, event_type=kind, customer_id=fact.customer_id, order_id=fact.order_id,
                                replaces=replaces, outcome=outcome, reason=reason))
    return entries


@dataclass(frozen=True, slots=True)
class PageRequest:
    filter: LogFilter = LogFilter()
    newest_first: bool = True
    direction: Direction = Direction.OLDER  # which way the scan goes from `start`
    start: Mapping[int, int] | None = None  # a cursor; None: the end the scan starts from
    size: int = PAGE_SIZE
    select: tuple[int, int] | None = None  # (partition, offset) of the entry to select when shown

    @classmethod
    def first(cls, log_filter: LogFilter = LogFilter(), newest_first: bool = True,
              size: int = PAGE_SIZE) -> PageRequest:
        return cls(log_filter, newest_first, Direction.OLDER if newest_first else Direction.NEWER, None, size)

    @classmethod
    def at(cls, partition: int, offset: int, size: int = PAGE_SIZE) -> PageRequest:
        """That record first, then the older ones of its partition (Newer shows what followed it)."""
        return cls(LogFilter(partition=partition), True, Direction.OLDER, {partition: offset + 1}, size,
                   (partition, offset))


@dataclass(frozen=True, slots=True)
class Page:
    request: PageRequest
    entries: tuple[LogEntry, ...]  # in display order
    older: Cursor  # the next older page starts here
    newer: Cursor  # the next newer page starts here
    has_older: bool
    has_newer: bool
    scanned: int  # records looked at for this page
    out_of_budget: bool  # the scan stopped at its bound before a full page: more may match further on
    partitions: tuple[int, ...]  # the topic's partitions
    view_problem: str | None = None  # why the view could not be asked (decode results stand; ignored unknown)

    def older_page(self) -> PageRequest:
        return dataclasses.replace(self.request, direction=Direction.OLDER, start=self.older, select=None)

    def newer_page(self) -> PageRequest:
        return dataclasses.replace(self.request, direction=Direction.NEWER, start=self.newer, select=None)


class EventLog:
    """Pages of one topic, read with the desk's client settings; judged against the view when given one."""

    def __init__(self, client_kwargs: Mapping[str, Any], topic: str, verdicts: ViewVerdicts | None = None, *,
                 budget: int = SCAN_BUDGET, chunk: int = CHUNK) -> None:
        self._client_kwargs = dict(client_kwargs)
        self.topic = topic
        self.verdicts = verdicts
        self.budget = budget
        self.chunk = chunk

    async def page(self, request: PageRequest) -> Page:
        try:
            async with LogReader(self._client_kwargs, self.topic) as reader:
                return await self._page(reader, request)
        except KafkaConnectionError:
            raise EventLogError(f"cannot reach the broker: {await explain_unreachable(self._client_kwargs)}") from None
        except KafkaTimeoutError:
            raise EventLogError(f"topic {self.topic!r} not found, or the broker did not answer in time") from None
        except (KafkaError, LogReadError) as exc:
            raise EventLogError(f"cannot read the log: {exc}") from None

    def page_blocking(self, request: PageRequest, timeout: float = READ_TIMEOUT_S) -> Page:
        """`page` from any thread (a fresh loop in a helper thread)."""
        try:
            return run_blocking(lambda: self.page(request), timeout)
        except TimeoutError:
            raise EventLogError(f"the broker did not answer within {timeout:.0f} s") from None

    async def _page(self, reader: LogReader, request: PageRequest) -> Page:
        log_filter = request.filter
        bounds = await reader.bounds()
        partitions = tuple(sorted(bounds))
        if log_filter.partition is not None and log_filter.partition not in bounds:
            raise EventLogError(f"partition {log_filter.partition} does not exist: "
                                f"{self.topic} has partitions 0–{max(partitions)}")
        floors = {p: b.first for p, b in bounds.items()}
        ceilings = {p: b.end for p, b in bounds.items()}
        if log_filter.since is not None:  # the record timestamps' index: no scan up to the moment
            floors = {p: max(floors[p], at) for p, at in (await reader.offsets_at(log_filter.since)).items()}
        if log_filter.until is not None:
            ceilings = {p: min(ceilings[p], at) for p, at in (await reader.offsets_at(log_filter.until)).items()}
        window: Window = {p: (floors[p], max(floors[p], ceilings[p])) for p in partitions
                          if log_filter.partition in (None, p)}
        start = clamp(request.start or {}, window, request.direction)
        found = await scan(reader, window, start, request.direction,
                           lambda records: entries_of(records, self.verdicts), log_filter.keeps,
                           size=request.size, budget=self.budget, chunk=self.chunk)
        older_end, newer_end = ((found.cursor, start) if request.direction is Direction.OLDER
                                else (start, found.cursor))
        in_scan_order = request.direction is Direction.OLDER
        entries = found.entries if in_scan_order == request.newest_first else tuple(reversed(found.entries))
        return Page(request, entries, older=older_end, newer=newer_end,
                    has_older=any(older_end[p] > low for p, (low, _) in window.items()),
                    has_newer=any(newer_end[p] < high for p, (_, high) in window.items()),
                    scanned=found.scanned, out_of_budget=found.out_of_budget, partitions=partitions,
                    view_problem=self.verdicts.unavailable if self.verdicts is not None else None)


__all__ = ["EventLog", "EventLogError", "LogEntry", "LogFilter", "Outcome", "Page", "PageRequest", "ViewVerdicts",
           "decoded", "entries_of"]
