"""The temporary files of views as of a moment: their names, and removing the ones nobody owns any more.

A view as of a moment lives in `asof-<pid>-<n>.db` beside the live view (the data dir): `<pid>` is the process
that built it, `<n>` counts its views. The file is deleted when the view is closed, or when its build is
cancelled or fails. A process that is killed cannot delete its files, so every start-up (QueryService.start,
and each new as-of build) removes the files whose owner is no longer alive. A process id can be reused: a
process started after the file was last written cannot be the one that wrote it, so it does not keep it.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import threading
from pathlib import Path

import psutil

from desktop_app.query.view_files import SQLITE_COMPANIONS, remove_database, without_part

log = logging.getLogger(__name__)

PREFIX = "asof-"
SUFFIX = ".db"
NAME = re.compile(re.escape(PREFIX) + r"([1-9][0-9]*)-([1-9][0-9]*)" + re.escape(SUFFIX))
CREATE_TIME_SLACK_S = 1.0  # process start times are rounded (clock ticks); files are written well after

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def owner_of(name: str) -> int | None:
    """The process id in an as-of file's name (its companions -wal, -shm, -journal included), or None when
    the name is not one of an as-of view's files."""
    for companion in SQLITE_COMPANIONS:
        if companion and not name.endswith(companion):
            continue
        match = NAME.fullmatch(without_part(name[: len(name) - len(companion)]))
        if match:
            return int(match.group(1))
    return None


def new_path(data_dir: Path) -> Path:
    """A file name for a new as-of view of this process, not used by any file in `data_dir`."""
    while True:
        with _counter_lock:
            number = next(_counter)
        path = Path(data_dir) / f"{PREFIX}{os.getpid()}-{number}{SUFFIX}"
        if not any(Path(f"{path}{companion}").exists() for companion in SQLITE_COMPANIONS):
            return path


def remove(path: Path) -> list[Path]:
    """Delete an as-of view's file, its partition groups' files and their companions; those that could not be
    deleted are returned."""
    return remove_database(Path(path))


def owner_alive(pid: int, written_at: float) -> bool:
    """True while the process `pid` runs and started before the file was last written (`written_at`, epoch s)."""
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True  # it runs (someone else's process): leave its file alone
    return started <= written_at + CREATE_TIME_SLACK_S


def remove_leftovers(data_dir: Path) -> list[Path]:
    """Delete the as-of files in `data_dir` whose owner is no longer alive (killed mid-build, or crashed with
    a view open); the files deleted."""
    folder = Path(data_dir)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        pid = owner_of(entry.name)
        if pid is None:
            continue
        try:
            written_at = entry.stat().st_mtime
        except FileNotFoundError:
            continue  # its owner closed it meanwhile
        if owner_alive(pid, written_at):
            continue
        try:
            entry.unlink()
            removed.append(entry)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not delete the leftover view %s: %s", entry, exc)
    if removed:
        log.info("deleted leftovers of views as of a moment: %s", ", ".join(path.name for path in removed))
    return removed
