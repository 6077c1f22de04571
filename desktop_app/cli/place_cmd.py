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
import json
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from desktop_app.cli import EXIT_INVALID, EXIT_NOT_CONFIRMED, EXIT_OK, EXIT_UNAVAILABLE
from desktop_app.command.model import LineInput, PlaceOrder, new_command_id, validate
from desktop_app.command.outbox import CommandIdReused, Receipt
from desktop_app.settings import Settings

log = logging.getLogger(__name__)

CONTACT_S = 0.5  # without --wait: how long the broker may take to answer at all (~40 ms when well; frozen: never)
PUBLISH_GRACE_S = 3.0  # without --wait: how long the relay may try in all before the process exits
STOP_FLUSH_S = 0.5  # closing the relay once the answer is known: no long flush of what it could not send
DEFAULT_WAIT_S = 30.0

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


@dataclass
class Outcome:
    """What `place` says once the order is accepted: the receipt, then (on stderr) what is still missing."""

    receipt: Receipt
    code: int = EXIT_OK
    visible: bool | None = None
    problem: str | None = None


class Deadline:
    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._at - time.monotonic())


async def _place(cmd: PlaceOrder, args: argparse.Namespace, settings: Settings) -> int:
    from desktop_app.bootstrap import open_command_service

    deadline = Deadline(max(0.0, args.timeout) if args.wait else PUBLISH_GRACE_S)
    outcome: Outcome | None = None
    try:
        async with open_command_service(settings, stop_flush_s=STOP_FLUSH_S) as service:
            receipt = await service.place_order(cmd)  # committed: from here on the receipt is always shown
            outcome = Outcome(receipt)
            try:
                outcome = await _after_commit(cmd, receipt, service, args, settings, deadline)
            except Exception as exc:  # noqa: BLE001 - the order is stored: say so before the error
                outcome = _not_confirmed(service.receipt(cmd.command_id) or receipt, exc, settings)
            _say(outcome, args.json)  # before the relay is closed: the answer does not wait for that
    except Exception as exc:
        if outcome is None:
            raise  # nothing accepted: the usual error handling (main) applies
        log.warning("closing the outbox after placing failed: %s", exc, exc_info=True)
    return outcome.code


def _say(outcome: Outcome, as_json: bool) -> None:
    _report(outcome.receipt, as_json, visible=outcome.visible)
    sys.stdout.flush()
    if outcome.problem:
        print(f"order-desk: {outcome.problem}", file=sys.stderr)
    sys.stderr.flush()


def _not_confirmed(receipt: Receipt, exc: Exception, settings: Settings) -> Outcome:
    from desktop_app.cli import exit_reason

    log.error("placing: failed after the order was accepted", exc_info=True, extra={"file_only": True})
    return Outcome(receipt, EXIT_NOT_CONFIRMED, problem=f"the order is accepted ({receipt.status}) but not "
                   f"confirmed visible: {exit_reason(exc, settings)}; do not place it again")


async def _after_commit(cmd: PlaceOrder, receipt: Receipt, service: Any, args: argparse.Namespace,
                        settings: Settings, deadline: Deadline) -> Outcome:
    from desktop_app.bootstrap import connect_broker, embedded_broker, known_bootstrap_servers

    queued_in = settings.command_db_path
    if not service.relay_active and not args.wait:
        return Outcome(receipt, problem=f"queued in {queued_in}; the Order Desk running on {settings.data_dir} "
                       "relays its outbox and publishes it within seconds")
    if (settings.embedded and not args.wait and service.relay_active
            and not embedded_broker(settings, fetch_jars=False).is_running()):
        return Outcome(receipt, problem=f"the embedded broker is not running: the order stays queued in "
                       f"{queued_in} and is sent once it runs (open the window, or `order-desk place --wait`)")
    connect = asyncio.create_task(connect_broker(settings), name="place-connect")  # also ensures the topic
    try:
        if not args.wait:
            await asyncio.wait({connect}, timeout=min(CONTACT_S, deadline.remaining()))
        if args.wait or (connect.done() and connect.exception() is None):
            published = await _wait_published(service, cmd.command_id, deadline)
        else:
            published = None
    finally:
        connect.cancel()
        await asyncio.gather(connect, return_exceptions=True)
    if published is None:
        reason = _unreachable_reason(service, connect, args)
        where = "the running Order Desk publishes it within seconds" if not service.relay_active else \
            "it is sent as soon as an Order Desk on this data dir (the window, or another place) reaches the broker"
        return Outcome(service.receipt(cmd.command_id) or receipt, EXIT_UNAVAILABLE if args.wait else EXIT_OK,
                       problem=f"not published yet ({reason}); the order stays queued in {queued_in} and {where}")
    if not args.wait:
        return Outcome(published)
    visible = await wait_until_visible(settings, known_bootstrap_servers(settings), published, deadline.remaining())
    if visible is False:
        return Outcome(published, EXIT_NOT_CONFIRMED, visible=False, problem=f"the order is accepted "
                       f"({published.status}) but not confirmed visible: the read model did not show it within "
                       f"{args.timeout:g} s; do not place it again")
    return Outcome(published, visible=visible)


async def _wait_published(service: Any, command_id: str, deadline: Deadline) -> Receipt | None:
    try:
        return await service.wait_published(command_id, deadline.remaining())
    except TimeoutError:
        return None


def _unreachable_reason(service: Any, connect: asyncio.Task[Any], args: argparse.Namespace) -> str:
    if service.last_error:
        return service.last_error
    if connect.done() and not connect.cancelled() and connect.exception() is not None:
        return str(connect.exception()) or type(connect.exception()).__name__
    limit = args.timeout if args.wait else CONTACT_S
    return f"the broker did not answer within {limit:g} s"


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
