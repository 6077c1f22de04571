"""Names why the data dir cannot be used (no space, not writable) from a SQLite or OS error: one line."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

LOW_SPACE_BYTES = 1 << 20  # below this, "disk I/O error" from SQLite is taken to mean the disk is full
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}
_SQLITE_STORAGE_WORDS = ("disk is full", "disk i/o error", "readonly database", "unable to open database",
                         "read-only file system", "no space left")


def storage_problem(exc: BaseException, data_dir: Path) -> str | None:
    """One line naming the data dir and the cause, if `exc` is about its files; else None."""
    cause = _storage_cause(exc)
    if cause is None:
        return None
    where = f"the data dir {data_dir}"
    existing = _nearest_existing(data_dir)
    if _read_only_mount(existing):
        return f"cannot write to {where}: it is on a read-only file system"
    if not os.access(existing, os.W_OK | os.X_OK) or cause in ("readonly database", errno.EACCES, errno.EPERM):
        return f"cannot write to {where}: it is not writable (permission denied)"
    free = shutil.disk_usage(existing).free
    if cause in ("disk is full", "no space left", errno.ENOSPC, errno.EDQUOT) or free < LOW_SPACE_BYTES:
        return f"cannot write to {where}: no space left on its disk ({free // 1024:,} kB free)"
    return f"cannot use the files in {where}: {_text(exc)}"


def _storage_cause(exc: BaseException) -> str | int | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _STORAGE_ERRNOS:
            return current.errno
        text = str(current).lower()
        for words in _SQLITE_STORAGE_WORDS:
            if words in text and _is_sqlite_error(current):
                return words
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def _is_sqlite_error(exc: BaseException) -> bool:
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    return isinstance(exc, (sqlite3.Error, DBAPIError))


def _text(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
