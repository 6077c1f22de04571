"""bench.apply_offline: the profile's events keyed to partitions as Kafka would, applied without a broker."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aiokafka.partitioner import murmur2

from bench import apply_offline
from bench.kafka_io import PARTITIONS


def test_records_are_in_partition_order_as_kafkas_default_partitioner_keys_them() -> None:
    records = apply_offline.records(300, cancel_share=0.05)
    assert len(records) == 300
    for partition in range(PARTITIONS):
        mine = [record for record in records if record.partition == partition]
        assert [record.offset for record in mine] == list(range(len(mine)))
        assert all((murmur2(record.key) & 0x7FFFFFFF) % PARTITIONS == partition for record in mine)


def test_a_run_applies_every_record_and_reports_each_stage(tmp_path: Path) -> None:
    records = apply_offline.records(300, cancel_share=0.05)
    outcome = apply_offline.run(records, tmp_path / "view.db", max_records=100)
    assert set(outcome["stages"]) == {"decode", "plan", "write", "commit", "apply"}
    assert outcome["sql"]["insert orders"] > 0
    with sqlite3.connect(tmp_path / "view.db") as connection:
        assert connection.execute("SELECT count(*) FROM applied_events").fetchone() == (300,)
        assert connection.execute("SELECT sum(next_offset) FROM partition_offsets").fetchone() == (300,)
