"""Zero-downtime rebuild against the real broker: shadow replay, atomic swap, cancel, crash, projection version."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from desktop_app.query import schema
from desktop_app.query.rebuild import RebuildPhase
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.views import ReadModel

from query_live_helpers import WAIT_S, order, produce, produce_events, snapshot, wait_for, wire

REPO_ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent
SLOW_SHADOW = ProjectorOptions(max_records=25)  # small batches: a rebuild of a few thousand records takes a while


def fill(settings, count: int) -> None:
    produce(settings, [
        wire(order(f"c{n % 37}", (f"item{n % 11}", 97 * (n % 80) + 1, 1 + n % 5))) for n in range(count)
    ] + [(b"k", b"garbage", [])] * 3)


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def rows(summary) -> int:
    return sum(totals.rows for totals in summary.bands.values())


def targets_of(sent: list[tuple[int, int]]) -> dict[int, int]:
    targets: dict[int, int] = {}
    for partition, offset in sent:
        targets[partition] = max(targets.get(partition, 0), offset + 1)
    return targets


def fresh_replay(start_service, folder: Path):
    fresh = start_service(folder)
    assert fresh.catch_up(WAIT_S)
    return snapshot(fresh), fresh.summary()


def index_names(db_path: Path) -> set[str]:
    with sqlite3.connect(db_path) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))


class SteadyOrders:
    """Places an order every few milliseconds from its own thread until stopped; remembers where each went."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.sent: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        producer = AIOKafkaProducer(**self.settings.kafka_client_kwargs(), enable_idempotence=True, linger_ms=2)
        await producer.start()
        try:
            number = 0
            while not self._stop.is_set():
                key, value, headers = wire(order(f"steady{number % 13}", ("Mug", 650, 1 + number % 3)))
                metadata = await producer.send_and_wait(self.settings.topic, value=value, key=key,
                                                        headers=list(headers))
                self.sent.append((metadata.partition, metadata.offset))
                number += 1
                await asyncio.sleep(0.005)
        finally:
            await producer.stop()

    def __enter__(self) -> SteadyOrders:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive()


def test_rebuild_while_orders_arrive_ends_equal_to_a_fresh_replay(topic_ready, start_service, tmp_path) -> None:
    data_dir = topic_ready.data_dir
    service = start_service(options=SLOW_SHADOW)
    fill(topic_ready, 3000)
    assert service.catch_up(WAIT_S)
    changes, mid_replay = [], {}
    service.add_listener(changes.append)

    def progress(done: int, total: int) -> None:
        if done > 0 and "sent" not in mid_replay:  # once, while the shadow is replaying
            sent = produce_events(topic_ready, [order(f"during{n}", ("Tea", 350, 1)) for n in range(20)])
            mid_replay.update(
                sent=sent, done=done, total=total, reason=service.rebuild_reason,
                phase=service.rebuild_status.phase,
                live_shows_them=service.wait_for_offsets(targets_of(sent), WAIT_S),
                view=service.view_path.name,
                shadow_indexes=index_names(data_dir / "readmodel-1.db"),
            )

    with SteadyOrders(topic_ready) as steady:
        outcome = service.rebuild(progress=progress)
        assert wait_for(lambda: len(steady.sent) > 0)
    placed = steady.sent + mid_replay["sent"]

    assert outcome.completed and not outcome.cancelled
    assert mid_replay["done"] < mid_replay["total"] == outcome.total >= 3003  # plus steady orders placed so far
    assert (mid_replay["reason"], mid_replay["phase"]) == ("requested", RebuildPhase.REPLAYING)
    assert mid_replay["live_shows_them"] and mid_replay["view"] == "readmodel.db"  # live view kept serving
    assert outcome.events >= 3003 + 20 and outcome.generation == 1
    assert service.view_path.name == "readmodel-1.db" and service.rebuild_reason is None
    assert any(change.reset for change in changes)

    assert service.wait_for_offsets(targets_of(placed), WAIT_S)  # every order placed during the rebuild
    assert service.catch_up(WAIT_S)
    assert service.summary().events_applied == 3000 + len(placed)
    fresh_rows, fresh_summary = fresh_replay(start_service, tmp_path / "fresh")
    assert snapshot(service) == fresh_rows
    assert service.summary() == fresh_summary
    assert not [name for name in names(data_dir) if name.startswith("readmodel.db") and name != "readmodel.db.lock"]
    # the shadow was built without the indexes only readers use, and had them all once swapped in
    read_only = {index.name for index in schema.READ_ONLY_INDEXES}
    every_index = index_names(tmp_path / "fresh" / "readmodel.db")
    assert read_only and read_only <= every_index
    assert mid_replay["shadow_indexes"] == every_index - read_only
    assert index_names(service.view_path) == every_index


