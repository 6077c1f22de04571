"""A damaged read-model file is a store error, never bad content: nothing quarantined, offsets stay. Real files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import DatabaseError

from desktop_app.query.projector import Projector
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.view_health import FileIdentity, corruption_of, damage_of, quick_check

from query_unit_helpers import TOPIC, RecordFactory, order


def overwrite_table_root(db_path: Path, table: str) -> None:
    """Overwrite the root page of `table`'s b-tree with garbage, as a bad disk block would."""
    raw = sqlite3.connect(db_path)
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    (root,) = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    with open(db_path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xa5" * page_size)


def raw_rows(db_path: Path, sql: str) -> list[tuple]:
    raw = sqlite3.connect(db_path)
    try:
        return raw.execute(sql).fetchall()
    finally:
        raw.close()


@pytest.fixture
def projected_file(tmp_path: Path) -> tuple[Path, RecordFactory]:
    db_path = tmp_path / "readmodel.db"
    engine = open_engine(db_path, writer=True)
    ensure_schema(engine)
    records = RecordFactory()
    Projector(engine, TOPIC).apply([records.event(order(f"c{i}", ("Tea", 350, 1))) for i in range(20)])
    engine.dispose()
    return db_path, records


def test_a_damaged_table_quarantines_no_valid_event_and_keeps_the_offsets(projected_file) -> None:
    db_path, records = projected_file
    overwrite_table_root(db_path, "applied_events")
    engine = open_engine(db_path, writer=True)
    batch = [records.event(order("dan", ("Rug", 9000, 1))), records.event(order("eve", ("Mug", 400, 2)))]

    with pytest.raises(DatabaseError) as raised:
        Projector(engine, TOPIC).apply(batch)
    engine.dispose()

    assert corruption_of(raised.value) == "database disk image is malformed"
    # the quarantine and offsets tables are intact: had the store error counted as content, they would show it
    assert raw_rows(db_path, "SELECT partition, offset, reason FROM quarantined_records") == []
    assert raw_rows(db_path, "SELECT partition, next_offset FROM partition_offsets") == [(0, 20)]


def test_quick_check_names_damage_and_passes_a_sound_file(projected_file) -> None:
    db_path, _ = projected_file
    assert quick_check(db_path) is None

    overwrite_table_root(db_path, "ordered_items")
    assert quick_check(db_path)


def test_quick_check_finds_a_damaged_index_that_reads_would_silently_miss(projected_file) -> None:
    db_path, _ = projected_file
    overwrite_table_root(db_path, "ix_ordered_items_band_customer_item")
    assert quick_check(db_path)


def test_an_overwritten_header_is_damage(projected_file) -> None:
    db_path, _ = projected_file
    with open(db_path, "r+b") as file:
        file.write(b"\x00" * 100)
    assert quick_check(db_path) == "file is not a database"


def test_a_deleted_file_is_damage_and_a_busy_one_is_not(projected_file) -> None:
    db_path, _ = projected_file
    opened = FileIdentity.of(db_path)
    busy = sqlite3.OperationalError("database is locked")
    assert damage_of(busy, db_path, opened) is None
    assert damage_of(ValueError("content"), db_path, opened) is None

    db_path.unlink()
    assert damage_of(sqlite3.OperationalError("unable to open database file"), db_path, opened) == (
        "the file was deleted or replaced"
    )
