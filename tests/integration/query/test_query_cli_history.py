"""`order-desk history` against the real broker (issue 15, point 1): a row's, a customer's and an order's
events, as a table and as JSON, and one clear line with exit code 2 for bad input. Run as the other CLI
tests run it (the command's own parser and handler, on the test's settings)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from desktop_app.cli import history_cmds
from support.cli_run import run_commands
from support.order_stream import cancel_event

from query_live_helpers import order, produce_events

T0 = datetime(2025, 9, 2, 9, 0, tzinfo=timezone.utc)


def run(settings, capsys, *argv: str) -> tuple[int, str, str]:
    return run_commands((history_cmds,), settings, capsys, *argv)


@pytest.fixture
def written(topic_ready):
    kept = order("cli-bea", ("Tea", 350, 2), at=T0)
    cancelled = order("cli-bea", ("Tea", 350, 3), ("Lamp", 6500, 1), at=T0 + timedelta(minutes=1))
    events = [kept, cancelled, cancel_event(cancelled, reason="wrong size", at=T0 + timedelta(minutes=2))]
    return events, produce_events(topic_ready, events)


def test_history_of_a_row_as_json_has_every_step_with_exact_money(written, topic_ready, capsys) -> None:
    events, positions = written
    code, out, err = run(topic_ready, capsys, "history", "--customer", " cli-bea ", "--item", "Tea",
                         "--price", "3.50", "--json")

    assert (code, err) == (0, "")
    history = json.loads(out)
    assert [(s["event_id"], s["partition"], s["offset"], s["change"], s["quantity"], s["value"], s["value_pence"])
            for s in history["steps"]] == [
        (str(events[0].event_id), *positions[0], 2, 2, "7.00", 700),
        (str(events[1].event_id), *positions[1], 3, 5, "17.50", 1750),
        (str(events[2].event_id), *positions[2], -3, 2, "7.00", 700),
    ]
    assert history["steps"][2]["note"] == "reason: wrong size"
    assert (history["from"], history["agrees"]) == ("read model", True)
    assert history["rows"] == [{"item": "Tea", "unit_price": "3.50", "unit_price_pence": 350, "quantity": 2,
                                "steps_quantity": 2}]
    assert not any(isinstance(value, float) for step in history["steps"] for value in step.values())


def test_history_of_a_customer_and_of_an_order_as_tables(written, topic_ready, capsys) -> None:
    events, positions = written
    code, out, _ = run(topic_ready, capsys, "history", "--customer", "cli-bea")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "history of cli-bea (5 steps, from the read model)"
    assert lines[1].split()[:4] == ["TIME", "EVENT", "ORDER", "ID"]
    lamp_cancelled = next(line for line in lines if "OrderCancelled" in line and "Lamp" in line)
    assert lamp_cancelled.split()[5:] == [*map(str, positions[2]), "Lamp", "65.00", "-1", "0", "0.00", "applied",
                                          "(reason:", "wrong", "size)"]
    assert lines[-1] == "(the view holds Tea at £3.50: 2, as the steps add up to)"

    code, out, _ = run(topic_ready, capsys, "history", "--order", str(events[1].payload.order_id), "--no-sync")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"history of order {events[1].payload.order_id} (cli-bea: Tea £3.50 × 3, "
                               "Lamp £65.00 × 1; cancelled;")
    assert [line.split()[4:8] for line in lines[2:4]] == [
        [str(positions[1][0]), str(positions[1][1]), "+4", "4"], [str(positions[2][0]), str(positions[2][1]), "-4", "0"]]
    assert lines[-1] == "(2 events; the view counts 0 of its 4 items)"


@pytest.mark.parametrize(("argv", "message"), [
    (("--customer", "nobody-here"), "order-desk: no customer 'nobody-here' is known"),
    (("--customer", "cli-bea", "--item", "Tea", "--price", "9.99"), "order-desk: 'cli-bea' has no row 'Tea at £9.99'"),
    (("--customer", "cli-bea", "--price", "65.01"), "order-desk: 'cli-bea' has no row 'at £65.01'"),
    (("--customer", "cli-bea", "--item", "tea"), "order-desk: 'cli-bea' has no row 'tea'"),  # case kept
    (("--order", str(uuid.UUID(int=7))), f"order-desk: no order {uuid.UUID(int=7)} is known"),
    (("--order", "not-an-id"), "order-desk: Order id: is not an order id"),
    (("--customer", "cli-bea", "--price", "-1"), "order-desk: Unit price: must not have a sign"),
    (("--customer", "\u202ebea"), None),
])
def test_bad_input_gets_one_line_and_exit_code_2(written, topic_ready, capsys, argv, message) -> None:
    code, out, err = run(topic_ready, capsys, "history", *argv)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    if message is not None:
        assert err.strip() == message
    else:
        assert err.startswith("order-desk: Customer: ")
