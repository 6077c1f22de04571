"""as_of_files: the names of views as of a moment, and which leftovers a start-up removes (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from desktop_app.query import as_of_files


def test_an_as_of_file_names_its_owner_and_its_companions_do_too():
    assert as_of_files.owner_of("asof-4242-7.db") == 4242
    for companion in ("-wal", "-shm", "-journal"):
        assert as_of_files.owner_of(f"asof-4242-7.db{companion}") == 4242
    for other in ("readmodel.db", "readmodel-2.db", "asof-4242.db", "asof-0-1.db", "asof-12-0.db", "asof-1-2.dbx",
                  "asof-x-1.db", "xasof-1-2.db", "asof-1-2.db-wal.bak", "command.db"):
        assert as_of_files.owner_of(other) is None, other


def test_new_paths_are_this_process_s_and_never_reuse_a_file_on_disk(tmp_path):
    first = as_of_files.new_path(tmp_path)
    assert first.parent == tmp_path and as_of_files.owner_of(first.name) == os.getpid()
    first.write_bytes(b"")
    taken_wal = as_of_files.new_path(tmp_path)
    taken_wal.with_name(taken_wal.name + "-wal").write_bytes(b"")  # only a companion left: still taken
    later = as_of_files.new_path(tmp_path)
    assert len({first, taken_wal, later}) == 3


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not psutil.pid_exists(child.pid) or psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    return child.pid


def test_a_start_up_removes_the_files_of_dead_owners_only(tmp_path):
    dead = _dead_pid()
    dead_files = [tmp_path / f"asof-{dead}-1.db{companion}" for companion in ("", "-wal", "-shm")]
    mine = as_of_files.new_path(tmp_path)
    others = [tmp_path / "readmodel.db", tmp_path / "readmodel-3.db", tmp_path / "command.db"]
    for path in (*dead_files, mine, *others):
        path.write_bytes(b"x")

    removed = as_of_files.remove_leftovers(tmp_path)

    assert sorted(removed) == sorted(dead_files)
    assert not any(path.exists() for path in dead_files)
    assert mine.exists() and all(path.exists() for path in others)


def test_a_file_older_than_the_live_process_with_its_pid_is_a_leftover_of_an_earlier_one(tmp_path):
    """A reused process id: the running process started after the file was last written, so it is not its owner."""
    mine = as_of_files.new_path(tmp_path)
    mine.write_bytes(b"x")
    started = psutil.Process(os.getpid()).create_time()
    os.utime(mine, (started - 3600, started - 3600))
    assert as_of_files.remove_leftovers(tmp_path) == [mine]
    assert not mine.exists()


def test_a_file_written_while_its_owner_runs_is_kept(tmp_path):
    mine = as_of_files.new_path(tmp_path)
    mine.write_bytes(b"x")
    assert as_of_files.owner_alive(os.getpid(), time.time())
    assert as_of_files.remove_leftovers(tmp_path) == [] and mine.exists()


def test_no_data_dir_yet_is_nothing_to_remove(tmp_path):
    assert as_of_files.remove_leftovers(tmp_path / "missing") == []


def test_remove_deletes_a_view_and_its_companions(tmp_path):
    path = as_of_files.new_path(tmp_path)
    for companion in ("", "-wal", "-shm"):
        path.with_name(path.name + companion).write_bytes(b"x")
    assert as_of_files.remove(path) == []
    assert list(tmp_path.iterdir()) == []
