"""`orders / order / ignored` and the £ columns of `items / summary`, without a broker: parsing, refused input,
and what the tables and JSON say for rows made by hand."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from desktop_app.cli import order_cmds, read_cmds
from desktop_app.cli.output import money_json
from desktop_app.query.bands import Band
from desktop_app.query.orders_view import IgnoredRow, OrderDetail, OrderEventRow, OrderLineRow, OrderRow, OrderStatus
from desktop_app.query.views import BandTotals, ItemRow, Summary

AT = datetime(2025, 7, 1, 9, 0, tzinfo=timezone.utc)
OLD_ID = uuid.UUID("11111111-1111-4111-8111-111111111111")
NEW_ID = uuid.UUID("22222222-2222-4222-8222-222222222222")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="order-desk")
    order_cmds.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def order_row(order_id: uuid.UUID = OLD_ID, status: OrderStatus = OrderStatus.PLACED, total: int = 1234,
              replaced_by: uuid.UUID | None = None, reason: str | None = None) -> OrderRow:
    return OrderRow(order_id, "ann", AT, "desk-1", 2, total, status, AT if status is not OrderStatus.PLACED else None,
                    reason, None, replaced_by, 1, 7)


def test_money_is_a_string_and_integer_pence_never_a_float() -> None:
    assert money_json("total", 1250) == {"total": "12.50", "total_pence": 1250}
    assert money_json("total", 5) == {"total": "0.05", "total_pence": 5}
    row = order_cmds.order_json(order_row(total=100_000_001))
    assert (row["total"], row["total_pence"]) == ("1000000.01", 100_000_001)


def test_orders_options_parse_and_limit_must_be_positive(capsys) -> None:
    args = parse("orders", "--customer", "ann", "--status", "cancelled", "--search", "11", "--limit", "5")
    assert (args.customer, args.status, args.search, args.limit) == ("ann", "cancelled", "11", 5)
    assert parse("orders").limit is None and parse("ignored").limit == 100
    for bad in (["orders", "--limit", "0"], ["orders", "--limit", "x"], ["orders", "--status", "open"],
                ["ignored", "--limit", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            parse(*bad)
        assert exit_info.value.code == 2
    assert "must be at least 1 (got 0)" in capsys.readouterr().err


def test_orders_table_shows_status_and_the_footer_counts() -> None:
    rows = [order_row(NEW_ID, total=450), order_row(OLD_ID, OrderStatus.REPLACED, 1800, replaced_by=NEW_ID)]
    text = order_cmds.orders_text(rows, total=2)
    lines = text.splitlines()
    assert lines[0].split() == ["TIME", "ORDER", "ID", "CUSTOMER", "LINES", "TOTAL", "£", "STATUS"]
    assert lines[1].split()[-3:] == ["2", "4.50", "placed"]
    assert lines[2].endswith(f"18.00  replaced by {NEW_ID}")
    assert lines[-1] == "(2 orders)"
    assert order_cmds.orders_text(rows[:1], total=1).splitlines()[-1] == "(1 order)"
    assert order_cmds.orders_text(rows[:1], total=9).splitlines()[-1] == "(1 of 9 orders)"
    assert order_cmds.orders_text([], total=0) == "No orders."


def test_order_detail_as_text_and_json() -> None:
    row = order_row(status=OrderStatus.CANCELLED, total=1050 + 6500, reason="wrong size")
    detail = OrderDetail(row, (OrderLineRow("Tea", 350, 3), OrderLineRow("Lamp", 6500, 1)), (
        OrderEventRow("OrderPlaced", NEW_ID, 1, 7, AT, "desk-1", "applied"),
        OrderEventRow("OrderCancelled", OLD_ID, 1, 9, AT, "desk-2", "ignored: order x already cancelled"),
    ))
    text = order_cmds.order_text(detail)
    lines = text.splitlines()
    assert lines[0] == f"order {OLD_ID}"
    assert ["reason:", "wrong", "size"] in [line.split() for line in lines]
    assert ["Lamp", "65.00", "1", "65.00"] in [line.split() for line in lines]
    assert ["total", "£", "75.50"] in [line.split() for line in lines]
    assert lines[-1].split()[:3] == ["OrderCancelled", "1", "9"] and lines[-1].endswith("already cancelled")

    as_json = json.loads(json.dumps(order_cmds.detail_json(detail)))
    assert as_json["lines"][0] == {"item": "Tea", "unit_price": "3.50", "unit_price_pence": 350, "quantity": 3,
                                   "line_value": "10.50", "line_value_pence": 1050}
    assert [(e["event_type"], e["partition"], e["offset"], e["outcome"]) for e in as_json["events"]] == [
        ("OrderPlaced", 1, 7, "applied"), ("OrderCancelled", 1, 9, "ignored: order x already cancelled")]
    assert (as_json["status"], as_json["cancelled_at"], as_json["replaced_by"]) == (
        "cancelled", "2025-07-01T09:00:00+00:00", None)


def test_ignored_text_says_when_the_list_was_cut_short() -> None:
    row = IgnoredRow(NEW_ID, "OrderCancelled", str(OLD_ID), "ann", 2, 40, AT, f"order {OLD_ID} unknown")
    assert order_cmds.ignored_text([row], more=False).splitlines()[-1] == "(1 ignored event)"
    assert order_cmds.ignored_text([row], more=True).splitlines()[-1] == \
        "(the latest 1 ignored event; --limit shows more)"
    assert order_cmds.ignored_text([], more=False) == "No ignored events."
    assert order_cmds.ignored_json(row)["reason"] == f"order {OLD_ID} unknown"


def test_items_show_line_values_and_totals_per_band_and_in_all() -> None:
    rows = [ItemRow("ann", "Tea", 350, Band.CHEAP, 3, 2, AT, AT), ItemRow("bob", "Pen", 120, Band.CHEAP, 1, 1, AT, AT),
            ItemRow("ann", "Lamp", 6500, Band.EXPENSIVE, 2, 1, AT, AT)]
    lines = read_cmds.items_text(rows).splitlines()
    assert lines[0] == "cheap (2 rows)"
    assert [line.split()[-1] for line in lines[1:5]] == ["VALUE", "10.50", "1.20", "11.70"]
    assert lines[4].split() == ["total", "£", "11.70"]
    assert lines[-1] == "total £141.70 (3 rows)"
    assert read_cmds.item_json(rows[2])["line_value"] == "130.00"
    assert read_cmds.item_json(rows[2])["line_value_pence"] == 13000


def test_summary_shows_values_per_band_and_the_ignored_count() -> None:
    values = read_cmds.band_values({("ann", Band.CHEAP): 1050, ("bob", Band.CHEAP): 120,
                                    ("ann", Band.EXPENSIVE): 13000})
    assert values == {Band.CHEAP: 1170, Band.AFFORDABLE: 0, Band.EXPENSIVE: 13000}
    summary = Summary({Band.CHEAP: BandTotals(2, 4), Band.AFFORDABLE: BandTotals(0, 0),
                       Band.EXPENSIVE: BandTotals(1, 2)}, events_applied=5, quarantined=1, lag=None, ignored=3)
    lines = read_cmds.summary_text(summary, values).splitlines()
    assert lines[1].split() == ["cheap", "2", "4", "11.70"]
    assert lines[4].split() == ["total", "141.70"]
    assert lines[7].split()[:2] == ["ignored:", "3"]
    as_json = read_cmds.summary_json(summary, values)
    assert as_json["bands"]["expensive"] == {"rows": 1, "quantity": 2, "value": "130.00", "value_pence": 13000}
    assert (as_json["value_pence"], as_json["ignored"]) == (14170, 3)


def test_a_malformed_order_id_is_refused_before_anything_is_opened(tmp_path: Path) -> None:
    data_dir = tmp_path / "desk"
    result = subprocess.run([sys.executable, "-m", "desktop_app", "--data-dir", str(data_dir), "order", "12-ab"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["order-desk: Order id: is not an order id"]
    assert result.stdout == "" and not data_dir.exists()
