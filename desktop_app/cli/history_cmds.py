"""`order-desk history`: why a row says what it says. The events behind a customer's rows (one row with
--item and --price) or behind one order, in log order, with the running quantity and £ value after each.

The steps come from the read model (caught up with the log first, as `items` does: reading.py); the raw
event behind a step is in the log (the window shows it; `order-desk order` lists an order's positions).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from desktop_app.cli import EXIT_INVALID, EXIT_OK
from desktop_app.cli.order_cmds import order_json, status_text
from desktop_app.cli.output import counted, format_table, json_time, money_json, pounds, table_time
from desktop_app.cli.reading import add_read_options, missing_data_dir, read_view
from desktop_app.command.model import Problem, customer_id_of, item_name_of, parse_price_pence
from desktop_app.command.order_changes import order_id_of
from desktop_app.query.pounds import pence_to_decimal
from desktop_app.query.row_history import HistoryStep, OrderHistory, RowHistory
from desktop_app.settings import Settings

DESCRIPTION = """\
Why a row says what it says: every event that built a customer's rows in the band tabs (or one row,
with --item and --price), or one order, in log order. Each step gives the event's time, type, order id,
the desk that wrote it, its partition and offset, the quantity it added or took back out, and the row's
quantity and £ value after it. Valid events that changed nothing (a second cancellation, say) are listed
with the reason. The steps are read from the read model, after catching up with the log."""

EPILOG = """\
Examples:
  order-desk history --customer alice
  order-desk history --customer alice --item "Tea" --price 3.50 --json
  order-desk history --order 0b9f6a52-3c1e-4d2f-9a57-1f7e3b2c4d5e

Exit codes:
  0  the history is shown
  2  invalid input: a malformed customer id, item, price or order id; a customer, row or order the view
     (caught up with the log) does not know; --item or --price without --customer; a missing --data-dir
  3  the broker did not answer within --sync-timeout (--no-sync reads the view as it is)
  1  any other failure
