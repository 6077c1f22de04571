"""Kill the app: the headless desk (relay + projector) is SIGKILLed at random moments while orders and
cancellations stream in.

Promise tested: an accepted order or cancellation is never lost and never counted twice. About one order
in ten is cancelled: half of those a few requests after they were placed (maybe before the relay published
the order), half in a later run (an order published long ago). After every restart the desk publishes what
its outbox holds and catches its view up; then
  * every order and cancellation the desk reported as accepted is in the log, as exactly one event
    (one event_id); every order in the log is one the test typed, with the lines it typed;
  * the desk's view equals a fresh replay of the log (rows, orders and their status), both equal the view
    computed here from the log's distinct events, and both are the sum of the orders still placed as typed
    (the accepted-and-cancelled ones gone), each cancellation applied once and none ignored.
The relay is at-least-once by design (see desktop_app/command/relay.py): a crash between the broker's
ack and the outbox noting it may put a second copy of an event in the log. That is allowed; counting it
twice is not. The number of such copies is reported.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from pathlib import Path

import pytest

from typing import Any

from desktop_app import contracts
from desktop_app.query.orders_view import OrderStatus
from desktop_app.settings import Settings
from support.desk_driver import DeskProcess
from support.log_audit import audit, expected_view, full_rows, read_log, read_view, replay_fresh_state, view_totals
from support.order_stream import order_fields, typed_lines, typed_view

START_S = 90.0  # bound of a desk start-up
SYNC_S = 120.0  # bound of publishing the outbox and catching the view up after a restart
CANCEL_SHARE = 0.10  # of the orders; half in their own run, half in a later one


def run_requests(rng: random.Random, run: int, orders: int, cancellable: list[str],
                 sent: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
    """One run's requests, in the order sent: its orders (noted in `sent`, command id -> fields), the
    cancellation of about CANCEL_SHARE / 2 of them 0-5 requests after each (by its place command), and
    of as many of the earlier runs' orders still placed (`cancellable`, by order id), anywhere in the run.
    Also the order ids those later cancellations name."""
    timed: list[tuple[float, dict[str, Any]]] = []
    for n in range(orders):
        fields = order_fields(rng, f"run{run}-order{n}")
        sent[fields["command_id"]] = fields
        timed.append((n, {"op": "place", **fields}))
        if rng.random() < CANCEL_SHARE / 2:
            timed.append((n + rng.uniform(0.1, 5), {"op": "cancel", "command_id": f"run{run}-cancel{n}",
                                                      "of_command": fields["command_id"], "reason": "typed twice"}))
    earlier = rng.sample(cancellable, min(len(cancellable), round(orders * CANCEL_SHARE / 2)))
    for k, order_id in enumerate(earlier):
        timed.append((rng.uniform(0, orders), {"op": "cancel", "command_id": f"run{run}-late-cancel{k}",
                                                "order_id": order_id, "reason": "changed their mind"}))
    timed.sort(key=lambda pair: pair[0])
    return [request for _, request in timed], set(earlier)


def kill_moment(rng: random.Random, orders: int) -> tuple[int, float]:
    """When to kill: after the k-th accepted order (mid-stream, 3 times in 4), or a moment after the
    last one (relay and projector still busy): (k, seconds to wait then)."""
    if rng.random() < 0.75:
        return rng.randint(1, orders - 1), 0.0
    return orders, round(rng.uniform(0.0, 0.5), 3)


def wait_until(condition, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.001)


def check_after_restart(settings: Settings, data_dir: Path, fresh_dir: Path, accepted: dict[str, str],
                        sent: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """The promises, checked against the whole log. Returns (duplicate records in the log, cancellations)."""
    client_kwargs = settings.kafka_client_kwargs()
    log = audit(asyncio.run(read_log(client_kwargs, settings.topic)))
    assert not log.malformed, f"the desk wrote malformed records at {log.malformed[:5]}"

    lost = [command for command in accepted if command not in log.event_ids_by_command]
    assert not lost, f"{len(lost)} accepted orders or cancellations are not in the log, e.g. {lost[:5]}"
    assert not log.commands_with_several_events(), "a command became more than one event"
    wrong = [c for c, event_id in accepted.items() if log.event_ids_by_command[c] != {uuid.UUID(event_id)}]
    assert not wrong, f"the log holds another event than the receipt for {wrong[:5]}"

    placed = {e.payload.order_id: e for e in log.events.values() if isinstance(e, contracts.EventEnvelope)}
    untyped = [e.payload.command_id for e in placed.values() if e.payload.command_id not in sent]
    assert not untyped, f"orders in the log that were never typed: {untyped[:5]}"
    for event in placed.values():
        lines = [(line.item, line.unit_price_pence, line.quantity) for line in event.payload.lines]
        assert lines == typed_lines(sent[event.payload.command_id]), f"{event.payload.command_id} lines differ"
    cancelled = {c.payload.order_id for c in log.cancellations}
    assert len(cancelled) == len(log.cancellations), "an order was cancelled twice"
    assert all(order_id in placed for order_id in cancelled), "a cancellation names an order not in the log"
    still_placed = [sent[e.payload.command_id] for order_id, e in placed.items() if order_id not in cancelled]

    desk = read_view(data_dir / "readmodel.db")
    fresh = replay_fresh_state(client_kwargs, settings.topic, fresh_dir)
    assert view_totals(desk.rows) == expected_view(log.events.values()), "the desk's view miscounts the log"
    assert view_totals(desk.rows) == typed_view(still_placed), "the view is not the sum of the orders still placed"
    assert full_rows(desk.rows) == full_rows(fresh.rows), "the desk's view differs from a fresh replay"
    assert desk.orders == fresh.orders, "the desk's orders differ from a fresh replay's"
    assert not desk.ignored and not fresh.ignored, f"cancellations that did not apply: {desk.ignored[:3]}"
    assert {o for o, row in desk.orders.items() if row.status == OrderStatus.CANCELLED} == cancelled
    assert set(desk.orders) == set(placed)
    return log.duplicate_records, len(cancelled)


@pytest.mark.parametrize(
    ("kills", "orders_per_run"),
    [
        pytest.param(3, 150, id="short"),
        pytest.param(20, 300, id="full", marks=[pytest.mark.slow, pytest.mark.timeout(1800)]),
    ],
)
def test_killed_app_loses_no_accepted_order_and_counts_each_once(
    topic_ready: Settings, tmp_path: Path, kills: int, orders_per_run: int, report
) -> None:
    settings = topic_ready
    data_dir = tmp_path / "desk"
    rng = random.Random(f"kill-app-{kills}")
    accepted: dict[str, str] = {}  # command id -> event id, as the desk reported them (orders and cancels)
    sent: dict[str, dict[str, Any]] = {}  # place command id -> the order as typed
    cancellable: list[str] = []  # order ids of accepted orders no cancellation was sent for
    kill_points: list[tuple[int, float]] = []  # (requests accepted in that run, seconds waited after the k-th)
    duplicates = cancellations = mid_stream = 0

    for run in range(kills + 1):
        desk = DeskProcess(data_dir, settings.bootstrap_servers, settings.topic, settings.partitions)
        try:
            desk.wait_for("ready", START_S)
            desk.send({"op": "sync", "timeout": SYNC_S})
            synced = desk.wait_for("synced", SYNC_S + 30)
            assert synced == {"op": "synced", "pending": 0, "caught_up": True, "lag": 0}, f"run {run}: {synced}"
            duplicates, cancellations = check_after_restart(
                settings, data_dir, tmp_path / f"fresh-{run}", accepted, sent)
            if run == kills:
                assert desk.close() == 0
                break

            requests, cancelling = run_requests(rng, run, orders_per_run, cancellable, sent)
            cancellable = [order_id for order_id in cancellable if order_id not in cancelling]
            cancelled_now = {r["of_command"] for r in requests if "of_command" in r}
            desk.send(*requests)
            moment = kill_moment(rng, len(requests))
            wait_until(lambda: len(desk.accepted_so_far()) >= min(moment[0], len(requests)), START_S,
                       f"run {run}: the desk did not accept {moment[0]} requests")
            time.sleep(moment[1])
            desk.kill()
            kill_points.append((len(desk.accepted), moment[1]))
            mid_stream += len(desk.accepted) < len(requests)
            assert not desk.refused, f"run {run}: the desk refused {desk.refused[:3]}"
            for answer in desk.accepted:
                assert answer["status"] == "accepted"
                accepted[answer["command_id"]] = answer["event_id"]
                if answer["kind"] == "place" and answer["command_id"] not in cancelled_now:
                    cancellable.append(answer["order_id"])
        finally:
            if desk.process.poll() is None:
                desk.kill()

    assert mid_stream > 0, f"every kill came after all requests of its run were accepted: {kill_points}"
    assert cancellations > 0, "no cancellation reached the log"
    report(f"{kills} kills at (requests accepted, s after) {kill_points}; {len(accepted)} accepted orders and "
           f"cancellations checked; {cancellations} orders cancelled; {duplicates} duplicate records in the log "
           "(re-sent after a crash, counted once)")
