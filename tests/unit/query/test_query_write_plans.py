"""The projector's per-batch reads find their rows through an index, never by scanning a table that grows with
the view (EXPLAIN QUERY PLAN). A scan per batch made projection slow down as the view grew, with no test
failing, as the answers were right."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from query_unit_helpers import order

from desktop_app.query import copies, item_sums
from desktop_app.query.projector import Projector


def _plan(projector: Projector, sql: str, parameters: tuple) -> list[str]:
    with projector.engine.connect() as connection:
        return [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)]


def test_the_times_of_rows_are_read_through_the_primary_key(projector: Projector) -> None:
    sql = item_sums._ROW_TIMES.format(marks=", ".join(["(?, ?, ?)"] * 3))
    plan = _plan(projector, sql, ("alice", "Tea", 350) * 3)
    assert not any(step.startswith("SCAN ordered_items") or step.startswith("SCAN i") for step in plan), plan
    assert any("USING PRIMARY KEY" in step for step in plan), plan


def test_the_walk_for_a_rows_first_and_last_order_uses_the_customer_and_time_index(projector: Projector) -> None:
    for walk in (item_sums._EARLIEST, item_sums._LATEST):
        plan = _plan(projector, walk, ("alice", "placed", '"Tea"', "Tea", 350))
        assert any("ix_orders_customer_placed" in step for step in plan), plan
        assert not any(step.startswith("SCAN orders") for step in plan), plan


def test_stored_copies_of_a_batchs_event_ids_are_looked_up_by_key(projector: Projector) -> None:
    for select_in in (copies._SELECT_WINNERS, copies._SELECT_COPIES):
        plan = _plan(projector, select_in.format(marks="?,?"), (b"a" * 16, b"b" * 16))
        assert not any(step.startswith("SCAN") for step in plan), plan


def test_the_walk_finds_the_latest_standing_order_holding_the_row(projector: Projector, records) -> None:
    early = order("alice", ("Tea", 350, 1), ("Mug", 900, 1), at=datetime(2025, 1, 1, 9, tzinfo=timezone.utc))
    late = order("alice", ("Mug", 900, 2), at=datetime(2025, 1, 1, 10, tzinfo=timezone.utc))
    other = order("alice", ('Odd "name"', 350, 1), at=datetime(2025, 1, 1, 11, tzinfo=timezone.utc))
    projector.apply([records.event(early), records.event(late), records.event(other)])
    latest, earliest = item_sums._LATEST, item_sums._EARLIEST
    with projector.engine.connect() as connection:
        assert item_sums._edge_time(connection, "alice", "Mug", 900, latest) == "2025-01-01 10:00:00.000000"
        assert item_sums._edge_time(connection, "alice", "Mug", 900, earliest) == "2025-01-01 09:00:00.000000"
        assert item_sums._edge_time(connection, "alice", "Tea", 350, latest) == "2025-01-01 09:00:00.000000"
        assert item_sums._edge_time(connection, "alice", 'Odd "name"', 350, latest) == "2025-01-01 11:00:00.000000"
        assert item_sums._edge_time(connection, "alice", "Tea", 351, latest) is None
        assert item_sums._edge_time(connection, "bob", "Tea", 350, latest) is None


def test_a_positional_statement_refuses_a_column_order_other_than_its_own() -> None:
    from desktop_app.query.schema import AppliedEvent

    table = AppliedEvent.__table__
    assert item_sums.positional_sql(table.insert(), ("event_id", "partition", "offset", "digest")).count("?") == 4
    with pytest.raises(ValueError, match="takes"):
        item_sums.positional_sql(table.insert(), ("partition", "event_id", "offset", "digest"))


def test_orders_are_looked_up_and_updated_through_their_key(projector: Projector) -> None:
    from desktop_app.query import order_book

    select_plan = _plan(projector, order_book._SELECT_BY_KEY.format(marks="?,?"), (1, 2))
    update_plan = _plan(projector, order_book._UPDATE_ORDER, {
        "key": "x", "key_hash": 1, "key_partition": 0, **order_book._UPDATED_DEFAULTS, "status": "cancelled"})
    for plan in (select_plan, update_plan):
        assert any("ix_orders_key_partition" in step for step in plan), plan
        assert not any(step.startswith("SCAN") for step in plan), plan
