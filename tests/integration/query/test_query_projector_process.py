"""The projector in a child process (ProjectorOptions(isolation="process")) against the real broker."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from desktop_app.query.bands import Band
from desktop_app.query.process_runner import ProjectorProcess
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.runner import ViewChange

from query_live_helpers import WAIT_S, order, produce_events, snapshot

IN_A_CHILD = ProjectorOptions(isolation="process")
HERE = Path(__file__).parent


def test_a_child_process_projects_and_reports_each_batch(topic_ready, start_service, caplog) -> None:
    caplog.set_level(logging.INFO, logger="desktop_app")
    changes: list[ViewChange] = []
    service = start_service(options=IN_A_CHILD)
    service.add_listener(changes.append)
    runner = service._runner
    assert isinstance(runner, ProjectorProcess) and runner.pid not in (None, os.getpid())

    sent = produce_events(topic_ready, [order("alice", ("Tea", 350, 2)), order("bob", ("Sofa", 5001, 1))])
    assert service.catch_up(WAIT_S)

    assert [row[:6] for row in snapshot(service)] == [
        ("alice", "Tea", 350, "cheap", 2, 1),
        ("bob", "Sofa", 5001, "expensive", 1, 1),
    ]
    assert {key for change in changes for key in change.keys} == {("alice", Band.CHEAP), ("bob", Band.EXPENSIVE)}
    assert sum(change.applied for change in changes) == 2
    ends = runner.end_offsets(WAIT_S)  # asked through the child's consumer
    assert ends == {p: max((o + 1 for q, o in sent if q == p), default=0) for p in range(topic_ready.partitions)}
    assert service.lag(fresh=False).total == 0  # from the high-water marks the child reports
    # the child's log lines are logged here too
    assert any(r.name == "desktop_app.query.consumer" and "projecting" in r.getMessage() for r in caplog.records)


def test_a_killed_projector_process_is_restarted_and_counts_nothing_twice(topic_ready, start_service) -> None:
    service = start_service(options=IN_A_CHILD)
    runner = service._runner
    assert isinstance(runner, ProjectorProcess)
    first = [order(f"c{i % 5}", ("Mug", 650, 1)) for i in range(200)]
    produce_events(topic_ready, first)
    assert service.catch_up(WAIT_S)
    killed, batches_before = runner.pid, runner.batches
    os.kill(killed, signal.SIGKILL)

    produce_events(topic_ready, [order(f"c{i % 5}", ("Mug", 650, 1)) for i in range(100)])
    assert service.catch_up(WAIT_S)

    assert runner.restarts == 1 and runner.pid != killed
    assert runner.batches > batches_before > 0  # counted across the restart
    assert service.summary().events_applied == 300
    assert sum(row[4] for row in snapshot(service)) == 300  # quantities: each order counted once


def test_stopping_from_a_listener_does_not_hang(topic_ready, start_service) -> None:
    service = start_service(options=IN_A_CHILD)
    runner = service._runner
    assert isinstance(runner, ProjectorProcess)
    stopped = threading.Event()

    def stop_on_first_batch(_change: ViewChange) -> None:
        runner.stop()  # on the pipe's reader thread, as a listener might
        stopped.set()

    service.add_listener(stop_on_first_batch)
    produce_events(topic_ready, [order("dan", ("Pen", 120, 1))])
    assert stopped.wait(WAIT_S)
    psutil.Process(runner.pid).wait(WAIT_S)
    assert not runner.running


def test_the_projector_process_ends_with_its_parent(topic_ready) -> None:
    parent = subprocess.Popen(
        [sys.executable, str(HERE / "projector_process.py"), str(topic_ready.data_dir / "readmodel.db"),
         topic_ready.topic, topic_ready.bootstrap_servers, "100", "in-child"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert parent.stdout.readline().strip() == "projecting"
        child_pid = int(parent.stdout.readline().split()[-1])  # "child PID"
        child = psutil.Process(child_pid)
        assert child.ppid() == parent.pid
        parent.kill()
        parent.wait(WAIT_S)
        child.wait(WAIT_S)  # psutil.TimeoutExpired if it outlives its parent
    finally:
        if parent.poll() is None:
            parent.kill()
