"""cli/storage_errors.py: which errors are about the data dir's files, and the one line that says why."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from sqlalchemy.exc import OperationalError

from desktop_app.cli.storage_errors import storage_problem


def wrapped(message: str) -> OperationalError:
    return OperationalError("INSERT INTO readmodel_meta VALUES (?)", {}, sqlite3.OperationalError(message))


def test_errors_not_about_files_are_left_to_the_caller(tmp_path: Path):
    assert storage_problem(ValueError("disk is full"), tmp_path) is None  # not from SQLite or the OS
    assert storage_problem(OSError(errno.ECONNREFUSED, "refused"), tmp_path) is None


def test_a_full_disk_is_named_with_the_data_dir(tmp_path: Path):
    line = storage_problem(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "desk")
    assert line is not None and line.startswith(f"cannot write to the data dir {tmp_path / 'desk'}: no space left")
    assert "no space left on its disk" in storage_problem(wrapped("database or disk is full"), tmp_path)


def test_a_readonly_database_is_reported_as_not_writable_without_the_sql(tmp_path: Path):
    line = storage_problem(wrapped("attempt to write a readonly database"), tmp_path)
    assert line == f"cannot write to the data dir {tmp_path}: it is not writable (permission denied)"


def test_other_sqlite_file_errors_keep_their_first_line_only(tmp_path: Path):
    line = storage_problem(wrapped("unable to open database file"), tmp_path)
    assert line == f"cannot use the files in the data dir {tmp_path}: unable to open database file"
