"""`order-desk items / summary / rebuild` against the real broker (the read_cmds module's own parser)."""

from __future__ import annotations

import argparse
import json

import pytest

from desktop_app.cli import read_cmds
from desktop_app.query.service import QueryService, default_lock_path

from query_live_helpers import WAIT_S, order, produce, produce_events


def run(settings, capsys, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="order-desk")
    read_cmds.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code = args.func(args, settings)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def orders_placed(topic_ready):
    produce_events(topic_ready, [
        order("alice", ("Tea", 350, 2), ("Teapot", 9990, 1)),
        order("alice", ("Tea", 350, 1)),
        order("bob", ("Scarf", 500, 3)),
    ])
    produce(topic_ready, [(b"k", b"broken", [])])
    return topic_ready


def test_items_json_catches_up_then_lists_rows(orders_placed, capsys) -> None:
    code, out, _ = run(orders_placed, capsys, "items", "--json")

    assert code == 0
    assert json.loads(out) == [
        {"customer_id": "alice", "item": "Tea", "unit_price": "3.50", "band": "cheap", "quantity": 3, "orders": 2},
        {"customer_id": "alice", "item": "Teapot", "unit_price": "99.90", "band": "expensive", "quantity": 1,
         "orders": 1},
        {"customer_id": "bob", "item": "Scarf", "unit_price": "5.00", "band": "affordable", "quantity": 3,
         "orders": 1},
    ]


def test_items_filters_by_customer_and_band(orders_placed, capsys) -> None:
    _, out, _ = run(orders_placed, capsys, "items", "--customer", "alice", "--band", "expensive", "--json")
    assert [row["item"] for row in json.loads(out)] == ["Teapot"]

    _, out, _ = run(orders_placed, capsys, "items", "--band", "affordable", "--json", "--no-sync")
    assert [row["customer_id"] for row in json.loads(out)] == ["bob"]


def test_items_table_groups_rows_by_band(orders_placed, capsys) -> None:
    code, out, _ = run(orders_placed, capsys, "items")

    assert code == 0
    lines = out.splitlines()
    assert [line for line in lines if line and not line.startswith(" ")] == [
        "cheap (1 rows)", "affordable (1 rows)", "expensive (1 rows)",
    ]
    assert any("Teapot" in line and "99.90" in line for line in lines)


def test_summary_json(orders_placed, capsys) -> None:
    code, out, _ = run(orders_placed, capsys, "summary", "--json")

    assert code == 0
    assert json.loads(out) == {
        "bands": {
            "cheap": {"rows": 1, "quantity": 3},
            "affordable": {"rows": 1, "quantity": 3},
            "expensive": {"rows": 1, "quantity": 1},
        },
        "events_applied": 3,
        "quarantined": 1,
        "lag": 0,
    }


def test_no_sync_reads_the_view_as_it_is(orders_placed, capsys) -> None:
    _, out, _ = run(orders_placed, capsys, "items", "--json", "--no-sync")
    assert json.loads(out) == []  # nothing projected yet, and the broker was not asked

    run(orders_placed, capsys, "items", "--json")
    _, out, _ = run(orders_placed, capsys, "summary", "--json", "--no-sync")
    summary = json.loads(out)
    assert (summary["events_applied"], summary["lag"]) == (3, None)


def test_rebuild_reports_progress_on_stderr(orders_placed, capsys) -> None:
    run(orders_placed, capsys, "items")

    code, out, err = run(orders_placed, capsys, "rebuild", "--json")

    assert code == 0
    assert json.loads(out) == {"completed": True, "records": 4, "events_applied": 3, "quarantined": 1}
    assert "rebuilding: 4/4 records (100%)" in err
    _, out, _ = run(orders_placed, capsys, "summary", "--json", "--no-sync")
    assert json.loads(out)["events_applied"] == 3


def test_reads_use_the_live_view_while_another_process_projects(orders_placed, capsys) -> None:
    settings = orders_placed
    gui = QueryService(settings.readmodel_db_path, settings.kafka_client_kwargs(), settings.topic,
                       lock_path=default_lock_path(settings.readmodel_db_path))
    try:
        assert gui.start()
        code, out, _ = run(settings, capsys, "items", "--json")
        assert code == 0 and len(json.loads(out)) == 3

        ((partition, offset),) = produce_events(settings, [order("carl", ("Box", 20, 1))])
        assert gui.wait_until_visible(partition, offset, WAIT_S)
        _, out, _ = run(settings, capsys, "items", "--customer", "carl", "--json")
        assert json.loads(out)[0]["unit_price"] == "0.20"

        code, _, err = run(settings, capsys, "rebuild")
        assert code == 1 and "cannot rebuild" in err
    finally:
        gui.close()
