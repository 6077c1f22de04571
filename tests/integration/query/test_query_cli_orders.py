"""`order-desk orders / order / ignored`, and the £ values of `items` / `summary`, against the real broker:
orders, cancellations and an amendment written by hand to the topic, read after catching up."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from desktop_app.cli import order_cmds, read_cmds
from support.cli_run import run_commands
from support.order_stream import amendment_events, cancel_event

from query_live_helpers import order, produce_events

T0 = datetime(2025, 7, 1, 9, 0, tzinfo=timezone.utc)


def run(settings, capsys, *argv: str) -> tuple[int, str, str]:
    return run_commands((read_cmds, order_cmds,), settings, capsys, *argv)


@pytest.fixture
def history(topic_ready):
    """ann keeps one order and cancels one; bob's order is amended; two cancellations cannot apply."""
    kept = order("ann", ("Tea", 350, 2), at=T0)
    cancelled = order("ann", ("Tea", 350, 3), ("Lamp", 6500, 1), at=T0 + timedelta(minutes=1))
    amended = order("bob", ("Mug", 450, 4), at=T0 + timedelta(minutes=2))
    amend_cancel, replacement = amendment_events(amended, ("Mug", 450, 1), at=T0 + timedelta(minutes=3))
    never_placed = order("ann", ("Pen", 120, 1))
    placed = produce_events(topic_ready, [kept, cancelled, amended])
    changes = produce_events(topic_ready, [
        cancel_event(cancelled, reason="wrong size", at=T0 + timedelta(minutes=4)),
        amend_cancel, replacement,
        cancel_event(cancelled, at=T0 + timedelta(minutes=5)),  # already cancelled
        cancel_event(never_placed, at=T0 + timedelta(minutes=6)),  # unknown
    ])
    return {"kept": kept, "cancelled": cancelled, "amended": amended, "replacement": replacement,
            "never_placed": never_placed, "placed": placed, "changes": changes}


def test_orders_json_lists_every_order_newest_first_with_exact_money(history, topic_ready, capsys) -> None:
    code, out, _ = run(topic_ready, capsys, "orders", "--json")

    assert code == 0
    orders = json.loads(out)
    ids = [o["order_id"] for o in orders]
    assert ids == [str(history[name].payload.order_id) for name in ("replacement", "amended", "cancelled", "kept")]
    by_id = {o["order_id"]: o for o in orders}
    cancelled = by_id[str(history["cancelled"].payload.order_id)]
    assert {k: cancelled[k] for k in ("customer_id", "line_count", "total", "total_pence", "status", "reason")} == {
        "customer_id": "ann", "line_count": 2, "total": "75.50", "total_pence": 7550, "status": "cancelled",
        "reason": "wrong size"}
    assert (cancelled["partition"], cancelled["offset"]) == history["placed"][1]
    assert cancelled["placed_at"] == (T0 + timedelta(minutes=1)).isoformat()
    old = by_id[str(history["amended"].payload.order_id)]
    assert (old["status"], old["replaced_by"]) == ("replaced", str(history["replacement"].payload.order_id))
    new = by_id[str(history["replacement"].payload.order_id)]
    assert (new["status"], new["replaces"], new["total"]) == ("placed", old["order_id"], "4.50")
    assert not any(isinstance(value, float) for o in orders for value in o.values())


def test_orders_filter_by_status_customer_and_search(history, topic_ready, capsys) -> None:
    _, out, _ = run(topic_ready, capsys, "orders", "--status", "cancelled", "--json")
    assert [o["order_id"] for o in json.loads(out)] == [str(history["cancelled"].payload.order_id)]

    _, out, _ = run(topic_ready, capsys, "orders", "--customer", "bob", "--status", "placed", "--json", "--no-sync")
    assert [o["order_id"] for o in json.loads(out)] == [str(history["replacement"].payload.order_id)]

    prefix = str(history["kept"].payload.order_id)[:8].upper()
    _, out, _ = run(topic_ready, capsys, "orders", "--search", prefix, "--json", "--no-sync")
    assert [o["order_id"] for o in json.loads(out)] == [str(history["kept"].payload.order_id)]


def test_orders_table_has_a_footer_and_says_when_limit_cut_it(history, topic_ready, capsys) -> None:
    code, out, _ = run(topic_ready, capsys, "orders")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "ORDER", "ID", "CUSTOMER", "LINES", "TOTAL", "£", "STATUS"]
    assert lines[-1] == "(4 orders)"
    cancelled_line = next(line for line in lines if str(history["cancelled"].payload.order_id) in line)
    assert cancelled_line.split()[-3:] == ["2", "75.50", "cancelled"]
    replaced_line = next(line for line in lines if str(history["amended"].payload.order_id) in line)
    assert replaced_line.endswith(f"replaced by {history['replacement'].payload.order_id}")

    _, out, _ = run(topic_ready, capsys, "orders", "--limit", "1", "--no-sync")
    assert out.splitlines()[-1] == "(1 of 4 orders)"
    _, out, _ = run(topic_ready, capsys, "orders", "--customer", "nobody", "--no-sync")
    assert out == "No orders.\n"


