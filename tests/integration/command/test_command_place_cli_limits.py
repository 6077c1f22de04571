"""`order-desk place` and `summary` keep their stated limits, and `place` always shows its receipt.

Issue 11, point 5: with the broker's JVM frozen (SIGSTOP), `place` took 64 s to say "accepted",
`place --wait --timeout 5` 67 s and `summary --sync-timeout 5` 61 s. Issue 12, point 6: `place --wait`
exited 1 with no receipt when the view could not be read, although the order was stored and published.

The elapsed-time bounds below are not performance targets: they check that a stated limit (5 s) is a
limit at all. They are generous (the machine is shared and loaded) and far below what the bug took.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import desktop_app
from desktop_app.bootstrap import embedded_broker
from desktop_app.command.outbox import Outbox
from desktop_app.query.service import default_lock_path
from desktop_app.settings import Settings

from command_topic import WAIT_S, read_topic

ROOT = Path(desktop_app.__file__).resolve().parents[1]
LIMIT_BOUND_S = 25.0  # for a 5 s limit; the bug took over 60 s
HOLD_LOCK = "import sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(120)"


def order_desk(data_dir: Path, *argv: str, servers: str | None = None, topic: str | None = None):
    command = [sys.executable, "-m", "desktop_app", "--data-dir", str(data_dir)]
    command += ["--bootstrap-servers", servers] if servers else []
    command += ["--topic", topic] if topic else []
    started = time.monotonic()
    done = subprocess.run([*command, *argv], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=WAIT_S * 3)
    return done, time.monotonic() - started


def receipts(data_dir: Path) -> list[str]:
    settings = Settings(data_dir=data_dir)
    outbox = Outbox(settings.command_db_path, settings.topic)
    try:
        return [receipt.status for receipt in outbox.receipts()]
    finally:
        outbox.close()


def test_a_frozen_broker_does_not_hold_up_place_or_summary_beyond_their_limits(isolated_data_dir: Path):
    started, _ = order_desk(isolated_data_dir, "broker", "start")
    assert started.returncode == 0, started.stderr
    jvm = embedded_broker(Settings(data_dir=isolated_data_dir), fetch_jars=False).pid()
    assert jvm is not None
    try:
        first, _ = order_desk(isolated_data_dir, "place", "--customer", "ann", "--item", "Tea", "--price", "1")
        assert first.returncode == 0 and " published " in first.stdout, first.stderr

        os.kill(jvm, signal.SIGSTOP)
        try:
            queued, queued_s = order_desk(isolated_data_dir, "place", "--customer", "ann", "--item", "Mug",
                                          "--price", "6", "--json")
            waited, waited_s = order_desk(isolated_data_dir, "place", "--customer", "ann", "--item", "Pot",
                                          "--price", "20", "--wait", "--timeout", "5")
            summary, summary_s = order_desk(isolated_data_dir, "summary", "--sync-timeout", "5")
        finally:
            os.kill(jvm, signal.SIGCONT)

        assert queued.returncode == 0, queued.stderr
        assert json.loads(queued.stdout)["status"] == "accepted"
        assert "not published yet" in queued.stderr and "next runs" not in queued.stderr
        assert queued_s < LIMIT_BOUND_S, f"place without --wait took {queued_s:.1f} s"

        assert waited.returncode == 3, waited.stderr
        assert "accepted (queued for publishing)" in waited.stdout
        assert waited_s < LIMIT_BOUND_S, f"place --wait --timeout 5 took {waited_s:.1f} s"

        assert summary.returncode == 3, summary.stderr
        assert "did not answer within 5 s" in summary.stderr
        assert summary_s < LIMIT_BOUND_S, f"summary --sync-timeout 5 took {summary_s:.1f} s"

        assert receipts(isolated_data_dir) == ["published", "accepted", "accepted"]
        # thawed: the next place sends what waited, nothing lost
        sent, _ = order_desk(isolated_data_dir, "place", "--customer", "ann", "--item", "Jug", "--price", "9",
                             "--wait", "--timeout", "60")
        assert sent.returncode == 0, sent.stderr
        assert receipts(isolated_data_dir) == ["published"] * 4
    finally:
        order_desk(isolated_data_dir, "broker", "stop")


def test_place_beside_a_running_desk_leaves_the_order_to_it_and_says_so(topic_ready: Settings):
    desk = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "headless_desk.py"), str(topic_ready.data_dir),
         topic_ready.bootstrap_servers, topic_ready.topic, str(topic_ready.partitions)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(desk.stdout.readline()) == {"op": "ready"}
        placed, _ = order_desk(topic_ready.data_dir, "place", "--customer", "bea", "--item", "Tea", "--price", "2",
                               "--command-id", "beside-desk", servers=topic_ready.bootstrap_servers,
                               topic=topic_ready.topic)
        assert placed.returncode == 0, placed.stderr
        assert "accepted" in placed.stdout
        assert f"the Order Desk running on {topic_ready.data_dir}" in placed.stderr
        assert "publishes it within seconds" in placed.stderr and "next runs" not in placed.stderr

        async def logged_by_the_desk() -> list[str]:
            async with asyncio.timeout(WAIT_S):
                while True:
                    logged = await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)
                    if logged:
                        return [entry.event.payload.command_id for entry in logged]
                    await asyncio.sleep(0.2)

        assert asyncio.run(logged_by_the_desk()) == ["beside-desk"]
    finally:
        desk.stdin.close()
        desk.wait(timeout=WAIT_S)


def test_place_wait_prints_the_receipt_and_exits_4_when_the_view_does_not_show_it(topic_ready: Settings):
    # A projecting process that hangs holds the view's lock, so the order is published but never shown.
    # (A view file that cannot be opened is no longer a way to get here: the desk moves it aside and heals.)
    topic_ready.data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = default_lock_path(topic_ready.readmodel_db_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done, _ = order_desk(topic_ready.data_dir, "place", "--customer", "cy", "--item", "Lamp", "--price", "60",
                             "--command-id", "unreadable-view", "--wait", "--timeout", "5", "--json",
                             servers=topic_ready.bootstrap_servers, topic=topic_ready.topic)
    finally:
        holder.kill()
        holder.wait()

    assert done.returncode == 4, done.stderr
    receipt = json.loads(done.stdout)
    assert (receipt["command_id"], receipt["status"]) == ("unreadable-view", "published")
    assert receipt["order_id"] and isinstance(receipt["offset"], int)
    (problem,) = done.stderr.strip().splitlines()
    assert problem.startswith("order-desk: the order is accepted (published) but not confirmed visible")
    assert "do not place it again" in problem

    again, _ = order_desk(topic_ready.data_dir, "place", "--customer", "cy", "--item", "Lamp", "--price", "60",
                          "--command-id", "unreadable-view", "--json",
                          servers=topic_ready.bootstrap_servers, topic=topic_ready.topic)
    assert again.returncode == 0 and json.loads(again.stdout) == receipt
    assert len(asyncio.run(read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic))) == 1
