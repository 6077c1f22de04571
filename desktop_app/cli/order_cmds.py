"""`order-desk orders | order | ignored`: the view's orders, one order with its lines and events, and the
events the view ignored (valid, but changing nothing: a cancellation of an order unknown or already cancelled).

Each reads the view after catching up with the log, as `items` does (reading.py), and shares its options.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from desktop_app.cli import EXIT_INVALID, EXIT_OK
from desktop_app.cli.output import counted, format_table, json_time, money_json, pounds, table_time
from desktop_app.cli.reading import add_read_options, missing_data_dir, read_view
from desktop_app.command.model import Problem
from desktop_app.command.order_changes import order_id_of
from desktop_app.query.orders_view import IgnoredRow, OrderDetail, OrderEventRow, OrderLineRow, OrderRow, OrderStatus
from desktop_app.query.service import QueryService
from desktop_app.settings import Settings

ORDER_EPILOG = """\
Exit codes:
  0  the order is shown
  2  invalid input: ORDER_ID is not an order id, or the view (caught up with the log) has no such order,
     or --data-dir does not exist
  3  the broker did not answer within --sync-timeout (--no-sync reads the view as it is)
  1  any other failure
"""


def register(subparsers: Any) -> None:
    orders = subparsers.add_parser(
        "orders", help="the orders, newest first, with their total and status",
        description="List the orders in the view, newest first: time placed, order id, customer, number of "
        "lines, total and status (placed, cancelled, or replaced by an amendment).",
    )
    orders.add_argument("--customer", metavar="ID", help="only this customer's orders")
    orders.add_argument("--status", choices=[status.value for status in OrderStatus], help="only these orders")
    orders.add_argument("--search", metavar="TEXT",
                        help="orders whose id starts with TEXT, or whose customer id contains it (any case)")
    orders.add_argument("--limit", type=positive_int, metavar="N", help="at most N orders (the newest)")
    add_read_options(orders)
    orders.set_defaults(func=run_orders)

    order = subparsers.add_parser(
        "order", help="one order: its lines, total, status and every event about it",
        description="Show one order: its lines as placed, its total and status, and every event about it\n"
        "in log order, with partition, offset and outcome (applied, or ignored and why).",
        epilog=ORDER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    order.add_argument("order_id", metavar="ORDER_ID", help="the order's id (as `order-desk orders` shows it)")
    add_read_options(order)
    order.set_defaults(func=run_order)

    ignored = subparsers.add_parser(
        "ignored", help="valid events that changed nothing (e.g. a cancellation of an unknown order)",
        description="List the events the view ignored, latest first: valid events that could not apply, such "
        "as a cancellation of an order unknown, already cancelled, or of another customer. They change no row.",
    )
    ignored.add_argument("--limit", type=positive_int, default=100, metavar="N",
                         help="at most N events, the latest (default 100)")
    add_read_options(ignored)
    ignored.set_defaults(func=run_ignored)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


# -- JSON ---------------------------------------------------------------------------------------------------
def order_json(row: OrderRow) -> dict[str, Any]:
    return {
        "order_id": str(row.order_id),
        "customer_id": row.customer_id,
        "placed_at": json_time(row.placed_at),
        "source": row.source,
        "line_count": row.line_count,
        **money_json("total", row.total_pence),
        "status": row.status.value,
        "cancelled_at": json_time(row.cancelled_at),
        "reason": row.reason,
        "replaces": None if row.replaces is None else str(row.replaces),
        "replaced_by": None if row.replaced_by is None else str(row.replaced_by),
        "partition": row.partition,
        "offset": row.offset,
    }


def line_json(line: OrderLineRow) -> dict[str, Any]:
    return {"item": line.item, **money_json("unit_price", line.unit_price_pence), "quantity": line.quantity,
            **money_json("line_value", line.line_value_pence)}


def event_json(event: OrderEventRow) -> dict[str, Any]:
    return {"event_type": event.event_type, "event_id": str(event.event_id), "partition": event.partition,
            "offset": event.offset, "occurred_at": json_time(event.occurred_at), "source": event.source,
            "outcome": event.outcome}


def detail_json(detail: OrderDetail) -> dict[str, Any]:
    return order_json(detail.order) | {"lines": [line_json(line) for line in detail.lines],
                                       "events": [event_json(event) for event in detail.events]}


def ignored_json(row: IgnoredRow) -> dict[str, Any]:
    return {"event_type": row.event_type, "event_id": str(row.event_id), "order_id": row.order_id,
            "customer_id": row.customer_id, "partition": row.partition, "offset": row.offset,
            "occurred_at": json_time(row.occurred_at), "reason": row.reason}


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


# -- orders -------------------------------------------------------------------------------------------------
def run_orders(args: argparse.Namespace, settings: Settings) -> int:
    if missing_data_dir(args):
        return EXIT_INVALID
    filters = {"customer": args.customer, "status": args.status, "search": args.search}

    def read(service: QueryService) -> tuple[list[OrderRow], int]:
        rows = service.orders(**filters, limit=args.limit)
        total = len(rows) if args.limit is None or len(rows) < args.limit else service.count_orders(**filters)
        return rows, total

    rows, total = read_view(settings, args, read)
    if args.json:
        _print_json([order_json(row) for row in rows])
    else:
        print(orders_text(rows, total))
    return EXIT_OK


def status_text(row: OrderRow) -> str:
    if row.status is OrderStatus.REPLACED and row.replaced_by is not None:
        return f"replaced by {row.replaced_by}"
    return row.status.value


def orders_text(rows: list[OrderRow], total: int) -> str:
    """The table, then "(N orders)", or "(N of M orders)" when --limit cut it short."""
    if not rows:
        return "No orders."
    table = [("TIME", "ORDER ID", "CUSTOMER", "LINES", "TOTAL £", "STATUS")] + [
        (table_time(r.placed_at), str(r.order_id), r.customer_id, str(r.line_count), pounds(r.total_pence),
         status_text(r)) for r in rows
    ]
    shown = counted(total, "order") if total == len(rows) else f"{len(rows)} of {counted(total, 'order')}"
    return f"{format_table(table, right_aligned={3, 4})}\n({shown})"


# -- order --------------------------------------------------------------------------------------------------
def run_order(args: argparse.Namespace, settings: Settings) -> int:
    try:
        order_id = order_id_of(args.order_id)  # the command side's rule, so `order` and `cancel` agree
    except ValueError as exc:  # before anything is opened
        print(f"order-desk: {Problem('order_id', str(exc))}", file=sys.stderr)
        return EXIT_INVALID
    if missing_data_dir(args):
        return EXIT_INVALID
    detail = read_view(settings, args, lambda service: service.order(order_id))
    if detail is None:
        print(f"order-desk: no order {order_id} is known", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        _print_json(detail_json(detail))
    else:
        print(order_text(detail))
    return EXIT_OK


def order_text(detail: OrderDetail) -> str:
    row = detail.order
    facts = [("customer", row.customer_id), ("placed at", f"{table_time(row.placed_at)} from {row.source}"),
             ("status", status_text(row))]
    if row.cancelled_at is not None:
        facts.append(("cancelled at", table_time(row.cancelled_at)))
    if row.reason:
        facts.append(("reason", row.reason))
    if row.replaces is not None:
        facts.append(("replaces", str(row.replaces)))
    lines = [("ITEM", "UNIT PRICE", "QUANTITY", "LINE VALUE")] + [
        (line.item, str(line.unit_price), str(line.quantity), pounds(line.line_value_pence))
        for line in detail.lines
    ] + [("total £", "", "", pounds(row.total_pence))]
    events = [("EVENT", "PARTITION", "OFFSET", "TIME", "SOURCE", "OUTCOME")] + [
        (e.event_type, str(e.partition), str(e.offset), table_time(e.occurred_at), e.source, e.outcome)
        for e in detail.events
    ]
    return "\n".join([
        f"order {row.order_id}",
        format_table([(f"{name}:", value) for name, value in facts], right_aligned=set()),
        "",
        f"lines ({len(detail.lines)})",
        format_table(lines, right_aligned={1, 2, 3}),
        "",
        f"events ({len(detail.events)})",
        format_table(events, right_aligned={1, 2}),
    ])


# -- ignored ------------------------------------------------------------------------------------------------
def run_ignored(args: argparse.Namespace, settings: Settings) -> int:
    if missing_data_dir(args):
        return EXIT_INVALID
    rows = read_view(settings, args, lambda service: service.ignored(limit=args.limit + 1))
    more = len(rows) > args.limit  # one more than asked for tells whether the list was cut short
    rows = rows[:args.limit]
    if args.json:
        _print_json([ignored_json(row) for row in rows])
    else:
        print(ignored_text(rows, more))
    return EXIT_OK


def ignored_text(rows: list[IgnoredRow], more: bool) -> str:
    if not rows:
        return "No ignored events."
    table = [("TIME", "EVENT", "ORDER ID", "CUSTOMER", "PARTITION", "OFFSET", "REASON")] + [
        (table_time(r.occurred_at), r.event_type, r.order_id, r.customer_id, str(r.partition), str(r.offset),
         r.reason) for r in rows
    ]
    footer = f"(the latest {counted(len(rows), 'ignored event')}; --limit shows more)" if more \
        else f"({counted(len(rows), 'ignored event')})"
    return f"{format_table(table, right_aligned={4, 5})}\n{footer}"
