"""Reads on a full disk or a read-only data dir: one line naming the data dir and the cause (issue 12, point 7).

Before: about 150 lines of "--- Logging error ---" tracebacks and "(sqlite3.OperationalError) disk I/O
error", or "attempt to write a readonly database [SQL: INSERT INTO readmodel_meta…]".
A small tmpfs gives a real full disk and a real read-only file system; mounting needs root, so these
tests skip where it is not permitted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.settings import Settings

WAIT_S = 120


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def order_desk(settings: Settings, data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", "--data-dir", str(data_dir), "--bootstrap-servers",
         settings.bootstrap_servers, "--topic", settings.topic, *argv],
        capture_output=True, text=True, timeout=WAIT_S,
    )


def desk_with_an_order(settings: Settings, disk: Path) -> Path:
    data_dir = disk / "desk"
    placed = order_desk(settings, data_dir, "place", "--customer", "ed", "--item", "Pen", "--price", "1", "--wait")
    assert placed.returncode == 0, placed.stderr
    return data_dir


def fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    os.sync()


def assert_one_line_about(stderr: str, data_dir: Path, cause: str) -> None:
    assert "Logging error" not in stderr and "Traceback" not in stderr, stderr
    assert "[SQL:" not in stderr and "sqlite3.OperationalError" not in stderr, stderr
    lines = stderr.strip().splitlines()
    # at most one more line: the log file's own notice, said once
    assert len(lines) <= 2, stderr
    assert lines[-1].startswith(f"order-desk: cannot write to the data dir {data_dir}: {cause}"), stderr
    assert all("log file" in line for line in lines[:-1]), stderr


def test_summary_on_a_full_disk_says_the_disk_is_full(topic_ready: Settings, small_disk: Path):
    data_dir = desk_with_an_order(topic_ready, small_disk)
    (data_dir / "logs").mkdir(exist_ok=True)
    fill(small_disk)

    summary = order_desk(topic_ready, data_dir, "summary")

    assert summary.returncode == 1
    assert_one_line_about(summary.stderr, data_dir, "no space left on its disk")

    (small_disk / "filler").unlink()  # space is back: it works again
    again = order_desk(topic_ready, data_dir, "summary", "--json")
    assert again.returncode == 0, again.stderr


def test_reads_in_a_read_only_data_dir_say_it_is_not_writable(topic_ready: Settings, small_disk: Path):
    data_dir = desk_with_an_order(topic_ready, small_disk)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)

    for command in ("summary", "items"):
        result = order_desk(topic_ready, data_dir, command)
        assert result.returncode == 1
        assert_one_line_about(result.stderr, data_dir, "it is on a read-only file system")


def test_a_full_disk_is_not_damage_the_view_stays_and_rebuild_ends(topic_ready: Settings, small_disk: Path):
    # SQLite answers quick_check on a full disk with "disk I/O error" (SQLITE_IOERR_SHMSIZE): taking that for
    # damage moved a sound view aside, left a half-written healing note, and `rebuild` retried for ever
    data_dir = desk_with_an_order(topic_ready, small_disk)
    (data_dir / "logs").mkdir(exist_ok=True)
    fill(small_disk)

    for command in ("summary", "items", "rebuild"):
        result = order_desk(topic_ready, data_dir, command)
        assert result.returncode == 1, (command, result.stderr)
        assert_one_line_about(result.stderr, data_dir, "no space left on its disk")
        left = sorted(path.name for path in data_dir.iterdir())
        assert not [name for name in left if "damaged" in name or "healing" in name], (command, left)
        assert (data_dir / "readmodel.db").exists(), (command, left)

    (small_disk / "filler").unlink()
    again = order_desk(topic_ready, data_dir, "items", "--json")
    assert again.returncode == 0, again.stderr
    assert "rebuilding" not in again.stderr and '"customer_id": "ed"' in again.stdout, again
