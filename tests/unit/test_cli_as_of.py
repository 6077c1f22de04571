"""`--as-of TIME` without a broker: what a time means (local without a zone), and bad times refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from desktop_app.cli.as_of_reading import InvalidMoment, parse_moment

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def order_desk(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_a_time_without_a_zone_is_local_time():
    moment = parse_moment("2026-11-27T18:00", now=NOW)
    assert moment == datetime(2026, 11, 27, 18, 0).astimezone()
    assert moment.tzinfo is not None
    assert parse_moment("2026-11-27 18:00", now=NOW) == moment


def test_a_zone_is_kept():
    assert parse_moment("2026-11-27T18:00Z", now=NOW) == datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)
    assert parse_moment("2026-11-27T19:00+01:00", now=NOW) == datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["yesterday", "27/11/2026 18:00", "2026-11-31T18:00", "2026-11-27T25:00", ""])
def test_a_bad_time_is_refused(text):
    with pytest.raises(InvalidMoment, match="is not a time"):
        parse_moment(text, now=NOW)


def test_the_future_is_refused():
    with pytest.raises(InvalidMoment, match="in the future"):
        parse_moment((NOW + timedelta(minutes=1)).isoformat(), now=NOW)


@pytest.mark.parametrize("command", ["items", "summary"])
def test_a_bad_time_is_one_line_and_exit_2_before_any_broker_is_asked(tmp_path: Path, command: str):
    data_dir = tmp_path / "desk"
    data_dir.mkdir()
    result = order_desk("--data-dir", str(data_dir), command, "--as-of", "27/11/2026 18:00")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "order-desk: --as-of '27/11/2026 18:00' is not a time: write it as 2026-11-27T18:00 (local time) or with a "
        "zone, e.g. 2026-11-27T18:00Z"]
    assert result.stdout == "" and list(data_dir.iterdir()) == []


def test_as_of_with_no_sync_is_refused(tmp_path: Path):
    result = order_desk("--data-dir", str(tmp_path), "items", "--as-of", "2026-11-27T18:00", "--no-sync")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--no-sync" in result.stderr


def test_help_says_a_time_without_a_zone_is_local():
    result = order_desk("items", "--help")
    assert "--as-of TIME" in result.stdout and "without a zone is local" in " ".join(result.stdout.split())
