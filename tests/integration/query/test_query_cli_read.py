"""`order-desk items / summary / rebuild` against the real broker (the read_cmds module's own parser)."""

from __future__ import annotations

import json

import pytest

from desktop_app.cli import read_cmds
from desktop_app.query.service import QueryService, ViewUnavailable, default_lock_path
from support.cli_run import run_commands

from query_live_helpers import WAIT_S, order, produce, produce_events


def run(settings, capsys, *argv: str) -> tuple[int, str, str]:
    return run_commands((read_cmds,), settings, capsys, *argv)


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
        {"customer_id": "alice", "item": "Tea", "unit_price": "3.50", "unit_price_pence": 350, "band": "cheap",
         "quantity": 3, "orders": 2, "line_value": "10.50", "line_value_pence": 1050},
        {"customer_id": "alice", "item": "Teapot", "unit_price": "99.90", "unit_price_pence": 9990,
         "band": "expensive", "quantity": 1, "orders": 1, "line_value": "99.90", "line_value_pence": 9990},
        {"customer_id": "bob", "item": "Scarf", "unit_price": "5.00", "unit_price_pence": 500, "band": "affordable",
         "quantity": 3, "orders": 1, "line_value": "15.00", "line_value_pence": 1500},
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
        "cheap (1 row)", "affordable (1 row)", "expensive (1 row)", "total £125.40 (3 rows)",
    ]
    assert any("Teapot" in line and "99.90" in line for line in lines)


def test_summary_json(orders_placed, capsys) -> None:
    code, out, _ = run(orders_placed, capsys, "summary", "--json")

    assert code == 0
    assert json.loads(out) == {
        "bands": {
            "cheap": {"rows": 1, "quantity": 3, "value": "10.50", "value_pence": 1050},
            "affordable": {"rows": 1, "quantity": 3, "value": "15.00", "value_pence": 1500},
            "expensive": {"rows": 1, "quantity": 1, "value": "99.90", "value_pence": 9990},
        },
        "value": "125.40",
        "value_pence": 12540,
        "events_applied": 3,
        "quarantined": 1,
        "ignored": 0,
        "lag": 0,
    }


def test_no_sync_reads_the_view_as_it_is(orders_placed, capsys) -> None:
    # nothing projected yet, and the broker was not asked: a reader says so and creates no read model
    with pytest.raises(ViewUnavailable, match="no read model at .*readmodel.db yet"):
        run(orders_placed, capsys, "items", "--json", "--no-sync")
    assert not orders_placed.readmodel_db_path.exists()

    run(orders_placed, capsys, "items", "--json")
    _, out, _ = run(orders_placed, capsys, "summary", "--json", "--no-sync")
    summary = json.loads(out)
    assert (summary["events_applied"], summary["lag"]) == (3, None)


def test_rebuild_reports_progress_on_stderr_and_a_json_summary(orders_placed, capsys) -> None:
    run(orders_placed, capsys, "items")
    data_dir = orders_placed.data_dir

    code, out, err = run(orders_placed, capsys, "rebuild", "--json")

    assert code == 0
    report = json.loads(out)
    assert {key: report[key] for key in ("events", "rows", "quarantined")} == {"events": 4, "rows": 3, "quarantined": 1}
    assert isinstance(report["seconds"], float) and report["seconds"] > 0
    assert set(report) == {"events", "seconds", "rows", "quarantined"}
    assert "rebuilding [" in err and "4/4 events (100%)" in err and "events/s, ETA 0s" in err
    # the rebuilt view is a new generation; the old file is gone
    assert (data_dir / "readmodel.current").read_text().strip() == "readmodel-1.db"
    assert not (data_dir / "readmodel.db").exists()
    _, out, _ = run(orders_placed, capsys, "summary", "--json", "--no-sync")
    assert json.loads(out)["events_applied"] == 3

    code, out, _ = run(orders_placed, capsys, "rebuild")
    assert code == 0 and out.startswith("Rebuilt the read model from 4 events in ")
    assert (data_dir / "readmodel.current").read_text().strip() == "readmodel-2.db"
    assert sorted(path.name for path in data_dir.glob("readmodel*.db")) == ["readmodel-2.db"]


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


def test_reads_leave_an_outdated_view_to_the_rebuild_command(orders_placed, capsys) -> None:
    from desktop_app.query import schema
    from desktop_app.query.views import ReadModel

    run(orders_placed, capsys, "items")
    engine = schema.open_engine(orders_placed.readmodel_db_path, writer=True)
    schema.store_projection_version(engine, schema.PROJECTION_VERSION - 1)  # built by older projection code
    engine.dispose()
    data_dir = orders_placed.data_dir

    code, out, err = run(orders_placed, capsys, "items", "--json")
    assert code == 0 and len(json.loads(out)) == 3
    assert "readmodel.current" not in {path.name for path in data_dir.iterdir()}  # no rebuild started

    code, out, err = run(orders_placed, capsys, "rebuild", "--json")
    assert code == 0 and json.loads(out)["events"] == 4
    model = ReadModel(orders_placed.readmodel_db_path)
    try:
        assert model.projection_version() == schema.PROJECTION_VERSION
        assert model.view_path.name == "readmodel-1.db"
    finally:
        model.close()
