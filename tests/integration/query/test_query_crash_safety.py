"""Crash safety: a projector SIGKILLed mid-stream, again and again, ends with exactly a fresh replay's view."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from desktop_app.query.log_end import end_offsets_blocking
from desktop_app.query.runner import ProjectorThread

from query_live_helpers import order, produce_async, wait_for, wire

REPO_ROOT = Path(__file__).resolve().parents[3]
PROCESS_SCRIPT = Path(__file__).with_name("projector_process.py")
PRICES = [1, 99, 499, 500, 501, 2500, 4999, 5000, 5001, 12_000, 100_000_000]


def make_stream(count: int, seed: int) -> list:
    """`count` orders, plus re-sent duplicates and malformed records mixed in."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    events = [
        order(
            f"customer{rng.randrange(60)}",
            *[(f"item{rng.randrange(25)}", rng.choice(PRICES), rng.randint(1, 20)) for _ in range(rng.randint(1, 3))],
            at=start + timedelta(seconds=rng.randrange(10**7)),
        )
        for _ in range(count)
    ]
    records = [wire(e) for e in events]
    for _ in range(count // 40):  # duplicates: the same event_id sent again later
        records.insert(rng.randrange(len(records) + 1), wire(rng.choice(events)))
    for n in range(count // 100):  # malformed records
        records.insert(rng.randrange(len(records) + 1), (b"bad", f"not json {n}".encode(), []))
    return records


def produce_all(client_kwargs: dict, topic: str, records: list, chunk: int = 5000) -> None:
    async def run() -> None:
        for start in range(0, len(records), chunk):
            await produce_async(client_kwargs, topic, records[start:start + chunk])

    asyncio.run(run())


def applied_count(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=5) as connection:
            return connection.execute("SELECT count(*) FROM applied_events").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def table_dump(db_path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db_path) as connection:
        return {
            "items": connection.execute("SELECT * FROM ordered_items ORDER BY 1, 2, 3").fetchall(),
            "applied": connection.execute("SELECT event_id FROM applied_events ORDER BY 1").fetchall(),
            "offsets": connection.execute("SELECT * FROM partition_offsets ORDER BY 1, 2").fetchall(),
            "quarantine": connection.execute(
                "SELECT topic, partition, \"offset\", reason, value FROM quarantined_records ORDER BY 1, 2, 3"
            ).fetchall(),
        }


def start_projector_process(db_path: Path, settings, max_records: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    with open(db_path.with_name("projector-process.log"), "a") as log_file:  # the child keeps its own handle
        process = subprocess.Popen(
            [sys.executable, str(PROCESS_SCRIPT), str(db_path), settings.topic, settings.bootstrap_servers,
             str(max_records)],
            stdout=subprocess.PIPE, stderr=log_file, text=True, env=env,
        )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "projecting"
    return process


def sigkill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def replay_fresh(db_path: Path, settings, ends: dict[int, int]) -> None:
    runner = ProjectorThread(db_path, settings.kafka_client_kwargs(), settings.topic)
    runner.start()
    try:
        assert runner.offsets.wait_for(ends, 120)
    finally:
        runner.stop()


def run_crash_scenario(settings, tmp_path: Path, events: int, kills: int, max_records: int) -> None:
    client_kwargs = settings.kafka_client_kwargs()
    records = make_stream(events, seed=events + kills)
    upfront = len(records) * 3 // 4
    produce_all(client_kwargs, settings.topic, records[:upfront])
    late_producer = threading.Thread(
        target=produce_all, args=(client_kwargs, settings.topic, records[upfront:], 500), daemon=True
    )

    crashed_db = tmp_path / "crashed" / "readmodel.db"
    crashed_db.parent.mkdir()
    kill_points = []
    jitter = random.Random(kills)
    for kill in range(1, kills + 1):
        process = start_projector_process(crashed_db, settings, max_records)
        if kill == 1:
            late_producer.start()  # more records arrive while the projector is being killed
        threshold = events * kill // (kills + 1)
        try:
            progressed = wait_for(lambda: applied_count(crashed_db) >= threshold, interval=0.005)
            assert progressed, f"no progress to {threshold}"
            time.sleep(jitter.uniform(0, 0.02))  # land anywhere in the next batch, not just after a commit
        finally:
            sigkill(process)
        kill_points.append(applied_count(crashed_db))
    late_producer.join(timeout=120)
    assert not late_producer.is_alive()

    ends = end_offsets_blocking(client_kwargs, settings.topic)
    assert sum(ends.values()) == len(records)
    assert all(0 < point < events for point in kill_points), kill_points  # every kill was mid-stream

    process = start_projector_process(crashed_db, settings, max_records)
    try:
        with sqlite3.connect(crashed_db, timeout=5) as connection:
            def caught_up() -> bool:
                stored = dict(connection.execute("SELECT partition, next_offset FROM partition_offsets").fetchall())
                return all(stored.get(p, 0) >= end for p, end in ends.items())

            assert wait_for(caught_up, timeout=120, interval=0.05)
    finally:
        sigkill(process)

    fresh_db = tmp_path / "fresh" / "readmodel.db"
    replay_fresh(fresh_db, settings, ends)

    crashed, fresh = table_dump(crashed_db), table_dump(fresh_db)
    assert len(fresh["applied"]) == events
    assert len(fresh["quarantine"]) == events // 100
    for table in ("items", "applied", "offsets", "quarantine"):
        assert crashed[table] == fresh[table], f"{table} differs after {kills} crashes at {kill_points}"


def test_sigkilled_projector_ends_with_the_fresh_replay_view(topic_ready, tmp_path) -> None:
    run_crash_scenario(topic_ready, tmp_path, events=20_000, kills=4, max_records=250)


@pytest.mark.slow
def test_sigkilled_projector_ends_with_the_fresh_replay_view_at_scale(topic_ready, tmp_path) -> None:
    run_crash_scenario(topic_ready, tmp_path, events=200_000, kills=12, max_records=2000)