def test_readers_never_see_fewer_rows_during_a_rebuild(topic_ready, start_service) -> None:
    service = start_service(options=SLOW_SHADOW)
    fill(topic_ready, 3000)
    assert service.catch_up(WAIT_S)
    before = service.read_model.summary()
    other_reader = ReadModel(service.db_path)
    reader_process = subprocess.Popen(
        [sys.executable, str(HERE / "view_reader_process.py"), str(service.db_path)],
        stdout=subprocess.PIPE, text=True, env=child_env(),
    )
    process_lines: list[tuple[int, int, str]] = []

    def read_process_lines() -> None:
        assert reader_process.stdout is not None
        for line in reader_process.stdout:
            fields = line.split()
            if len(fields) == 3:  # else a line cut off by the kill at the end
                process_lines.append((int(fields[0]), int(fields[1]), fields[2]))

    observations: list[tuple[int, int, str, bool]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            running = service.rebuild_reason is not None
            for summary, view in ((service.summary(fresh=False), service.view_path.name),
                                  (other_reader.summary(), other_reader.view_path.name)):
                observations.append((rows(summary), summary.events_applied, view, running))
            stop.wait(0.05)

    threads = [threading.Thread(target=read_process_lines, daemon=True), threading.Thread(target=poll, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        assert wait_for(lambda: len(process_lines) > 0)
        polled_during = {}

        def progress(done: int, total: int) -> None:
            # hold the rebuild until both readers have read while it runs
            if not polled_during:
                seen_in_process, seen_elsewhere = len(observations), len(process_lines)
                assert wait_for(lambda: len(observations) > seen_in_process + 2
                                and len(process_lines) > seen_elsewhere + 1)
                polled_during["yes"] = True

        outcome = service.rebuild(progress=progress)
        assert outcome.completed
        assert wait_for(lambda: process_lines[-1][2] == "readmodel-1.db" and observations[-1][2] == "readmodel-1.db")
    finally:
        stop.set()
        reader_process.kill()
        reader_process.wait()
        for thread in threads:
            thread.join(5)
        other_reader.close()

    assert any(running for *_, running in observations)
    for count, applied, *_ in observations + process_lines:
        assert count >= rows(before) and applied >= before.events_applied
    assert {view for *_, view, _ in observations} == {"readmodel.db", "readmodel-1.db"}
    assert {view for *_, view in process_lines} == {"readmodel.db", "readmodel-1.db"}


def test_cancel_at_half_way_leaves_the_view_and_the_files_as_they_were(topic_ready, start_service) -> None:
    data_dir = topic_ready.data_dir
    service = start_service(options=SLOW_SHADOW)
    fill(topic_ready, 3000)
    assert service.catch_up(WAIT_S)
    files_before, rows_before, summary_before = names(data_dir), snapshot(service), service.summary()
    half_way = threading.Event()
    shadow_seen = []

    def progress(done: int, total: int) -> None:
        if done >= total // 2:
            shadow_seen.extend(name for name in names(data_dir) if name.startswith("readmodel-"))
            half_way.set()

    outcome = service.rebuild(progress=progress, cancel=half_way.is_set)

    assert outcome.cancelled and not outcome.completed
    assert outcome.total // 2 <= outcome.done < outcome.total
    assert "readmodel-1.db" in shadow_seen  # the shadow existed, and is gone
    assert names(data_dir) == files_before
    assert service.view_path.name == "readmodel.db"
    assert snapshot(service) == rows_before and service.summary() == summary_before
    assert service.last_rebuild == outcome and service.rebuild_reason is None

    ((partition, offset),) = produce_events(topic_ready, [order("after-cancel", ("Tea", 350, 1))])
    assert service.wait_until_visible(partition, offset, WAIT_S)


def test_a_read_only_service_follows_the_swap_of_the_projecting_one(topic_ready, start_service) -> None:
    projecting = start_service()
    reading = start_service()
    assert (projecting.is_projecting, reading.is_projecting) == (True, False)
    fill(topic_ready, 500)
    assert projecting.catch_up(WAIT_S) and reading.catch_up(WAIT_S)
    before = snapshot(reading)
    changes = []
    reading.add_listener(changes.append)

    assert projecting.rebuild().completed

    assert wait_for(lambda: any(change.reset for change in changes))
    assert reading.view_path.name == "readmodel-1.db" and snapshot(reading) == before
    ((partition, offset),) = produce_events(topic_ready, [order("after-swap", ("Tea", 350, 1))])
    assert reading.wait_until_visible(partition, offset, WAIT_S)
    assert "after-swap" in reading.customers()


def start_rebuild_process(db_path: Path, settings, max_records: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "projector_process.py"), str(db_path), settings.topic, settings.bootstrap_servers,
         str(max_records), "rebuild"],
        stdout=subprocess.PIPE, text=True, env=child_env(),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "projecting"
    assert process.stdout.readline().strip() == "caught-up"
    return process


def test_sigkill_during_a_rebuild_then_a_restart_leaves_a_correct_view_and_no_shadow(
    topic_ready, start_service, tmp_path
) -> None:
    data_dir = tmp_path / "desk"
    data_dir.mkdir()
    fill(topic_ready, 4000)
    process = start_rebuild_process(data_dir / "readmodel.db", topic_ready, max_records=20)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            _, done, total = line.split()
            if int(done) >= int(total) // 3:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
    assert int(done) < int(total)
    assert "readmodel-1.db" in names(data_dir)  # killed with a half-built shadow

    produce_events(topic_ready, [order("after-kill", ("Tea", 350, 2))])
    restarted = start_service(data_dir)

    assert restarted.is_projecting
    assert not [name for name in names(data_dir) if name.startswith("readmodel-")]
    assert "readmodel.current" not in names(data_dir)
    assert restarted.catch_up(WAIT_S)
    fresh_rows, fresh_summary = fresh_replay(start_service, tmp_path / "fresh")
    assert snapshot(restarted) == fresh_rows
    assert restarted.summary() == fresh_summary
    assert restarted.summary().events_applied == 4001


def test_a_new_projection_version_rebuilds_in_the_shadow_at_start(topic_ready, start_service, caplog) -> None:
    first = start_service()
    fill(topic_ready, 1500)
    assert first.catch_up(WAIT_S)
    before = snapshot(first)
    assert first.read_model.projection_version() == schema.PROJECTION_VERSION
    view_path = first.view_path
    first.close()
    # The view on disk was built by the previous projection code: the version bump, seen from the file.
    old_version, new_version = schema.PROJECTION_VERSION - 1, schema.PROJECTION_VERSION
    engine = schema.open_engine(view_path, writer=True)
    schema.store_projection_version(engine, old_version)
    engine.dispose()

    with caplog.at_level(logging.INFO, logger="desktop_app.query"):
        service = start_service(options=SLOW_SHADOW)
        assert snapshot(service) == before  # served at once: the old view, or already the new one
        ((partition, offset),) = produce_events(topic_ready, [order("during-upgrade", ("Tea", 350, 1))])
        outcome = service.wait_for_rebuild(WAIT_S)

    reason = f"projection version changed from {old_version} to {new_version}"
    assert outcome is not None and outcome.completed and outcome.reason == reason
    assert reason in caplog.text
    assert service.rebuild_reason is None
    assert service.read_model.projection_version() == new_version
    assert service.view_path.name == "readmodel-1.db"
    assert service.wait_until_visible(partition, offset, WAIT_S)
    assert service.catch_up(WAIT_S)
    assert [row for row in snapshot(service) if row[0] != "during-upgrade"] == before
    assert [row[:6] for row in snapshot(service) if row[0] == "during-upgrade"] == [
        ("during-upgrade", "Tea", 350, "cheap", 1, 1),
    ]
    service.close()

    again = start_service()
    assert again.is_projecting and again.wait_for_rebuild(0) is None  # the version matches now: no rebuild


@pytest.mark.slow
def test_kills_around_the_swap_leave_one_whole_view_each_time(topic_ready, start_service, tmp_path) -> None:
    """Kill rebuilds just after the replay reached the end, when they pause, swap or delete: at each restart
    exactly one generation is left, and it equals a fresh replay."""
    data_dir = tmp_path / "desk"
    data_dir.mkdir()
    fill(topic_ready, 6000)
    fresh_rows, fresh_summary = fresh_replay(start_service, tmp_path / "fresh")
    jitter = random.Random(6)
    generations_seen = set()
    swap_s = 0.12  # from the end of the replay to "rebuilt": measured below, on this machine's load
    for attempt in range(8):
        process = start_rebuild_process(data_dir / "readmodel.db", topic_ready, max_records=500)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("progress") and line.split()[1] == line.split()[2]:
                    break
            replayed = time.monotonic()
            if attempt % 2:  # around the pause, the swap and the deletion
                time.sleep(jitter.uniform(0, swap_s))
            else:  # just after the swap, while the old generation is being deleted
                assert process.stdout.readline().strip() == "rebuilt"
                swap_s = max(swap_s, time.monotonic() - replayed)
                time.sleep(jitter.uniform(0, 0.02))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
            process.stdout.close()

        restarted = start_service(data_dir)
        view_files = [name for name in names(data_dir) if name.endswith(".db")]
        assert view_files == [restarted.view_path.name]
        generations_seen.add(restarted.view_path.name)
        assert restarted.catch_up(WAIT_S)
        assert snapshot(restarted) == fresh_rows and restarted.summary() == fresh_summary
        restarted.close()
    assert len(generations_seen) > 1  # some kills landed after a swap
