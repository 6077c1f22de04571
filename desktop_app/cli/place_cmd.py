"""`order-desk place`: validate an order, accept it into the outbox, and publish it.

Input is validated before any store or broker is opened: invalid input exits 2 having written nothing.
A valid order is accepted (committed to the outbox) without contacting the broker. Without --wait the
relay then gets a short, bounded try to publish it; an order it cannot publish in that time stays queued
and is sent by the Order Desk that relays this data dir's outbox (the open window, within seconds), or
else by the next one that runs. `--wait` waits up to --timeout: until published, then until the read
model shows it. Whatever happens after the commit, the receipt is printed first, then the problem.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from desktop_app.cli import EXIT_INVALID
from desktop_app.cli.receipts import PLACING, STOP_FLUSH_S, accept_and_report, add_wait_options, deadline_for
from desktop_app.command.model import LineInput, PlaceOrder, new_command_id, validate
from desktop_app.command.outbox import CommandIdReused
from desktop_app.settings import Settings

log = logging.getLogger(__name__)

EPILOG = """\
The first line comes from --item/--price/--qty; add more with --line ITEM PRICE QTY (repeatable).
Prices are pounds with at most 2 decimals ("3.50"; a leading "£" is accepted).

Without --wait, place never waits for the broker beyond a short try (about 3 s at most).

Exit codes:
  0  accepted (queued or published); with --wait: published and visible in the read model
  2  invalid input (nothing written)
  3  --wait: accepted, but not published within --timeout (the broker did not answer; it stays queued)
  4  --wait: accepted (and maybe published), but not confirmed visible in the read model (it did not show
     it within --timeout, or it could not be read)
  1  any other failure
After 3 or 4 the order is in the outbox and will be published: do not place it again. The receipt (order
id, command id, state reached) is printed before the error; placing with the same --command-id again
shows where it is without adding a second order.

Examples:
  order-desk place --customer alice --item Tea --price 3.50 --qty 2
  order-desk place --customer bob --line Kettle 24.99 1 --line Mug 4.50 4 --wait --json
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "place",
        help="place an order (validated, queued in the outbox, published to Kafka)",
        description="Place one order for a customer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--customer", default="", help="customer id (1-64 characters)")
    parser.add_argument("--item", help="item of the first line (1-120 characters)")
    parser.add_argument("--price", help="unit price of the first line in pounds, e.g. 3.50")
    parser.add_argument("--qty", help="quantity of the first line, 1-10000 (default 1)")
    add_line_option(parser, "one more order line (repeatable)")
    add_wait_options(parser, "order")
    parser.set_defaults(func=place_command)


def add_line_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--line", nargs=3, action="append", default=[], dest="lines",
                        metavar=("ITEM", "PRICE", "QTY"), help=help_text)


def command_from_args(args: argparse.Namespace) -> PlaceOrder:
    lines: list[LineInput] = []
    if args.item is not None or args.price is not None or args.qty is not None:
        lines.append(LineInput(item=args.item or "", price=args.price or "",
                               quantity="1" if args.qty is None else args.qty))
    lines.extend(LineInput(item=item, price=price, quantity=qty) for item, price, qty in args.lines)
    return PlaceOrder(args.customer, tuple(lines), args.command_id or new_command_id())


def place_command(args: argparse.Namespace, settings: Settings) -> int:
    cmd = command_from_args(args)
    problems = validate(cmd)  # before opening anything: invalid input writes nothing
    if problems:
        for problem in problems:
            print(f"order-desk: {problem}", file=sys.stderr)
        return EXIT_INVALID
    try:
        return asyncio.run(_place(cmd, args, settings))
    except CommandIdReused as exc:
        print(f"order-desk: {exc}", file=sys.stderr)
        return EXIT_INVALID


async def _place(cmd: PlaceOrder, args: argparse.Namespace, settings: Settings) -> int:
    from desktop_app.bootstrap import open_command_service

    deadline = deadline_for(args)
    code: int | None = None
    try:
        async with open_command_service(settings, stop_flush_s=STOP_FLUSH_S) as service:
            code = await accept_and_report(service, lambda: service.place_order(cmd), cmd.command_id, args,
                                           settings, deadline, PLACING)
    except Exception as exc:
        if code is None:
            raise  # nothing accepted: the usual error handling (main) applies
        log.warning("closing the outbox after placing failed: %s", exc, exc_info=True)
    return code
