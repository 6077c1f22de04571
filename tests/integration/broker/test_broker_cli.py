"""`order-desk broker start|status|stop` against a real embedded broker in its own data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest


def order_desk(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def status(data_dir: Path, env: dict[str, str] | None = None) -> dict:
    """The JSON report; the exit code says the same: 0 running, 3 not running (issue 11, point 12)."""
    result = order_desk("--data-dir", str(data_dir), "broker", "status", "--json", env=env)
    report = json.loads(result.stdout)
    assert result.returncode == (0 if report["running"] else 3), result.stderr
    return report


def test_start_status_stop_leaves_no_process(isolated_data_dir: Path):
    started = order_desk("--data-dir", str(isolated_data_dir), "broker", "start")
    assert started.returncode == 0, started.stderr
    pid = int((isolated_data_dir / "kafka" / "broker.pid").read_text())
    assert "kafka.Kafka" in psutil.Process(pid).cmdline()
    try:
        report = status(isolated_data_dir)
        assert report["running"] is True and report["embedded"] is True
        assert report["retention_ms"] == -1 and report["partitions"] == 6
        assert report["topic"] == "orders.events"
        assert report["bootstrap_servers"].startswith("127.0.0.1:")

        again = order_desk("--data-dir", str(isolated_data_dir), "broker", "start")
        assert again.returncode == 0
        assert int((isolated_data_dir / "kafka" / "broker.pid").read_text()) == pid  # reused, not a second JVM
    finally:
        stopped = order_desk("--data-dir", str(isolated_data_dir), "broker", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert status(isolated_data_dir)["running"] is False


def test_stale_pid_file_is_detected_and_removed(isolated_data_dir: Path):
    kafka_dir = isolated_data_dir / "kafka"
    kafka_dir.mkdir(parents=True)
    (kafka_dir / "broker.json").write_text(json.dumps({"port": 1, "controller_port": 2, "cluster_id": "x"}))
    (kafka_dir / "broker.pid").write_text(str(os.getpid()))  # alive, but not a Kafka broker
    assert status(isolated_data_dir)["running"] is False
    assert not (kafka_dir / "broker.pid").exists()


def test_external_cluster_setting_starts_no_broker(isolated_data_dir: Path, running_broker):
    env = {"ORDER_DESK_BOOTSTRAP_SERVERS": running_broker.bootstrap_servers, "ORDER_DESK_TOPIC": "external-check"}
    started = order_desk("--data-dir", str(isolated_data_dir), "broker", "start", env=env)
    assert started.returncode == 0, started.stderr
    assert "external cluster" in started.stdout
    assert not (isolated_data_dir / "kafka").exists()
    report = status(isolated_data_dir, env=env)
    assert report == report | {"running": True, "embedded": False, "retention_ms": -1,
                               "bootstrap_servers": running_broker.bootstrap_servers}


def test_unreachable_external_cluster_is_reported(isolated_data_dir: Path):
    env = {"ORDER_DESK_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    report = status(isolated_data_dir, env=env)
    assert report["running"] is False and report["embedded"] is False
    started = order_desk("--data-dir", str(isolated_data_dir), "broker", "start", env=env, timeout=120)
    assert started.returncode == 3
    assert started.stderr.strip().startswith("order-desk:")


@pytest.mark.parametrize("args", [["--help"], ["broker", "--help"]])
def test_help_explains_commands(args):
    result = order_desk(*args)
    assert result.returncode == 0
    assert "broker" in result.stdout


def test_status_of_a_data_dir_without_a_broker_exits_3_and_creates_nothing(tmp_path: Path):
    data_dir = tmp_path / "never-used"
    result = order_desk("--data-dir", str(data_dir), "broker", "status")
    assert result.returncode == 3
    assert "not running" in result.stdout
    assert not data_dir.exists()
    assert "3 not running" in order_desk("broker", "status", "--help").stdout
