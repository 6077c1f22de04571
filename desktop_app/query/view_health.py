"""Is the read model's file sound? The one place that tells a damaged store from a busy one or bad content.

The read model is a cache of the log: a store error is never a record's fault. A damaged file (SQLite
reports corruption, `PRAGMA quick_check` finds problems, or the file was deleted or replaced under an open
connection) is moved aside and rebuilt from the log by the projecting service (service.py); a busy or
briefly failing store is retried.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DBAPIError

STORE_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, sqlite3.Error)  # the store failed, not a record
CORRUPTION_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # prefixes of sqlite3 error names that mean damage
BUSY_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED")  # another connection holds a lock: retry
QUICK_CHECK_PROBLEMS = 3  # problems quoted from a failed quick_check


class ViewUnavailable(RuntimeError):
    """The view cannot be read now; the message says why in one line (no read model yet, being rebuilt)."""


class DamagedView(ViewUnavailable):
    """A read found the view's file damaged. The projecting process moves it aside and rebuilds it."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"read model {path} is damaged ({reason}); the process that projects it (the desktop "
                         "app, or the next synced order-desk command) moves it aside and rebuilds it from the log")
        self.path = path
        self.reason = reason


class ViewDamaged(RuntimeError):
    """The read model's file is damaged or gone; `reason` says how, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_store_error(exc: BaseException) -> bool:
    return isinstance(exc, STORE_ERRORS)


def _sqlite_error(exc: BaseException) -> sqlite3.Error | None:
    inner = getattr(exc, "orig", exc)
    return inner if isinstance(inner, sqlite3.Error) else None


def is_busy(exc: BaseException) -> bool:
    inner = _sqlite_error(exc)
    name = getattr(inner, "sqlite_errorname", "") or ""
    return name.startswith(BUSY_ERRORS) or "locked" in str(inner or "")


def corruption_of(exc: BaseException) -> str | None:
    """SQLite's own words when `exc` says the file is damaged ("database disk image is malformed"), else None."""
    inner = _sqlite_error(exc)
    if inner is None:
        return None
    name = getattr(inner, "sqlite_errorname", "") or ""
    text = str(inner)
    if name.startswith(CORRUPTION_ERRORS) or "malformed" in text or "not a database" in text:
        return text
    return None


def quick_check(path: Path) -> str | None:
    """None if `PRAGMA quick_check` finds the file sound; else what is wrong, in one line. A store error that
    is not corruption (a full disk, a read-only data dir) is raised: the view cannot be used, but is not
    damaged, and the caller says why in one line."""
    return _check(path, "quick_check", raise_store_errors=True)


def integrity_problem(path: Path) -> str | None:
    """A full `PRAGMA integrity_check` (indexes against tables too), for a store error that says nothing
    clear: None if sound, or if the check itself fails for a reason other than corruption."""
    return _check(path, "integrity_check", raise_store_errors=False)


def _check(path: Path, pragma: str, *, raise_store_errors: bool) -> str | None:
    # Only SQLite's corruption errors are damage: a full disk (SQLITE_IOERR_SHMSIZE, SQLITE_FULL), a
    # read-only data dir or a writer holding a lock say nothing about the file; moving it aside for them
    # threw a sound view away and began a heal that could not finish.
    try:
        connection = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=rw", uri=True, timeout=30)
        try:
            rows = connection.execute(f"PRAGMA {pragma}({QUICK_CHECK_PROBLEMS})").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        corrupt = corruption_of(exc)
        if corrupt is None and raise_store_errors and not is_busy(exc):
            raise
        return corrupt
    problems = [" ".join(str(row[0]).replace("*** in database main ***", "").split())
                for row in rows if str(row[0]) != "ok"]
    return "; ".join(problems) or None


def damage_report(db_path: Path) -> Path:
    """Where a reader that found `db_path` damaged tells the process that projects into it."""
    return Path(db_path).with_name(Path(db_path).name + ".damage-reported")


def reported_damage(db_path: Path) -> str | None:
    try:
        return Path(damage_report(db_path)).read_text(encoding="utf-8").strip() or "reported damaged"
    except FileNotFoundError:
        return None


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a path named when it was opened: a deleted or replaced file gets another identity."""

    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(stat.st_dev, stat.st_ino)


def damage_of(exc: BaseException, path: Path, opened: FileIdentity | None) -> str | None:
    """Why the store error `exc` means the file at `path` (opened as `opened`) is damaged; None when it does
    not (busy, full disk, a passing I/O error): then it is retried."""
    if not is_store_error(exc) or is_busy(exc):
        return None
    if opened is not None and FileIdentity.of(path) != opened:
        return "the file was deleted or replaced"
    corrupt = corruption_of(exc)
    if corrupt is not None:
        return corrupt
    if not Path(path).exists():
        return "the file is missing"
    return integrity_problem(path)
