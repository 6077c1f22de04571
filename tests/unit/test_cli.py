"""The command line without a broker: help, refused input, settings errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def order_desk(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_invalid_order_exits_2_lists_every_problem_and_creates_nothing(tmp_path: Path):
    data_dir = tmp_path / "desk"
    result = order_desk("--data-dir", str(data_dir), "place", "--customer", " ", "--item", "Tea",
                        "--price", "4.999", "--qty", "0")
    assert result.returncode == 2
    problems = result.stderr.strip().splitlines()
    assert len(problems) == 3, result.stderr
    assert any("Customer" in line for line in problems)
    assert any("Line 1 price" in line and "decimal places" in line for line in problems)
    assert any("Line 1 quantity" in line for line in problems)
    assert result.stdout == ""
    assert not data_dir.exists()


def test_invalid_setting_is_reported_with_exit_2(tmp_path: Path):
    result = order_desk("--data-dir", str(tmp_path), "broker", "status", ORDER_DESK_PARTITIONS="0")
    assert result.returncode == 2
    assert "partitions" in result.stderr


def test_help_lists_every_command():
    result = order_desk("--help")
    assert result.returncode == 0
    for command in ("gui", "broker", "place", "items", "summary", "rebuild", "orders", "order", "ignored"):
        assert command in result.stdout
    assert "ORDER_DESK_BOOTSTRAP_SERVERS" in result.stdout


def test_read_commands_refuse_a_data_dir_that_does_not_exist(tmp_path: Path):
    missing = tmp_path / "typo"
    for command in ("summary", "items", "orders", "ignored"):
        result = order_desk("--data-dir", str(missing), command)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (f"order-desk: the data dir {missing} does not exist (check --data-dir; "
                                         "places and the window create it)")
        assert result.stdout == ""
    assert not missing.exists()


def test_help_documents_every_exit_code():
    main_help = " ".join(order_desk("--help").stdout.split())
    assert "4 order accepted but not confirmed visible" in main_help
    place_help = order_desk("place", "--help").stdout
    for code in ("0  accepted", "2  invalid input", "3  --wait: accepted, but not published",
                 "4  --wait: accepted (and maybe published), but not confirmed visible", "1  any other failure"):
        assert code in place_help
