"""Merge read-model files of disjoint partition groups into one (partition_replay.py builds them).

Every table has a rule here (a table without one is refused, so a new table cannot be merged wrongly by
default): rows of one group are copied as they are, except `ordered_items`, where a customer whose events
sit on partitions of two groups has a row in each (their sums add up; first and last order times are the
min and max), and `orders`, whose `seq` is the target's own rowid. The files must not both count an event
id: then the merge changes nothing and says so (the copy that counts depends on the other group's copy).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from desktop_app.query.schema import READ_MODEL_TABLES, WRITER_CACHE_KIB

COPY = "copy"  # the rows as they are (keys never overlap between groups once applied_events does not)
SUM_ITEMS = "sum ordered_items"
COPY_ORDERS = "copy orders"  # every column but the rowid `seq`, in the group's order
KEEP = "keep"  # the target's own rows (what the read model says of itself)

RULES = {
    "ordered_items": SUM_ITEMS,
    "applied_events": COPY,
    "event_copies": COPY,
    "orders": COPY_ORDERS,
    "ignored_events": COPY,
    "partition_offsets": COPY,
    "quarantined_records": COPY,
    "readmodel_meta": KEEP,
}


class MergeError(RuntimeError):
    pass


def merge_into(target: Path, parts: Sequence[Path]) -> bool:
    """Add the rows of every file in `parts` to `target`, in one transaction. False, and nothing changed,
    if two of the files counted the same event id."""
    missing = [table.name for table in READ_MODEL_TABLES if table.name not in RULES]
    if missing:
        raise MergeError(f"no merge rule for the read model's table(s) {', '.join(missing)}")
    if not parts:
        return True
    connection = sqlite3.connect(target, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(f"PRAGMA cache_size = -{4 * WRITER_CACHE_KIB}")
        for index, part in enumerate(parts):
            connection.execute("ATTACH DATABASE ? AS ?", (str(part), f"part{index}"))
        connection.execute("BEGIN IMMEDIATE")
        try:
            for index in range(len(parts)):
                if _counts_a_counted_id(connection, f"part{index}"):
                    connection.execute("ROLLBACK")
                    return False
                for table in READ_MODEL_TABLES:
                    _merge_table(connection, f"part{index}", table)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return True
    finally:
        connection.close()


def _counts_a_counted_id(connection: sqlite3.Connection, part: str) -> bool:
    found = connection.execute(
        f"SELECT 1 FROM {part}.applied_events AS theirs "
        "WHERE EXISTS (SELECT 1 FROM main.applied_events AS ours WHERE ours.event_id = theirs.event_id) LIMIT 1"
    ).fetchone()
    return found is not None


def _merge_table(connection: sqlite3.Connection, part: str, table) -> None:
    rule = RULES[table.name]
    if rule == KEEP:
        return
    key = [column.name for column in table.primary_key.columns]
    columns = [column.name for column in table.columns if not (rule == COPY_ORDERS and column.name == "seq")]
    names = ", ".join(f'"{name}"' for name in columns)
    order = ", ".join(f'"{name}"' for name in (["seq"] if rule == COPY_ORDERS else key))
    # rows in key order: random keys then go into the B-trees page by page, not at random places
    select = f"SELECT {names} FROM {part}.{table.name} WHERE true ORDER BY {order}"  # WHERE: upsert syntax
    if rule == SUM_ITEMS:
        connection.execute(
            f"INSERT INTO main.{table.name} ({names}) {select} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET quantity = quantity + excluded.quantity, "
            "orders = orders + excluded.orders, first_ordered = min(first_ordered, excluded.first_ordered), "
            "last_ordered = max(last_ordered, excluded.last_ordered)"
        )
    else:
        connection.execute(f"INSERT INTO main.{table.name} ({names}) {select}")
