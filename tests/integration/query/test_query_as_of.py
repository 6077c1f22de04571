"""The view as of a moment against the real broker: records stamped by hand (Kafka record timestamps), the live
view beside it, the CLI, and what a killed or cancelled build leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path


from desktop_app.cli import read_cmds
from desktop_app.query.as_of import AsOfCancelled
from desktop_app.settings import Settings
from support.cli_run import run_commands
from support.stamped_events import produce_stamped
from support.order_stream import cancel_event

from query_live_helpers import WAIT_S, interrupt_when, order, produce, produce_events, wait_for

T0 = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)  # in the past: the broker takes old timestamps


def as_of_files(data_dir: Path) -> list[str]:
    return sorted(path.name for path in data_dir.glob("asof-*"))


def whole_view(view) -> dict:
    """Everything a reader of the view can see (quarantine times aside: they are when it was projected)."""
    summary = view.summary()
    return {
        "items": view.items(), "orders": view.orders(), "values": view.value_totals(),
        "bands": summary.bands, "applied": summary.events_applied, "quarantined": summary.quarantined,
        "ignored": [(row.order_id, row.reason, row.partition, row.offset) for row in view.ignored(1000)],
        "quarantine": sorted((q.partition, q.offset, q.reason, q.value) for q in view.quarantined(1000)),
        "details": {o.order_id: view.order(o.order_id) for o in view.orders()},
    }


def test_as_of_a_moment_between_two_orders_shows_exactly_the_first(topic_ready, start_service) -> None:
    first = order("ann", ("Tea", 350, 2), at=T0 - timedelta(hours=1))
    second = order("bob", ("Lamp", 6500, 1), at=T0 + timedelta(hours=1))
    produce_stamped(topic_ready, [(first, T0 - timedelta(hours=1)), (second, T0 + timedelta(hours=1))])
    live = start_service()
    assert live.catch_up(WAIT_S)

    view = live.as_of(T0).start().follow(timeout=WAIT_S)
    try:
        assert [(r.customer_id, r.item, r.quantity) for r in view.items()] == [("ann", "Tea", 2)]
        assert [o.order_id for o in view.orders()] == [first.payload.order_id]
        assert view.records == 1 and view.db_path.parent == topic_ready.data_dir
        assert len(live.items()) == 2  # the live view is as it was
    finally:
        view.close()
    assert as_of_files(topic_ready.data_dir) == []


def test_as_of_now_equals_the_live_view(topic_ready, start_service) -> None:
    placed = [order(f"c{i % 7}", ("Tea", 350, 1 + i % 3), ("Rug", 9000 + i, 1)) for i in range(40)]
    produce_events(topic_ready, placed)
    produce_events(topic_ready, [cancel_event(placed[3], reason="wrong size"), cancel_event(placed[3]),
                                 cancel_event(order("nobody", ("Pen", 120, 1)))])
    produce_events(topic_ready, placed[10:12])  # re-sends: counted once
    produce(topic_ready, [(b"k", b"not json", []), (b"k", b'{"event_type": "OrderPlaced"}', [])])
    live = start_service()
    assert live.catch_up(WAIT_S)

    view = live.as_of(datetime.now(timezone.utc)).start().follow(timeout=WAIT_S)
    try:
        assert view.offsets == live.stored_offsets()
        expected = whole_view(live.read_model)
        assert len(expected["items"]) > 7 and expected["ignored"] and len(expected["quarantine"]) == 2
        assert whole_view(view) == expected
    finally:
        view.close()


def test_orders_placed_meanwhile_do_not_change_an_open_as_of_view(topic_ready, start_service) -> None:
    produce_events(topic_ready, [order("ann", ("Tea", 350, 2)), order("bob", ("Mug", 450, 1))])
    live = start_service()
    assert live.catch_up(WAIT_S)
    view = live.as_of(datetime.now(timezone.utc)).start().follow(timeout=WAIT_S)
    try:
        before = whole_view(view)
        produce_events(topic_ready, [order("ann", ("Tea", 350, 5)), order("cy", ("Lamp", 6500, 1))])
        assert live.catch_up(WAIT_S)
        assert live.count_items() == 3 and live.value_of_items() == 350 * 7 + 450 + 6500
        assert whole_view(view) == before and view.count_items() == 2
    finally:
        view.close()


def test_a_cancelled_build_leaves_no_file_at_once(topic_ready, start_service) -> None:
    produce_events(topic_ready, [order(f"c{i}", ("Tea", 350, 1)) for i in range(3000)])
    live = start_service()
    seen: list[int] = []
    job = live.as_of(datetime.now(timezone.utc), on_progress=lambda done, total: seen.append(done))
    job.start()
    try:
        assert wait_for(lambda: job.path.exists() or job.finished.is_set())
        job.cancel()
        assert job.join(WAIT_S)
        try:
            job.take_view().close()  # it may have finished first on a fast machine: then closing deletes it
        except AsOfCancelled:
            assert job.cancelled
    finally:
        job.cancel()
    assert as_of_files(topic_ready.data_dir) == []


def order_desk(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, "-m", "desktop_app", "--data-dir", str(settings.data_dir), "--bootstrap-servers",
            settings.bootstrap_servers, "--topic", settings.topic, *args]


def test_a_killed_build_leaves_no_file_once_the_next_start_up_has_run(topic_ready) -> None:
    produce_events(topic_ready, [order(f"c{i % 50}", ("Tea", 350, 1), ("Rug", 9000, 1)) for i in range(5000)])
    topic_ready.data_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc).isoformat()
    cli = subprocess.Popen(order_desk(topic_ready, "items", "--as-of", now, "--json"), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert wait_for(lambda: bool(as_of_files(topic_ready.data_dir)) or cli.poll() is not None, 120, 0.002)
        assert cli.poll() is None, "the CLI finished before it could be killed mid-build"
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait(30)
    finally:
        if cli.poll() is None:
            cli.kill()
    left = as_of_files(topic_ready.data_dir)
    assert left and all(name.startswith(f"asof-{cli.pid}-") for name in left)

    started = subprocess.run(order_desk(topic_ready, "summary", "--json"), capture_output=True, text=True,
                             timeout=120)
    assert started.returncode == 0, started.stderr
    assert as_of_files(topic_ready.data_dir) == []


def run_cli(settings, capsys, *argv: str) -> tuple[int, str, str]:
    return run_commands((read_cmds,), settings, capsys, *argv)


def test_cli_items_and_summary_as_of_a_moment(topic_ready, capsys) -> None:
    produce_stamped(topic_ready, [(order("ann", ("Tea", 350, 2)), T0 - timedelta(hours=1)),
                                  (order("bob", ("Lamp", 6500, 1)), T0 + timedelta(hours=1))])
    moment = T0.astimezone().replace(tzinfo=None).isoformat(timespec="minutes")  # local time, no zone

    code, out, err = run_cli(topic_ready, capsys, "items", "--as-of", moment, "--json")
    assert code == 0, err
    assert [(row["customer_id"], row["item"], row["line_value_pence"]) for row in json.loads(out)] == [
        ("ann", "Tea", 700)]
    assert "building the view as of the moment [" in err and "1/1 events" in err

    code, out, _ = run_cli(topic_ready, capsys, "items", "--as-of", moment)
    assert code == 0 and out.startswith("As of ") and "1 event replayed" in out.splitlines()[0]
    assert "total £7.00 (1 row)" in out

    code, out, _ = run_cli(topic_ready, capsys, "summary", "--as-of", moment, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["as_of"] == T0.isoformat() and summary["value_pence"] == 700
    assert (summary["events_applied"], summary["lag"]) == (1, None)

    code, out, _ = run_cli(topic_ready, capsys, "items", "--json")  # the live view has both
    assert len(json.loads(out)) == 2
    assert as_of_files(topic_ready.data_dir) == []


def test_ctrl_c_during_a_cli_build_leaves_no_file(topic_ready) -> None:
    produce_events(topic_ready, [order(f"c{i % 50}", ("Tea", 350, 1), ("Rug", 9000, 1)) for i in range(5000)])
    topic_ready.data_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc).isoformat()
    code, out, err = interrupt_when(order_desk(topic_ready, "summary", "--as-of", now),
                                    lambda: bool(as_of_files(topic_ready.data_dir)))  # mid-build
    assert code == 130 and "order-desk: interrupted" in err and out == ""
    assert as_of_files(topic_ready.data_dir) == []
