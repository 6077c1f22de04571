"""`order-desk place`: validate an order, accept it into the outbox, and publish it.

Input is validated before any store or broker is opened: invalid input exits 2 having written nothing.
A valid order is accepted (committed to the outbox), then the relay gets a few seconds to publish it.
If the broker does not answer in that time the order stays queued, and the next Order Desk process
that runs a relay (the GUI, or another `place`) sends it. `--wait` waits longer: until published and
then until the read model shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from desktop_app.cli import EXIT_INVALID, EXIT_OK, EXIT_UNAVAILABLE
from desktop_app.command.model import LineInput, PlaceOrder, new_command_id, validate
from desktop_app.command.outbox import CommandIdReused, Receipt
from desktop_app.settings import Settings

PUBLISH_GRACE_S = 3.0  # without --wait: how long the relay may try before the process exits
DEFAULT_WAIT_S = 30.0

EPILOG = """\
The first line comes from --item/--price/--qty; add more with --line ITEM PRICE QTY (repeatable).
Prices are pounds with at most 2 decimals ("3.50"; a leading "£" is accepted).

Exit codes: 0 accepted (or, with --wait, published and visible); 2 invalid input (nothing written);
3 --wait ran out of time (the order stays queued and is sent later); 1 any other failure.

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
    parser.add_argument("--line", nargs=3, action="append", default=[], dest="lines",
                        metavar=("ITEM", "PRICE", "QTY"), help="one more order line (repeatable)")
    parser.add_argument("--command-id", help="idempotency key: placing the same command id again "
                        "returns the first receipt and adds no second order (default: a new UUID)")
    parser.add_argument("--wait", action="store_true",
                        help="wait until the order is published and visible in the read model")
    parser.add_argument("--timeout", type=float, default=DEFAULT_WAIT_S, metavar="SECONDS",
                        help=f"how long --wait waits (default {DEFAULT_WAIT_S:g})")
    parser.add_argument("--json", action="store_true",
                        help='print one JSON object: {"order_id", "command_id", "status", "partition", "offset"}')
    parser.set_defaults(func=place_command)


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

    wait_s = max(0.0, args.timeout) if args.wait else PUBLISH_GRACE_S
    async with open_command_service(settings) as service:
        receipt = await service.place_order(cmd)
        try:
            receipt = await service.wait_published(cmd.command_id, wait_s)
        except TimeoutError:
            reason = service.last_error or f"the broker did not acknowledge it within {wait_s:g} s"
            _report(receipt, args.json, visible=None)
            print(f"order-desk: not published yet ({reason}); the order stays queued in "
                  f"{settings.command_db_path} and is sent when Order Desk next runs with the broker reachable",
                  file=sys.stderr)
            return EXIT_UNAVAILABLE if args.wait else EXIT_OK
        if not args.wait:
            _report(receipt, args.json, visible=None)
            return EXIT_OK
        servers = str(service.client_kwargs.get("bootstrap_servers", ""))
    visible = await wait_until_visible(settings, servers, receipt, max(0.0, args.timeout))
    _report(receipt, args.json, visible=visible)
    if visible is False:
        print(f"order-desk: published, but the read model did not show it within {args.timeout:g} s",
              file=sys.stderr)
        return EXIT_UNAVAILABLE
    return EXIT_OK


async def wait_until_visible(settings: Settings, bootstrap_servers: str, receipt: Receipt,
                             timeout: float) -> bool | None:
    """Read-your-writes for --wait: True once the read model holds the order's record, False on
    timeout, None when it cannot tell (the broker acknowledged a re-send without its offset).

    This is the hook into the query side: it projects (or reads the projecting process's view) until
    the receipt's (partition, offset) is applied.
    """
    if receipt.partition is None or receipt.offset is None:
        return None
    partition, offset = receipt.partition, receipt.offset
    from desktop_app.bootstrap import query_service

    def wait() -> bool:
        with query_service(settings, bootstrap_servers) as queries:
            return queries.wait_until_visible(partition, offset, timeout)

    return await asyncio.to_thread(wait)


def _report(receipt: Receipt, as_json: bool, *, visible: bool | None) -> None:
    status = "visible" if visible else receipt.status
    if as_json:
        print(json.dumps(receipt.as_json() | {"status": status}))
        return
    if receipt.status == "published":
        where = f"partition {receipt.partition}" + ("" if receipt.offset is None else f", offset {receipt.offset}")
        shown = " and visible in the read model" if visible else ""
        print(f"order {receipt.order_id} published ({where}){shown}; command id {receipt.command_id}")
    else:
        print(f"order {receipt.order_id} accepted (queued for publishing); command id {receipt.command_id}")