"""


def register(subparsers: Any) -> None:
    history = subparsers.add_parser(
        "history", help="the events behind a customer's rows (or one row), or behind an order",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = history.add_mutually_exclusive_group(required=True)
    which.add_argument("--customer", metavar="ID", help="the customer whose rows to explain (exact, case-sensitive)")
    which.add_argument("--order", metavar="ORDER_ID", help="the order to explain (as `order-desk orders` shows it)")
    history.add_argument("--item", metavar="NAME", help="with --customer: only this item's rows (exact)")
    history.add_argument("--price", metavar="POUNDS", help="with --customer: only rows at this unit price (3.50)")
    add_read_options(history)
    history.set_defaults(func=run_history)


def _refuse(field: str, reason: str) -> int:
    print(f"order-desk: {Problem(field, reason)}", file=sys.stderr)
    return EXIT_INVALID


def run_history(args: argparse.Namespace, settings: Settings) -> int:
    if args.order is not None:
        if args.item is not None or args.price is not None:
            print("order-desk: --item and --price go with --customer, not with --order", file=sys.stderr)
            return EXIT_INVALID
        return _run_order_history(args, settings)
    # the command side's rules, so what `place` recorded is what is found (trimmed, NFC, case kept)
    read: list[Any] = []
    for field, rule, text in (("customer", customer_id_of, args.customer), ("Item", item_name_of, args.item),
                              ("Unit price", parse_price_pence, args.price)):
        try:
            read.append(None if text is None else rule(text))
        except ValueError as exc:
            return _refuse(field, str(exc))
    customer, item, price = read
    if missing_data_dir(args):
        return EXIT_INVALID
    history = read_view(settings, args, lambda service: service.row_history(customer, item, price))
    if not history.known:
        print(f"order-desk: {_unknown(customer, item, price)}", file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps(row_history_json(history), indent=2, ensure_ascii=False) if args.json
          else row_history_text(history))
    return EXIT_OK


def _run_order_history(args: argparse.Namespace, settings: Settings) -> int:
    try:
        order_id = order_id_of(args.order)  # the command side's rule, so `history` and `cancel` agree
    except ValueError as exc:
        return _refuse("order_id", str(exc))
    if missing_data_dir(args):
        return EXIT_INVALID
    history = read_view(settings, args, lambda service: service.order_history(order_id))
    if history is None:
        print(f"order-desk: no order {order_id} is known", file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps(order_history_json(history), indent=2, ensure_ascii=False) if args.json
          else order_history_text(history))
    return EXIT_OK


def _row_part(item: str | None, price: int | None) -> str:
    """ "Tea at £3.50", "Tea", "at £3.50": the rows asked about, besides the customer."""
    parts = [] if item is None else [item]
    if price is not None:
        parts.append(f"at £{pence_to_decimal(price)}")
    return " ".join(parts)


def _row_name(customer: str, item: str | None, price: int | None) -> str:
    part = _row_part(item, price)
    return f"{customer} · {part}" if part else customer


def _unknown(customer: str, item: str | None, price: int | None) -> str:
    if item is None and price is None:
        return f"no customer {customer!r} is known"
    return f"{customer!r} has no row {_row_part(item, price)!r}"


# -- JSON -----------------------------------------------------------------------------------------------------
def step_json(step: HistoryStep) -> dict[str, Any]:
    row: dict[str, Any] = {}
    if step.item is not None and step.unit_price_pence is not None:
        row = {"item": step.item, **money_json("unit_price", step.unit_price_pence)}
    return {
        "occurred_at": json_time(step.occurred_at), "event_type": step.event_type, "event_id": str(step.event_id),
        "order_id": step.order_id, "source": step.source, "partition": step.partition, "offset": step.offset,
        **row, "change": step.change, "quantity": step.quantity,
        **({} if step.value_pence is None else money_json("value", step.value_pence)),
        "outcome": step.outcome, "note": step.note,
    }


def row_history_json(history: RowHistory) -> dict[str, Any]:
    final = history.final_quantities()
    rows = sorted(set(final) | set(history.view_quantities))
    return {
        "customer_id": history.customer_id, "item": history.item,
        **({} if history.unit_price_pence is None else money_json("unit_price", history.unit_price_pence)),
        "from": history.source,
        "steps": [step_json(step) for step in history.steps],
        "rows": [{"item": item, **money_json("unit_price", price), "quantity": history.view_quantities.get((item, price), 0),
                  "steps_quantity": final.get((item, price), 0)} for item, price in rows],
        "agrees": not history.disagreements(),
    }


def order_history_json(history: OrderHistory) -> dict[str, Any]:
    return order_json(history.detail.order) | {"from": history.source,
                                               "steps": [step_json(step) for step in history.steps]}


# -- tables ---------------------------------------------------------------------------------------------------
def _change(step: HistoryStep) -> str:
    return f"{step.change:+d}" if step.change else "0"


def _outcome(step: HistoryStep) -> str:
    return step.outcome + (f" ({step.note})" if step.note else "")


def row_history_text(history: RowHistory) -> str:
    table = [("TIME", "EVENT", "ORDER ID", "DESK", "PARTITION", "OFFSET", "ITEM", "UNIT PRICE", "CHANGE",
              "QUANTITY", "LINE VALUE", "OUTCOME")] + [
        (table_time(s.occurred_at), s.event_type, s.order_id, s.source, str(s.partition), str(s.offset),
         s.item or "", "" if s.unit_price_pence is None else pounds(s.unit_price_pence), _change(s),
         "" if s.quantity is None else str(s.quantity), "" if s.value_pence is None else pounds(s.value_pence),
         _outcome(s)) for s in history.steps
    ]
    name = _row_name(history.customer_id, history.item, history.unit_price_pence)
    parts = [f"history of {name} ({counted(len(history.steps), 'step')}, from the {history.source})"]
    if history.steps:
        parts.append(format_table(table, right_aligned={4, 5, 7, 8, 9, 10}))
    disagreements = history.disagreements()
    for (item, price), (steps, view) in disagreements.items():
        parts.append(f"warning: {item} at £{pence_to_decimal(price)}: the steps add up to {steps}, the view holds "
                     f"{view} (a view built before orders were kept; 'order-desk rebuild' rebuilds it)")
    if not disagreements:
        held = ", ".join(f"{item} at £{pence_to_decimal(price)}: {quantity}"
                         for (item, price), quantity in sorted(history.view_quantities.items())) or "no rows"
        parts.append(f"(the view holds {held}, as the steps add up to)")
    return "\n".join(parts)


def order_history_text(history: OrderHistory) -> str:
    order = history.detail.order
    table = [("TIME", "EVENT", "DESK", "PARTITION", "OFFSET", "CHANGE", "QUANTITY", "VALUE", "OUTCOME")] + [
        (table_time(s.occurred_at), s.event_type, s.source, str(s.partition), str(s.offset), _change(s),
         str(s.quantity), pounds(s.value_pence or 0), _outcome(s)) for s in history.steps
    ]
    lines = ", ".join(f"{line.item} £{line.unit_price} × {line.quantity}" for line in history.detail.lines)
    return "\n".join([
        f"history of order {order.order_id} ({order.customer_id}: {lines}; {status_text(order)}; "
        f"from the {history.source})",
        format_table(table, right_aligned={3, 4, 5, 6, 7}),
        f"({counted(len(history.steps), 'event')}; the view counts {history.steps[-1].quantity if history.steps else 0}"
        f" of its {sum(line.quantity for line in history.detail.lines)} items)",
    ])
