"""Why a row says what it says, against the real broker (issue 15, point 1): the history of a row is the
events this test placed and cancelled, in log order, with the right running totals; the raw event read
from the log is the record's bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from desktop_app import contracts
from desktop_app.query.log_reader import LogReadError
from desktop_app.query.raw_event import FROM_LOG
from desktop_app.query.row_history import FROM_READ_MODEL
from support.order_stream import amendment_events, cancel_event

from query_live_helpers import WAIT_S, order, produce_events

T0 = datetime(2025, 9, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def placed(topic_ready, start_service):
    """ann orders Tea three times (one with a Lamp), cancels one, amends one, and cancels one again."""
    first = order("hist-ann", ("Tea", 350, 2), ("Lamp", 6500, 1), at=T0)
    second = order("hist-ann", ("Tea", 350, 3), at=T0 + timedelta(minutes=1))
    third = order("hist-ann", ("Tea", 350, 1), at=T0 + timedelta(minutes=2))
    amend_cancel, replacement = amendment_events(third, ("Tea", 350, 4), at=T0 + timedelta(minutes=4))
    events = [first, second, third, cancel_event(first, reason="wrong size", at=T0 + timedelta(minutes=3)),
              amend_cancel, replacement, cancel_event(first, at=T0 + timedelta(minutes=5))]
    service = start_service()
    positions = produce_events(topic_ready, events)
    assert service.catch_up(WAIT_S)
    return service, events, positions


def test_a_rows_history_is_the_events_placed_and_cancelled_in_log_order_with_running_totals(placed) -> None:
    service, events, positions = placed

    history = service.row_history("hist-ann", "Tea", 350)

    assert [(s.event_id, s.position) for s in history.steps] == [(e.event_id, p) for e, p in zip(events, positions)]
    assert [(s.event_type, s.change, s.quantity, s.value_pence) for s in history.steps] == [
        ("OrderPlaced", 2, 2, 700), ("OrderPlaced", 3, 5, 1750), ("OrderPlaced", 1, 6, 2100),
        ("OrderCancelled", -2, 4, 1400), ("OrderCancelled", -1, 3, 1050), ("OrderPlaced", 4, 7, 2450),
        ("OrderCancelled", 0, 7, 2450),
    ]
    assert history.steps[-1].outcome == f"ignored: order {events[0].payload.order_id} already cancelled"
    assert [s.source for s in history.steps] == [e.source for e in events]  # the desk that wrote each
    assert {s.source for s in history.steps} == {"integration-test", "test"}
    assert [s.occurred_at for s in history.steps[:3]] == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    (row,) = service.items(customer="hist-ann", search="Tea")
    assert history.steps[-1].quantity == row.quantity == 7 and history.disagreements() == {}
    assert history.source == FROM_READ_MODEL

    whole = service.row_history("hist-ann")
    assert whole.final_quantities() == {("Lamp", 6500): 0, ("Tea", 350): 7} and whole.disagreements() == {}
    orders = service.order_history(events[0].payload.order_id)
    assert [(s.position, s.change, s.quantity) for s in orders.steps] == [
        (positions[0], 3, 3), (positions[3], -3, 0), (positions[6], 0, 0)]


def test_the_raw_event_is_the_records_bytes_and_headers_read_from_the_log(placed) -> None:
    service, events, positions = placed
    step = service.row_history("hist-ann", "Tea", 350).steps[3]  # the cancellation with a reason

    raw = service.raw_event(*step.position)

    wire = contracts.encode(events[3])
    assert raw.value == wire.value and raw.exact_text.encode() == wire.value
    assert raw.record.key == wire.key and raw.record.headers == tuple(wire.headers)
    assert raw.headers == [(name, value.decode()) for name, value in wire.headers]
    assert json.loads(raw.pretty_value) == json.loads(wire.value) and "\n  " in raw.pretty_value
    assert (raw.source, raw.record.partition, raw.record.offset) == (FROM_LOG, *step.position)
    with pytest.raises(LogReadError):
        service.raw_event(step.partition, positions[-1][1] + 100)


LOG_READ_OUT_OF_REACH = """
import gc
from desktop_app.query.service import QueryService
service = QueryService(__import__("pathlib").Path(__import__("sys").argv[1]), {"bootstrap_servers": "127.0.0.1:9"}, "t")
try:
    service.raw_event(0, 0, timeout=10)
except Exception as exc:
    print(exc)
gc.collect()
"""


def test_a_cluster_out_of_reach_is_one_line_and_leaves_no_client_open(tmp_path) -> None:
    """In its own interpreter: pytest's log capture keeps the failed client alive, hiding aiokafka's report
    of a consumer never stopped (which comes when it is collected)."""
    done = subprocess.run([sys.executable, "-c", LOG_READ_OUT_OF_REACH, str(tmp_path / "elsewhere.db")],
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout == "the Kafka cluster at 127.0.0.1:9 cannot be reached (KafkaConnectionError)\n"
    assert "Unclosed AIOKafkaConsumer" not in done.stderr
