"""Merging partition groups' read models (shard_merge) equals projecting every record into one file."""

from __future__ import annotations

import queue
import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from desktop_app.query import as_of_files, shard_merge
from desktop_app.query.partition_replay import forward_reports, plan_groups
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import READ_MODEL_TABLES, ensure_shadow_schema, open_engine
from desktop_app.query.view_files import ViewFiles, part_path
from desktop_app.query.views import ReadModel
from support.order_stream import cancel_event

from query_unit_helpers import RecordFactory, TOPIC, order

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
PARTITIONS = 4


def a_log(rng: random.Random) -> list[Record]:
    """Orders of 30 customers on 4 partitions (a customer on one partition, a few also on a second one),
    some cancelled, some re-sent, one event id reused with other content, a malformed record."""
    records = RecordFactory()
    out: list[Record] = []
    placed: list[tuple[object, int]] = []
    for n in range(400):
        customer = f"c{rng.randrange(30)}"
        partition = int(customer[1:]) % PARTITIONS
        if n % 7 == 0:
            partition = (partition + 1) % PARTITIONS  # a customer whose events sit on two partitions
        event = order(customer, (f"item{rng.randrange(12)}", rng.choice([120, 499, 500, 5000, 5001, 9999]),
                                 rng.randrange(1, 5)), at=T0 + timedelta(minutes=n))
        out.append(records.event(event, partition))
        placed.append((event, partition))
        if n % 11 == 0:
            out.append(records.event(event, partition))  # a re-send on its partition
        if n % 5 == 0:
            victim, where = placed[rng.randrange(len(placed))]
            out.append(records.event(cancel_event(victim, at=T0 + timedelta(minutes=n, seconds=30)), where))
    first, where = placed[3]
    reused = msgspec.structs.replace(order("c99", ("Pen", 120, 1), at=T0), event_id=first.event_id)
    out.append(records.event(reused, where))  # same partition: both copies are in one group
    out.append(records.raw(b"{not json", partition=2))
    return out


def project(path: Path, records: list[Record]) -> None:
    engine = open_engine(path, writer=True)
    try:
        ensure_shadow_schema(engine)
        projector = Projector(engine, TOPIC)
        for start in range(0, len(records), 97):
            projector.apply(records[start:start + 97])
    finally:
        engine.dispose()


def contents(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows (orders without their rowid, quarantine without its wall-clock time), sorted."""
    connection = sqlite3.connect(path)
    try:
        found = {}
        for table in READ_MODEL_TABLES:
            columns = [c.name for c in table.columns if c.name not in ("seq", "quarantined_at")]
            names = ", ".join(f'"{c}"' for c in columns)
            found[table.name] = sorted(connection.execute(f"SELECT {names} FROM {table.name}").fetchall(),
                                       key=repr)
        return found
    finally:
        connection.close()


def test_groups_merged_equal_one_file_of_every_record(tmp_path: Path) -> None:
    log = a_log(random.Random(7))
    project(tmp_path / "whole.db", log)
    groups = plan_groups({p: sum(r.partition == p for r in log) for p in range(PARTITIONS)}, 2)
    assert sorted(p for group in groups for p in group) == list(range(PARTITIONS)) and len(groups) == 2
    target = tmp_path / "merged.db"
    for index, group in enumerate(groups):
        project(part_path(target, index), [r for r in log if r.partition in group])

    assert shard_merge.merge_into(target, [part_path(target, 1)])

    merged, whole = contents(target), contents(tmp_path / "whole.db")
    assert merged == whole
    assert merged["ordered_items"] and merged["quarantined_records"] and merged["event_copies"]
    connection = sqlite3.connect(target)
    statuses = dict(connection.execute("SELECT status, count(*) FROM orders GROUP BY status").fetchall())
    connection.close()
    assert statuses.get("placed") and statuses.get("cancelled")
    read = ReadModel(target)
    try:
        assert read.items() == ReadModel(tmp_path / "whole.db").items()
    finally:
        read.close()


def test_two_groups_counting_one_event_id_leave_the_target_unchanged(tmp_path: Path) -> None:
    records = RecordFactory()
    first = order("alice", ("Tea", 350, 2), at=T0)
    other = msgspec.structs.replace(order("bob", ("Pen", 120, 1), at=T0), event_id=first.event_id)
    target = tmp_path / "merged.db"
    project(target, [records.event(first, 0)])
    project(part_path(target, 1), [records.event(other, 1)])
    before = contents(target)

    assert not shard_merge.merge_into(target, [part_path(target, 1)])

    assert contents(target) == before


def test_a_table_without_a_merge_rule_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(shard_merge.RULES, "orders")
    with pytest.raises(shard_merge.MergeError, match="orders"):
        shard_merge.merge_into(tmp_path / "x.db", [])


def test_every_table_of_the_read_model_has_a_merge_rule() -> None:
    assert {table.name for table in READ_MODEL_TABLES} == set(shard_merge.RULES)


def test_groups_are_balanced_by_records_and_skip_empty_partitions() -> None:
    assert plan_groups({0: 10, 1: 10, 2: 10, 3: 10, 4: 0}, 2) == [[0, 2], [1, 3]]
    assert plan_groups({0: 100, 1: 10, 2: 10, 3: 10}, 2) == [[0], [1, 2, 3]]
    assert plan_groups({0: 5, 1: 0}, 2) == [[0]]
    assert plan_groups({0: 5, 1: 5}, 8) == [[0], [1]]
    assert plan_groups({}, 2) == []


def test_partition_group_files_belong_to_their_generation(tmp_path: Path) -> None:
    files = ViewFiles(tmp_path / "readmodel.db")
    shadow = files.generation_path(3)
    for name in (shadow.name, shadow.name + ".part1", shadow.name + ".part1-wal", shadow.name + ".part12-shm"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "readmodel.db.partial").write_bytes(b"not ours")

    assert files.generations_on_disk() == {3}
    removed = {path.name for path in files.remove_orphans()}

    assert removed == {"readmodel-3.db", "readmodel-3.db.part1", "readmodel-3.db.part1-wal", "readmodel-3.db.part12-shm"}
    assert (tmp_path / "readmodel.db.partial").exists()


def test_partition_group_files_of_a_view_as_of_a_moment_are_its_files(tmp_path: Path) -> None:
    view = tmp_path / "asof-123-4.db"
    names = [view.name, view.name + "-wal", view.name + ".part1", view.name + ".part1-shm"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")

    assert {as_of_files.owner_of(name) for name in names} == {123}
    assert as_of_files.owner_of("asof-123-4.db.partx") is None
    assert as_of_files.remove(view) == []
    assert list(tmp_path.iterdir()) == []


def test_a_group_s_stray_output_is_skipped_and_its_end_always_reported() -> None:
    reports: queue.Queue = queue.Queue()
    lines = [b'{"done": 20000}\n', b"some library printed this\n", b"[1, 2]\n", b'{"end": "completed"}\n']

    forward_reports(1, lines, lambda: 0, reports)

    assert [reports.get_nowait() for _ in range(reports.qsize())] == [
        (1, {"done": 20000}), (1, {"end": "completed"}), (1, {"error": "its process ended (exit code 0)"}),
    ]
