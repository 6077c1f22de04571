"""Generations of the read model and the pointer to the current one; readers switching generations."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from desktop_app.query.projector import Projector
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.view_files import ViewFiles, ViewFilesError
from desktop_app.query.view_health import ViewUnavailable
from desktop_app.query.views import ReadModel

from query_unit_helpers import TOPIC, RecordFactory, order


def project(path: Path, *customers: str) -> None:
    """A read model file at `path` holding one order of each customer."""
    engine = open_engine(path, writer=True)
    try:
        ensure_schema(engine)
        records = RecordFactory()
        Projector(engine, TOPIC).apply([records.event(order(c, ("Tea", 350, 1))) for c in customers])
    finally:
        engine.dispose()


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_generation_paths_and_names(tmp_path) -> None:
    files = ViewFiles(tmp_path / "readmodel.db")
    assert files.pointer == tmp_path / "readmodel.current"
    assert [files.generation_path(n).name for n in (0, 1, 12)] == ["readmodel.db", "readmodel-1.db", "readmodel-12.db"]
    assert [files.generation_of(name) for name in ("readmodel.db", "readmodel-7.db", "readmodel-07.db",
                                                  "readmodel-0.db", "readmodel.db.lock", "other-1.db")] == [
        0, 7, None, None, None, None,
    ]


def test_no_pointer_means_generation_zero_and_pointing_is_atomic_replacement(tmp_path) -> None:
    files = ViewFiles(tmp_path / "readmodel.db")
    assert (files.current_generation(), files.current_path(), files.pointer_state()) == (0, files.base, None)

    files.point_to(3)
    first = files.pointer_state()
    assert files.current_path() == tmp_path / "readmodel-3.db"
    files.point_to(4)

    assert files.current_generation() == 4
    assert files.pointer_state() != first
    assert names(tmp_path) == ["readmodel.current"]  # no draft left behind


def test_a_pointer_naming_something_else_is_an_error(tmp_path) -> None:
    files = ViewFiles(tmp_path / "readmodel.db")
    files.pointer.write_text("../elsewhere.db\n")
    with pytest.raises(ViewFilesError):
        files.current_path()


def test_next_generation_is_above_every_file_on_disk(tmp_path) -> None:
    files = ViewFiles(tmp_path / "readmodel.db")
    assert files.next_generation() == 1
    (tmp_path / "readmodel-5.db-wal").write_bytes(b"")  # a companion left without its database
    assert files.next_generation() == 6
    files.point_to(9)
    assert files.next_generation() == 10


def test_remove_orphans_keeps_only_the_current_generation_and_the_lock(tmp_path) -> None:
    files = ViewFiles(tmp_path / "readmodel.db")
    for name in ("readmodel.db", "readmodel.db-wal", "readmodel.db-shm", "readmodel.db.lock",
                 "readmodel-1.db", "readmodel-1.db-wal", "readmodel-2.db", "readmodel-3.db-journal",
                 "readmodel.current.tmp-123-abcd", "command.db"):
        (tmp_path / name).write_bytes(b"x")
    files.point_to(2)

    removed = files.remove_orphans()

    assert names(tmp_path) == ["command.db", "readmodel-2.db", "readmodel.current", "readmodel.db.lock"]
    assert len(removed) == 7
    with pytest.raises(ValueError, match="current"):
        files.remove_generation(2)


def test_open_engine_without_create_never_makes_an_empty_file(tmp_path) -> None:
    engine = open_engine(tmp_path / "a folder with spaces %" / "missing.db", create=False)
    with pytest.raises(OperationalError):
        engine.connect()
    engine.dispose()
    assert not (tmp_path / "a folder with spaces %").exists()


def test_read_model_follows_the_pointer_at_its_next_read(tmp_path) -> None:
    base = tmp_path / "readmodel.db"
    project(base, "old")
    model = ReadModel(base)
    other_process_view = ReadModel(base)  # another reader with its own engine
    assert model.customers() == other_process_view.customers() == ["old"]

    project(tmp_path / "readmodel-1.db", "new", "newer")
    ViewFiles(base).point_to(1)

    assert model.customers() == other_process_view.customers() == ["new", "newer"]
    assert model.view_path == tmp_path / "readmodel-1.db"
    model.close()
    other_process_view.close()


def test_a_read_running_on_the_old_generation_finishes_there(tmp_path) -> None:
    base = tmp_path / "readmodel.db"
    project(base, "old")
    project(tmp_path / "readmodel-1.db", "new")
    model = ReadModel(base)
    inside_read, swapped = threading.Event(), threading.Event()
    seen = []

    def slow_read(session) -> list[str]:
        from sqlmodel import select

        from desktop_app.query.schema import OrderedItem

        first = list(session.exec(select(OrderedItem.customer_id)))
        inside_read.set()
        swapped.wait(5)
        return first + list(session.exec(select(OrderedItem.customer_id)))  # same snapshot, same file

    reader = threading.Thread(target=lambda: seen.append(model._read(slow_read)))
    reader.start()
    assert inside_read.wait(5)
    ViewFiles(base).point_to(1)
    assert model.customers() == ["new"]  # the next read switches, and disposes the old engine
    if os.name != "nt":  # POSIX: the rebuild deletes the old generation at once; open files read on
        ViewFiles(base).remove_generation(0)
    swapped.set()
    reader.join(5)

    assert seen == [["old", "old"]]
    model.close()


def test_a_read_sent_to_a_generation_deleted_meanwhile_follows_the_pointer_again(tmp_path) -> None:
    base = tmp_path / "readmodel.db"
    project(base, "zero")
    model = ReadModel(base)
    files = ViewFiles(base)
    project(tmp_path / "readmodel-1.db", "one")
    project(tmp_path / "readmodel-2.db", "two")
    files.point_to(1)
    (tmp_path / "readmodel-1.db").unlink()  # swapped again and deleted before this reader got to it
    files.point_to(2)

    assert model.customers() == ["two"]
    model.close()


def test_a_pointer_to_a_missing_file_fails_reads_rather_than_showing_an_empty_view(tmp_path) -> None:
    base = tmp_path / "readmodel.db"
    project(base, "zero")
    model = ReadModel(base)
    ViewFiles(base).point_to(5)

    with pytest.raises(ViewUnavailable, match="no read model at .*readmodel-5.db"):
        model.customers()
    assert not (tmp_path / "readmodel-5.db").exists()
    model.close()
