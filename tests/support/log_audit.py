"""The reliability suite's oracle: read the whole event log and say what the view must be.

The expected view is computed here from the log's distinct events (one per event_id), independently of
the projector, and compared with the app's view and with a fresh replay into an empty read model.
A cancellation takes its order out of the expected view when it names an order placed before it in the
log (in the same partition), of the same customer and not cancelled yet; otherwise it changes nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app import contracts
from desktop_app.query.log_end import read_end_offsets
from desktop_app.query.log_reader import LogReader, LogRecord
from desktop_app.query.orders_view import IgnoredRow, OrderRow
from desktop_app.query.service import QueryService
from desktop_app.query.views import ItemRow, ReadModel

READ_TIMEOUT_S = 180.0

ViewKey = tuple[str, str, int]  # (customer_id, item, unit_price_pence)
Totals = tuple[int, int]  # (quantity, orders)


@dataclass(frozen=True, slots=True)
class LoggedRecord:
    partition: int
    offset: int
    event: contracts.Event | None  # None: malformed
    size: int  # bytes of the value


async def read_log(client_kwargs: Mapping[str, Any], topic: str) -> list[LoggedRecord]:
    """Every record of the topic from the beginning to its end now, in (partition, offset) order."""
    records: list[LoggedRecord] = []

    def take(batch: list[LogRecord]) -> None:
        for record in batch:
            try:
                event: contracts.Event | None = contracts.decode(record.value, record.headers)
            except contracts.MalformedRecord:
                event = None
            records.append(LoggedRecord(record.partition, record.offset, event, len(record.value or b"")))

    async with asyncio.timeout(READ_TIMEOUT_S), LogReader(client_kwargs, topic, max_records=5000) as reader:
        bounds = await reader.bounds()
        await reader.read({partition: (held.first, held.end) for partition, held in bounds.items()}, take)
    return sorted(records, key=lambda r: (r.partition, r.offset))


def end_offsets(client_kwargs: Mapping[str, Any], topic: str) -> dict[int, int]:
    return asyncio.run(read_end_offsets(dict(client_kwargs), topic))


@dataclass
class LogAudit:
    """What the log holds, per command and per event."""

    records: int = 0
    malformed: list[tuple[int, int]] = field(default_factory=list)  # (partition, offset)
    events: dict[Any, contracts.Event] = field(default_factory=dict)  # event_id -> first copy, in log order
    positions: dict[Any, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    event_ids_by_command: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))

    @property
    def duplicate_records(self) -> int:
        """Records that repeat an event already in the log (a re-send after a crash or a fault)."""
        return self.records - len(self.malformed) - len(self.events)

    def commands_with_several_events(self) -> dict[str, set[Any]]:
        return {command: ids for command, ids in self.event_ids_by_command.items() if len(ids) != 1}

    @property
    def cancellations(self) -> list[contracts.CancelEnvelope]:
        return [event for event in self.events.values() if isinstance(event, contracts.CancelEnvelope)]


def audit(records: Iterable[LoggedRecord]) -> LogAudit:
    result = LogAudit()
    for record in records:
        result.records += 1
        if record.event is None:
            result.malformed.append((record.partition, record.offset))
            continue
        event = record.event
        result.events.setdefault(event.event_id, event)
        result.positions[event.event_id].append((record.partition, record.offset))
        result.event_ids_by_command[event.payload.command_id].add(event.event_id)
    return result


def still_placed(events: Iterable[contracts.Event]) -> dict[Any, contracts.EventEnvelope]:
    """order_id -> OrderPlaced of the orders no cancellation took out. `events`: distinct, in log order.

    One partition per customer (the key), so for a cancellation of the same customer "earlier in the
    log" means earlier in its partition.
    """
    placed: dict[Any, contracts.EventEnvelope] = {}
    cancelled: set[Any] = set()
    for event in events:
        order_id = event.payload.order_id
        if isinstance(event, contracts.EventEnvelope):
            if order_id not in placed and order_id not in cancelled:
                placed[order_id] = event
        elif order_id in placed and placed[order_id].payload.customer_id == event.payload.customer_id:
            del placed[order_id]
            cancelled.add(order_id)
    return placed


def expected_view(events: Iterable[contracts.Event]) -> dict[ViewKey, Totals]:
    """(customer, item, price) -> (total quantity, number of orders) of the orders still placed, each event
    counted once. `events`: distinct, in log order (as LogAudit.events holds them)."""
    quantity: Counter[ViewKey] = Counter()
    orders: Counter[ViewKey] = Counter()
    for event in still_placed(events).values():
        in_this_order: set[ViewKey] = set()
        for line in event.payload.lines:
            key = (event.payload.customer_id, line.item, line.unit_price_pence)
            quantity[key] += line.quantity
            in_this_order.add(key)
        orders.update(in_this_order)
    return {key: (quantity[key], orders[key]) for key in quantity}


def view_totals(rows: Iterable[ItemRow]) -> dict[ViewKey, Totals]:
    return {(r.customer_id, r.item, r.unit_price_pence): (r.quantity, r.orders) for r in rows}


def full_rows(rows: Iterable[ItemRow]) -> list[tuple]:
    """Every column of the view, for comparing two read models exactly."""
    return sorted(
        (r.customer_id, r.item, r.unit_price_pence, r.band.value, r.quantity, r.orders, r.first_ordered, r.last_ordered)
        for r in rows
    )


@dataclass(frozen=True)
class ViewState:
    """What a read model holds: its rows, its orders (by order id) and the events it ignored."""

    rows: list[ItemRow]
    orders: dict[Any, OrderRow]
    ignored: list[IgnoredRow]


def view_state(reads: ReadModel | QueryService) -> ViewState:
    return ViewState(reads.items(), {order.order_id: order for order in reads.orders()}, reads.ignored(limit=10_000))


def read_view(db_path: Path) -> ViewState:
    """The state of a read model file another process projected (a desk's, after it stopped)."""
    read_model = ReadModel(db_path)
    try:
        return view_state(read_model)
    finally:
        read_model.close()


def replay_fresh_state(client_kwargs: Mapping[str, Any], topic: str, folder: Path,
                       timeout: float = READ_TIMEOUT_S) -> ViewState:
    """Project the whole log into an empty read model under `folder`; its state once caught up."""
    folder.mkdir(parents=True, exist_ok=True)
    service = QueryService(folder / "readmodel.db", client_kwargs, topic)
    try:
        assert service.start(), "a fresh read model must be projected by this service"
        assert service.catch_up(timeout), f"fresh replay did not catch up within {timeout}s"
        return view_state(service)
    finally:
        service.close()


def replay_fresh(client_kwargs: Mapping[str, Any], topic: str, folder: Path,
                 timeout: float = READ_TIMEOUT_S) -> list[ItemRow]:
    """Project the whole log into an empty read model under `folder`; its rows once caught up."""
    return replay_fresh_state(client_kwargs, topic, folder, timeout).rows
