"""`order-desk place` end to end, as a real process against the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import desktop_app
from desktop_app.command.outbox import Outbox
from desktop_app.settings import Settings

from command_topic import WAIT_S, read_topic

ROOT = Path(desktop_app.__file__).resolve().parents[1]


def order_desk(settings: Settings, *argv: str, servers: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "desktop_app", "--data-dir", str(settings.data_dir),
               "--bootstrap-servers", servers or settings.bootstrap_servers, "--topic", settings.topic, *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT_S * 2)


def unused_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def logged(settings: Settings):
    return asyncio.run(read_topic(settings.kafka_client_kwargs(), settings.topic))


def test_place_publishes_and_prints_the_receipt_as_json(topic_ready: Settings) -> None:
    done = order_desk(topic_ready, "place", "--customer", "alice", "--item", "Tea", "--price", "19.99",
                      "--qty", "3", "--line", "Mug", "£4.50", "2", "--command-id", "cli-1", "--json")
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert set(receipt) == {"order_id", "command_id", "status", "partition", "offset"}
    assert (receipt["command_id"], receipt["status"]) == ("cli-1", "published")
    (only,) = logged(topic_ready)
    assert (only.partition, only.offset) == (receipt["partition"], receipt["offset"])
    assert str(only.event.payload.order_id) == receipt["order_id"]
    assert [(ln.item, ln.unit_price_pence, ln.quantity) for ln in only.event.payload.lines] == [
        ("Tea", 1999, 3), ("Mug", 450, 2)]

    again = order_desk(topic_ready, "place", "--customer", "alice", "--item", "Tea", "--price", "19.99",
                       "--qty", "3", "--line", "Mug", "£4.50", "2", "--command-id", "cli-1", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == receipt
    assert len(logged(topic_ready)) == 1


def test_place_wait_returns_once_the_order_is_visible_in_the_read_model(topic_ready: Settings) -> None:
    done = order_desk(topic_ready, "place", "--customer", "bob", "--line", "Kettle", "24.99", "1",
                      "--wait", "--json")
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert receipt["status"] == "visible" and isinstance(receipt["offset"], int)


def test_place_with_invalid_input_exits_2_and_publishes_nothing(topic_ready: Settings) -> None:
    done = order_desk(topic_ready, "place", "--customer", "alice", "--item", "Tea", "--price", "-1",
                      "--qty", "0")
    assert done.returncode == 2
    assert "Line 1 price: must not have a sign" in done.stderr
    assert "Line 1 quantity: must be from 1 to 10,000" in done.stderr
    assert done.stdout == ""
    assert not topic_ready.command_db_path.exists()
    assert logged(topic_ready) == []


def test_place_with_the_broker_unreachable_accepts_and_queues(topic_ready: Settings) -> None:
    nowhere = unused_address()
    done = order_desk(topic_ready, "place", "--customer", "carol", "--item", "Lamp", "--price", "60",
                      "--command-id", "queued-1", "--json", servers=nowhere)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "accepted"
    assert "not published yet" in done.stderr

    waited = order_desk(topic_ready, "place", "--customer", "carol", "--item", "Rug", "--price", "70",
                        "--command-id", "queued-2", "--wait", "--timeout", "1", servers=nowhere)
    assert waited.returncode == 3
    assert "accepted" in waited.stdout

    outbox = Outbox(topic_ready.command_db_path, topic_ready.topic)
    try:
        assert [r.status for r in outbox.receipts()] == ["accepted", "accepted"]
    finally:
        outbox.close()

    # the next place with the broker reachable sends the queued orders first, then its own
    sent = order_desk(topic_ready, "place", "--customer", "carol", "--item", "Vase", "--price", "80", "--wait")
    assert sent.returncode == 0, sent.stderr
    assert [e.event.payload.command_id for e in logged(topic_ready)][:2] == ["queued-1", "queued-2"]
    assert len(logged(topic_ready)) == 3


def test_an_order_goes_to_the_topic_it_was_accepted_for_not_the_next_desks(topic_ready: Settings) -> None:
    alpha = topic_ready.model_copy(update={"topic": f"{topic_ready.topic}.alpha"})
    beta = topic_ready.model_copy(update={"topic": f"{topic_ready.topic}.beta"})
    queued = order_desk(alpha, "place", "--customer", "dana", "--item", "Lamp", "--price", "60",
                        "--command-id", "for-alpha", "--json", servers=unused_address())
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["status"] == "accepted"

    sent = order_desk(beta, "place", "--customer", "dana", "--item", "Rug", "--price", "70",
                      "--command-id", "for-beta", "--wait")
    assert sent.returncode == 0, sent.stderr
    assert [e.event.payload.command_id for e in logged(alpha)] == ["for-alpha"]
    assert [e.event.payload.command_id for e in logged(beta)] == ["for-beta"]


def test_an_internal_topic_is_invalid_input_and_writes_nothing(topic_ready: Settings) -> None:
    internal = topic_ready.model_copy(update={"topic": "__consumer_offsets"})
    done = order_desk(internal, "place", "--customer", "erin", "--item", "Tea", "--price", "3.50")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "order-desk: invalid setting topic: '__consumer_offsets' is reserved for Kafka's internal topics"
        " (names starting with '__')"]
    assert not topic_ready.data_dir.exists()
