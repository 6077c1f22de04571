"""`order-desk cancel / amend` end to end, as real processes against the real broker, with `items`, `orders`
and `order` to see what became of the order. Refused changes exit 2 and add no record to the topic."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import desktop_app
from desktop_app.settings import Settings

from command_topic import WAIT_S, read_topic

ROOT = Path(desktop_app.__file__).resolve().parents[1]


def order_desk(settings: Settings, *argv: str, data_dir: Path | None = None,
               servers: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "desktop_app", "--data-dir", str(data_dir or settings.data_dir),
               "--bootstrap-servers", servers or settings.bootstrap_servers, "--topic", settings.topic, *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT_S * 2)


def ok_json(settings: Settings, *argv: str, data_dir: Path | None = None):
    done = order_desk(settings, *argv, "--json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def logged(settings: Settings):
    return asyncio.run(read_topic(settings.kafka_client_kwargs(), settings.topic))


def place(settings: Settings, customer: str, *lines: tuple[str, str, str], data_dir: Path | None = None) -> dict:
    argv = ["place", "--customer", customer]
    for line in lines:
        argv += ["--line", *line]
    receipt = ok_json(settings, *argv, "--wait", data_dir=data_dir)
    assert receipt["status"] == "visible"
    return receipt


def test_cancel_wait_takes_the_order_out_of_items_and_lists_it_cancelled(topic_ready: Settings) -> None:
    kept = place(topic_ready, "alice", ("Tea", "3.50", "2"))
    gone = place(topic_ready, "alice", ("Tea", "3.50", "1"), ("Lamp", "65.00", "1"))

    receipt = ok_json(topic_ready, "cancel", gone["order_id"], "--reason", "wrong size", "--wait")

    assert (receipt["order_id"], receipt["status"]) == (gone["order_id"], "visible")
    rows = {(r["item"], r["quantity"], r["line_value"]) for r in ok_json(topic_ready, "items", "--no-sync")}
    assert rows == {("Tea", 2, "7.00")}  # the Lamp row was that order's only: it is gone
    cancelled = ok_json(topic_ready, "orders", "--status", "cancelled", "--no-sync")
    assert [(o["order_id"], o["reason"], o["total"]) for o in cancelled] == [(gone["order_id"], "wrong size", "68.50")]
    assert [o["order_id"] for o in ok_json(topic_ready, "orders", "--status", "placed")] == [kept["order_id"]]

    detail = ok_json(topic_ready, "order", gone["order_id"], "--no-sync")
    on_topic = [(e.event.event_type, e.partition, e.offset) for e in logged(topic_ready)
                if str(e.event.payload.order_id) == gone["order_id"]]
    assert [(e["event_type"], e["partition"], e["offset"]) for e in detail["events"]] == on_topic
    assert [(e["event_type"], e["outcome"]) for e in detail["events"]] == [
        ("OrderPlaced", "applied"), ("OrderCancelled", "applied")]
    assert (detail["events"][1]["partition"], detail["events"][1]["offset"]) == (receipt["partition"],
                                                                                   receipt["offset"])


def test_cancelling_twice_an_unknown_or_a_malformed_id_exits_2_and_adds_no_record(topic_ready: Settings) -> None:
    placed = place(topic_ready, "bob", ("Mug", "4.50", "4"))
    first = order_desk(topic_ready, "cancel", placed["order_id"], "--wait")
    assert first.returncode == 0, first.stderr
    records = len(logged(topic_ready))

    again = order_desk(topic_ready, "cancel", placed["order_id"], "--wait")
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr.splitlines() == [f"order-desk: Order id: order {placed['order_id']} is already cancelled"]

    unknown = str(uuid.uuid4())
    refused = order_desk(topic_ready, "cancel", unknown, "--reason", "x" * 201)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.splitlines() == ["order-desk: Reason: at most 200 characters (this has 201)"]
    refused = order_desk(topic_ready, "cancel", unknown)
    assert refused.stderr.splitlines() == [f"order-desk: Order id: no order {unknown} is known"]
    assert refused.returncode == 2

    malformed = order_desk(topic_ready, "amend", "12-ab", "--line", "Mug", "4.999", "1")
    assert malformed.returncode == 2
    assert malformed.stderr.splitlines() == ["order-desk: Order id: is not an order id",
                                             "order-desk: Line 1 price: at most 2 decimal places"]
    assert len(logged(topic_ready)) == records


def test_a_cancel_checks_the_customer_and_repeats_by_command_id(topic_ready: Settings) -> None:
    placed = place(topic_ready, "carol", ("Rug", "70", "1"))
    refused = order_desk(topic_ready, "cancel", placed["order_id"], "--customer", "dave")
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"order-desk: Customer: order {placed['order_id']} is for customer carol, not dave"]

    first = ok_json(topic_ready, "cancel", placed["order_id"], "--customer", "carol", "--command-id", "undo-1")
    records = len(logged(topic_ready))
    again = ok_json(topic_ready, "cancel", placed["order_id"], "--command-id", "undo-1", "--wait")
    assert {k: again[k] for k in ("order_id", "command_id", "partition", "offset")} == {
        k: first[k] for k in ("order_id", "command_id", "partition", "offset")}
    assert len(logged(topic_ready)) == records


def test_amend_wait_leaves_only_the_new_orders_lines(topic_ready: Settings) -> None:
    old = place(topic_ready, "erin", ("Tea", "3.50", "3"), ("Kettle", "24.99", "1"))

    receipt = ok_json(topic_ready, "amend", old["order_id"], "--line", "Tea", "3.50", "1", "--line", "Mug",
                      "£4.50", "2", "--wait")

    assert receipt["status"] == "visible" and receipt["replaces"] == old["order_id"]
    assert receipt["order_id"] != old["order_id"]
    rows = {(r["item"], r["quantity"], r["orders"]) for r in ok_json(topic_ready, "items", "--no-sync")}
    assert rows == {("Tea", 1, 1), ("Mug", 2, 1)}
    replaced = ok_json(topic_ready, "order", old["order_id"], "--no-sync")
    assert (replaced["status"], replaced["replaced_by"], replaced["reason"]) == (
        "replaced", receipt["order_id"], "amended")
    new = ok_json(topic_ready, "order", receipt["order_id"], "--no-sync")
    assert (new["replaces"], new["total"], new["total_pence"]) == (old["order_id"], "12.50", 1250)
    types = [e.event.event_type for e in logged(topic_ready)]
    assert types == ["OrderPlaced", "OrderCancelled", "OrderPlaced"]


def test_another_desks_order_is_cancelled_once_the_view_has_caught_up(topic_ready: Settings, tmp_path: Path) -> None:
    placed = place(topic_ready, "fay", ("Lamp", "60", "1"), data_dir=tmp_path / "desk-a")
    other_desk = tmp_path / "desk-b"  # a fresh data dir: no outbox and no view of its own yet

    receipt = ok_json(topic_ready, "cancel", placed["order_id"], "--wait", data_dir=other_desk)

    assert receipt["status"] == "visible"
    assert ok_json(topic_ready, "items", data_dir=tmp_path / "desk-a") == []


def unused_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_without_the_broker_an_order_queued_here_is_cancelled_from_the_outbox(topic_ready: Settings) -> None:
    nowhere = unused_address()
    queued = order_desk(topic_ready, "place", "--customer", "gus", "--line", "Clock", "30", "1", "--json",
                        servers=nowhere)
    assert queued.returncode == 0, queued.stderr
    order_id = json.loads(queued.stdout)["order_id"]

    cancel = order_desk(topic_ready, "cancel", order_id, "--json", "--sync-timeout", "5", servers=nowhere)
    assert cancel.returncode == 0, cancel.stderr
    assert json.loads(cancel.stdout)["status"] == "accepted"
    assert "warning: cannot catch up with the log" in cancel.stderr
    again = order_desk(topic_ready, "cancel", order_id, "--sync-timeout", "5", servers=nowhere)
    assert again.returncode == 2  # the outbox knows it is already cancelled, even unpublished
    assert f"order {order_id} is already cancelled" in again.stderr
    amend = order_desk(topic_ready, "amend", order_id, "--line", "Clock", "30", "2", "--sync-timeout", "5",
                       servers=nowhere)
    assert amend.returncode == 2 and f"order {order_id} is already cancelled" in amend.stderr

    other = order_desk(topic_ready, "place", "--customer", "gus", "--line", "Mug", "4.50", "1", "--json",
                       servers=nowhere)
    waited = order_desk(topic_ready, "cancel", json.loads(other.stdout)["order_id"], "--wait", "--timeout", "1",
                        "--sync-timeout", "5", servers=nowhere)
    assert waited.returncode == 3  # accepted, not published within --timeout: the receipt comes first
    assert "accepted (queued for publishing)" in waited.stdout and "not published yet" in waited.stderr

    sent = order_desk(topic_ready, "place", "--customer", "gus", "--line", "Pen", "1.20", "1", "--wait")
    assert sent.returncode == 0, sent.stderr  # the relay sent the queued order and its cancellation first
    assert [e.event.event_type for e in logged(topic_ready)] == ["OrderPlaced", "OrderCancelled"] * 2 + ["OrderPlaced"]
    assert [r["item"] for r in ok_json(topic_ready, "items", "--no-sync")] == ["Pen"]
