"""event_log: each record's decode result (judged as the projector judged it), the filters, the raw text shown,
and that the browser has no way to write. A real read model (SQLite) projected by the real projector; no broker."""

from __future__ import annotations

import ast
import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest
from query_unit_helpers import TOPIC, order
from support.order_stream import amendment_events, cancel_event

from desktop_app import contracts
from desktop_app.query.event_log import LogFilter, Outcome, ViewVerdicts, entries_of
from desktop_app.query.log_reader import LogRecord

T0 = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)
QUERY = Path(__file__).resolve().parents[3] / "desktop_app" / "query"


class Log:
    """LogRecords with increasing offsets per partition and a timestamp a minute apart."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def add(self, value: bytes | None, headers=(), *, key: bytes | None = b"alice", partition: int = 0) -> LogRecord:
        offset = sum(1 for r in self.records if r.partition == partition)
        stamp = int((T0 + timedelta(minutes=len(self.records))).timestamp() * 1000)
        record = LogRecord(TOPIC, partition, offset, stamp, key, value, tuple(headers))
        self.records.append(record)
        return record

    def event(self, event: contracts.Event, partition: int = 0) -> LogRecord:
        wire = contracts.encode(event)
        return self.add(wire.value, wire.headers, key=wire.key, partition=partition)


def test_each_record_gets_the_verdict_the_projector_stored(projector, read_model) -> None:
    log = Log()
    placed = order("alice", ("Tea", 350, 2))
    log.event(placed)
    log.add(b'{"not": "an event"}', contracts.headers_of(contracts.ORDER_PLACED))
    log.event(cancel_event(order("alice", ("Mug", 450, 1)), reason="never placed"))  # an unknown order
    reused = msgspec.structs.replace(order("alice", ("Other", 100, 1)), event_id=placed.event_id)
    log.event(reused)  # the same event id with other content
    projector.apply(log.records)

    entries = entries_of(log.records, ViewVerdicts(read_model, TOPIC))
    stored = {(q.partition, q.offset): q.reason for q in read_model.quarantined()}
    [ignored] = read_model.ignored()
    assert [(e.outcome, e.in_view) for e in entries] == [
        (Outcome.VALID, True), (Outcome.QUARANTINED, True), (Outcome.IGNORED, True), (Outcome.QUARANTINED, True)]
    assert entries[1].reason == stored[(0, 1)] and entries[1].reason.startswith("contract violation")
    assert entries[2].reason == ignored.reason and (ignored.partition, ignored.offset) == (0, 2)
    assert entries[3].reason == stored[(0, 3)] == contracts.reused_id_reason(placed.event_id, 0, 0)
    assert (entries[0].event_type, entries[0].customer_id, entries[0].order_id) == (
        contracts.ORDER_PLACED, "alice", str(placed.payload.order_id))
    assert entries[2].event_type == contracts.ORDER_CANCELLED
    assert entries[0].timestamp == T0


def test_a_record_the_view_has_not_read_is_judged_by_the_projectors_own_decoding(projector, read_model) -> None:
    log = Log()
    log.event(order("alice", ("Tea", 350, 1)))
    projector.apply(log.records)
    ahead = [log.event(order("bob", ("Pen", 120, 1))), log.add(b"\xff\xfe not json", key=b"bob"),
             log.add(None, key=b"bob"), log.add(b"{}", [("event_type", b"Refund")], key=b"bob")]

    before = entries_of(ahead, ViewVerdicts(read_model, TOPIC))
    assert [(e.outcome, e.in_view) for e in before] == [
        (Outcome.VALID, False), (Outcome.QUARANTINED, False), (Outcome.QUARANTINED, False),
        (Outcome.QUARANTINED, False)]
    assert before[0].outcome_text == "valid (not yet in the view)"
    assert before[3].event_type == "Refund" and before[3].customer_id is None
    projector.apply(ahead)
    stored = {(q.partition, q.offset): q.reason for q in read_model.quarantined()}
    assert [e.reason for e in before[1:]] == [stored[(0, 2)], stored[(0, 3)], stored[(0, 4)]]
    assert entries_of(ahead, None)[1].reason == stored[(0, 2)] == "value is not UTF-8"


def test_without_a_readable_view_the_decode_results_still_stand(tmp_path) -> None:
    from desktop_app.query.views import ReadModel

    log = Log()
    log.event(order("alice", ("Tea", 350, 1)))
    log.add(b"[]")
    verdicts = ViewVerdicts(ReadModel(tmp_path / "none.db"), TOPIC)
    entries = entries_of(log.records, verdicts)
    assert [(e.outcome, e.in_view) for e in entries] == [(Outcome.VALID, False), (Outcome.QUARANTINED, False)]
    assert verdicts.unavailable is not None and "no read model" in verdicts.unavailable


def entry_for(event: contracts.Event | None = None, **changes):
    log = Log()
    record = log.event(event) if event is not None else log.add(b"garbage", key=b"carol")
    return dataclasses.replace(entries_of([record], None)[0], **changes)


def test_the_customer_filter_is_exact_and_a_malformed_records_key_stands_in() -> None:
    alice = entry_for(order("alice", ("Tea", 350, 1)))
    assert LogFilter(customer="alice").keeps(alice) and LogFilter(customer=" alice ").keeps(alice)
    assert not LogFilter(customer="Alice").keeps(alice) and not LogFilter(customer="ali").keeps(alice)
    assert LogFilter(customer="carol").keeps(entry_for())


def test_the_order_filter_takes_the_id_or_its_start_in_any_case_and_finds_its_amendment() -> None:
    placed = order("alice", ("Tea", 350, 1))
    order_id = str(placed.payload.order_id)
    cancelled, replacement = amendment_events(placed, ("Tea", 350, 3))
    assert LogFilter(order_id=order_id).keeps(entry_for(placed))
    assert LogFilter(order_id=order_id[:8].upper()).keeps(entry_for(placed))
    assert LogFilter(order_id=order_id[:8]).keeps(entry_for(cancelled))
    assert LogFilter(order_id=order_id[:8]).keeps(entry_for(replacement))  # it names the order it replaces
    assert not LogFilter(order_id=str(uuid.uuid4())).keeps(entry_for(placed))
    assert not LogFilter(order_id="0").keeps(entry_for())
    with pytest.raises(ValueError, match="hex digits"):
        LogFilter(order_id="zz-not-an-id")


def test_type_outcome_and_time_filters() -> None:
    placed = entry_for(order("alice", ("Tea", 350, 1)))
    assert LogFilter(event_type="OrderPlaced").keeps(placed)
    assert not LogFilter(event_type="OrderCancelled").keeps(placed)
    assert LogFilter(outcome=Outcome.QUARANTINED).keeps(entry_for())
    assert not LogFilter(outcome=Outcome.VALID).keeps(entry_for())
    assert LogFilter(since=T0, until=T0 + timedelta(seconds=1)).keeps(placed)
    assert not LogFilter(since=T0 + timedelta(seconds=1)).keeps(placed)
    assert not LogFilter(until=T0).keeps(placed)  # 'to' is exclusive
    with pytest.raises(ValueError, match="before"):
        LogFilter(since=T0, until=T0)
    with pytest.raises(ValueError, match="time zone"):
        LogFilter(since=datetime(2026, 11, 27, 18, 0))


def test_the_value_is_shown_pretty_printed_or_as_it_is() -> None:
    placed = entry_for(order("alice", ("Tea", 350, 1)))
    assert json.loads(placed.value_text()) == json.loads(placed.value)
    assert placed.value_text().startswith('{\n  "event_id"')
    assert entry_for(value=b"\xff oops").value_text() == "\\xff oops"
    assert entry_for(value=None).value_text() == "(no value: a tombstone)"
    assert placed.header_lines() == ["event_type: OrderPlaced", "schema_version: 1", "content_type: application/json"]


def test_the_browser_has_no_way_to_write_to_the_topic() -> None:
    for name in ("event_log.py", "log_pages.py", "log_reader.py"):
        tree = ast.parse((QUERY / name).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in node.names}
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert "AIOKafkaConsumer" in imported or name != "log_reader.py"  # the scan sees real names
        assert not {n for n in imported | used if "Producer" in n or "Admin" in n}, name
        assert not used & {"send", "send_and_wait", "send_batch", "commit", "create_topics", "delete_records"}, name