def test_order_json_shows_lines_and_every_event_with_its_position_and_outcome(history, topic_ready, capsys) -> None:
    cancelled = history["cancelled"]
    code, out, _ = run(topic_ready, capsys, "order", str(cancelled.payload.order_id), "--json")

    assert code == 0
    detail = json.loads(out)
    assert detail["lines"] == [
        {"item": "Tea", "unit_price": "3.50", "unit_price_pence": 350, "quantity": 3, "line_value": "10.50",
         "line_value_pence": 1050},
        {"item": "Lamp", "unit_price": "65.00", "unit_price_pence": 6500, "quantity": 1, "line_value": "65.00",
         "line_value_pence": 6500},
    ]
    placed_at, cancel_at, again_at = history["placed"][1], history["changes"][0], history["changes"][3]
    assert [(e["event_type"], e["partition"], e["offset"], e["outcome"]) for e in detail["events"]] == [
        ("OrderPlaced", *placed_at, "applied"),
        ("OrderCancelled", *cancel_at, "applied"),
        ("OrderCancelled", *again_at, f"ignored: order {cancelled.payload.order_id} already cancelled"),
    ]
    assert detail["events"][0]["event_id"] == str(cancelled.event_id)


def test_order_table_names_status_lines_total_and_events(history, topic_ready, capsys) -> None:
    code, out, _ = run(topic_ready, capsys, "order", str(history["cancelled"].payload.order_id).upper())
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"order {history['cancelled'].payload.order_id}"
    assert any(line.split() == ["status:", "cancelled"] for line in lines)
    assert any(line.split() == ["reason:", "wrong", "size"] for line in lines)
    assert any(line.split() == ["total", "£", "75.50"] for line in lines)
    assert "events (3)" in lines
    assert sum("OrderCancelled" in line for line in lines) == 2


def test_order_unknown_or_malformed_id_exits_2_with_one_line(history, topic_ready, capsys) -> None:
    unknown = uuid.uuid4()
    code, out, err = run(topic_ready, capsys, "order", str(unknown))
    assert (code, out, err) == (2, "", f"order-desk: no order {unknown} is known\n")

    code, out, err = run(topic_ready, capsys, "order", "not-an-id")
    assert (code, out) == (2, "")
    assert err.splitlines() == ["order-desk: Order id: is not an order id"]

    # an id whose only event is an ignored cancellation is still no order
    code, _, err = run(topic_ready, capsys, "order", str(history["never_placed"].payload.order_id), "--no-sync")
    assert code == 2 and "is known" in err


def test_ignored_lists_the_cancellations_that_changed_nothing(history, topic_ready, capsys) -> None:
    code, out, _ = run(topic_ready, capsys, "ignored", "--json")

    assert code == 0
    ignored = json.loads(out)
    assert [(i["order_id"], i["event_type"], (i["partition"], i["offset"])) for i in ignored] == [
        (str(history["never_placed"].payload.order_id), "OrderCancelled", history["changes"][4]),
        (str(history["cancelled"].payload.order_id), "OrderCancelled", history["changes"][3]),
    ]
    assert ignored[0]["reason"].startswith(f"order {history['never_placed'].payload.order_id} unknown")

    _, out, _ = run(topic_ready, capsys, "ignored", "--limit", "1", "--no-sync")
    assert out.splitlines()[-1] == "(the latest 1 ignored event; --limit shows more)"
    _, out, _ = run(topic_ready, capsys, "ignored", "--no-sync")
    assert out.splitlines()[-1] == "(2 ignored events)"


def test_summary_and_items_show_values_in_pounds(history, topic_ready, capsys) -> None:
    code, out, _ = run(topic_ready, capsys, "summary", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["bands"]["cheap"] == {"rows": 2, "quantity": 3, "value": "11.50", "value_pence": 1150}
    assert summary["bands"]["expensive"] == {"rows": 0, "quantity": 0, "value": "0.00", "value_pence": 0}
    assert (summary["value"], summary["value_pence"], summary["ignored"]) == ("11.50", 1150, 2)

    _, out, _ = run(topic_ready, capsys, "summary", "--no-sync")
    lines = out.splitlines()
    assert lines[0].split() == ["BAND", "ROWS", "QUANTITY", "VALUE", "£"]
    assert lines[1].split() == ["cheap", "2", "3", "11.50"]
    assert any(line.split() == ["total", "11.50"] for line in lines)
    assert any(line.startswith("ignored:") and line.split()[1] == "2" for line in lines)

    _, out, _ = run(topic_ready, capsys, "items", "--no-sync")
    lines = out.splitlines()
    assert lines[0] == "cheap (2 rows)"
    assert lines[1].split()[-2:] == ["LINE", "VALUE"]
    assert [line.split()[-1] for line in lines[2:5]] == ["7.00", "4.50", "11.50"]
    assert lines[-1] == "total £11.50 (2 rows)"


def test_a_read_of_an_outdated_view_says_so_in_one_line(history, topic_ready, capsys) -> None:
    from desktop_app.query import schema
    from desktop_app.query.views import ReadModel

    assert run(topic_ready, capsys, "orders")[0] == 0  # builds the view
    view = ReadModel(topic_ready.data_dir / "readmodel.db")
    engine = schema.open_engine(view.view_path, writer=True)
    view.close()
    schema.store_projection_version(engine, schema.PROJECTION_VERSION - 1)
    engine.dispose()

    code, _, err = run(topic_ready, capsys, "orders")

    assert code == 0
    assert err.strip() == (
        f"order-desk: warning: the read model is outdated (projection version changed from "
        f"{schema.PROJECTION_VERSION - 1} to {schema.PROJECTION_VERSION}): what it shows may be incomplete "
        "until the desktop app or 'order-desk rebuild' rebuilds it")
