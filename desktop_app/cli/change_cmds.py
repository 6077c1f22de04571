"""`order-desk cancel | amend`: change an order already placed, with the exit codes and receipt of `place`.

What is typed is checked before anything is opened (exit 2, nothing written). The order itself is then
checked by the command side against this desk's outbox and the query side's view (bootstrap's
QueryOrderLookup). So that the view knows what the log knows, it is caught up first, as the read commands
do, within --sync-timeout; when the broker does not answer (or with --no-sync) the view is used as it is,
with a warning: the outbox still knows this desk's own orders, and the projector is the final judge (a
cancellation that cannot apply changes nothing and is listed by `order-desk ignored`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from typing import Any

from desktop_app.cli import EXIT_INVALID
from desktop_app.cli.place_cmd import add_line_option
from desktop_app.cli.reading import add_sync_options, connect_within, offline_service, started_service
from desktop_app.cli.receipts import STOP_FLUSH_S, Wording, accept_and_report, add_wait_options, deadline_for
from desktop_app.command.model import InvalidOrder, LineInput, Problem, new_command_id
from desktop_app.command.order_changes import (DEFAULT_AMEND_REASON, AmendOrder, CancelOrder, OrderChange,
                                               order_id_of, validate_change)
from desktop_app.command.outbox import CommandIdReused
from desktop_app.query.service import QueryService
from desktop_app.settings import Settings

log = logging.getLogger(__name__)

EPILOG = """\
The order is checked against this desk's outbox (what it accepted, even unpublished) and the view, caught
up with the log first (at most --sync-timeout; with --no-sync, or a broker that does not answer, the view
as it is). The projector is the final judge: a {noun} that turns out not to apply (say, another desk
cancelled the order first) changes nothing and is listed by `order-desk ignored`.

Exit codes:
  0  accepted (queued or published); with --wait: published and visible in the read model
  2  invalid input, one line per problem (nothing written): not an order id, no such order, an order
     already cancelled, another customer's (--customer), a reason over 200 characters{lines}
  3  --wait: accepted, but not published within --timeout (the broker did not answer; it stays queued)
  4  --wait: accepted (and maybe published), but not confirmed visible in the read model
  1  any other failure
After 3 or 4 the {noun} is in the outbox and will be published: do not {command} again. The receipt is
printed before the error; the same --command-id again shows where it is and adds nothing.

Example:
  {example}
"""


def register(subparsers: Any) -> None:
    cancel = subparsers.add_parser(
        "cancel", help="cancel an order: its lines leave the view, the order stays listed as cancelled",
        description="Cancel an order: one OrderCancelled event, which takes exactly that order's lines out\n"
        "of the view. The order stays listed, as cancelled.",
        epilog=EPILOG.format(noun="cancellation", command="cancel", lines="",
                             example='order-desk cancel 0b9f6a52-3c1e-4d2f-9a57-1f7e3b2c4d5e --reason "typo" --wait'),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cancel.add_argument("order_id", metavar="ORDER_ID", help="the order's id (as `order-desk orders` shows it)")
    cancel.add_argument("--reason", default="", help="why, as free text (at most 200 characters)")
    _add_change_options(cancel, "cancellation")
    cancel.set_defaults(func=run_cancel)

    amend = subparsers.add_parser(
        "amend", help="replace an order's lines (the order is cancelled and a new one placed)",
        description="Amend an order: its OrderCancelled and a new OrderPlaced naming it (replaces), both or\n"
        "neither, in one outbox transaction. The new order has only the lines given here.",
        epilog=EPILOG.format(noun="amendment", command="amend", lines=", an invalid --line",
                             example="order-desk amend 0b9f6a52-3c1e-4d2f-9a57-1f7e3b2c4d5e --line Tea 3.50 1 "
                             "--line Mug 4.50 2 --wait"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    amend.add_argument("order_id", metavar="ORDER_ID", help="the order's id (as `order-desk orders` shows it)")
    add_line_option(amend, "a line of the new order (repeatable, at least one; prices in pounds, e.g. 3.50)")
    amend.add_argument("--reason", default=DEFAULT_AMEND_REASON,
                       help=f"why, as free text (at most 200 characters; default {DEFAULT_AMEND_REASON!r})")
    _add_change_options(amend, "amendment")
    amend.set_defaults(func=run_amend)


def _add_change_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--customer", metavar="ID", help="refuse unless the order is this customer's")
    add_wait_options(parser, what)
    add_sync_options(parser)


def cancel_from_args(args: argparse.Namespace) -> CancelOrder:
    return CancelOrder(args.order_id, args.reason, args.command_id or new_command_id(), args.customer)


def amend_from_args(args: argparse.Namespace) -> AmendOrder:
    lines = tuple(LineInput(item=item, price=price, quantity=qty) for item, price, qty in args.lines)
    return AmendOrder(args.order_id, lines, args.reason, args.command_id or new_command_id(), args.customer)


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    return _run(cancel_from_args(args), args, settings)


def run_amend(args: argparse.Namespace, settings: Settings) -> int:
    return _run(amend_from_args(args), args, settings)


def wording_for(cmd: OrderChange) -> Wording:
    if isinstance(cmd, CancelOrder):
        return Wording("cancel", "cancellation", lambda receipt: f"cancellation of order {receipt.order_id}")
    old = order_id_of(cmd.order_id)
    return Wording("amend", "amendment", lambda receipt: f"order {receipt.order_id} (replacing order {old})",
                   {"replaces": str(old)})


def _refuse(problems: tuple[Problem, ...]) -> int:
    for problem in problems:
        print(f"order-desk: {problem}", file=sys.stderr)
    return EXIT_INVALID


def _run(cmd: OrderChange, args: argparse.Namespace, settings: Settings) -> int:
    problems = validate_change(cmd)  # before opening anything: invalid input writes nothing
    if problems:
        return _refuse(problems)
    queries, live = view_to_check(settings, args)
    try:
        return asyncio.run(_change(cmd, args, settings, queries if live else None, queries))
    except InvalidOrder as exc:  # the order itself: unknown, already cancelled, another customer's
        return _refuse(exc.problems)
    except CommandIdReused as exc:
        print(f"order-desk: {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        queries.close()


def view_to_check(settings: Settings, args: argparse.Namespace) -> tuple[QueryService, bool]:
    """The query service whose view the order is checked against, and whether it is live (started and caught
    up with the log within --sync-timeout). Not live with --no-sync, or when the broker does not answer:
    then the view as it is, with a warning."""
    from desktop_app.bootstrap import UNREACHABLE
    from desktop_app.cli import exit_reason

    if args.no_sync:
        return offline_service(settings), False
    deadline = time.monotonic() + args.sync_timeout
    try:
        servers = asyncio.run(connect_within(settings, args.sync_timeout))
    except UNREACHABLE as exc:
        print(f"order-desk: warning: cannot catch up with the log ({exit_reason(exc, settings)}); checking "
              "the order against the view as it is", file=sys.stderr)
        return offline_service(settings), False
    return started_service(settings, servers, args.sync_timeout,
                           lambda: max(0.0, deadline - time.monotonic())), True


async def _change(cmd: OrderChange, args: argparse.Namespace, settings: Settings, live: QueryService | None,
                  queries: QueryService) -> int:
    from desktop_app.bootstrap import QueryOrderLookup, open_command_service

    deadline = deadline_for(args)
    code: int | None = None
    try:
        async with open_command_service(settings, stop_flush_s=STOP_FLUSH_S,
                                        order_lookup=QueryOrderLookup(queries)) as service:
            accept: Any = service.cancel_order if isinstance(cmd, CancelOrder) else service.amend_order
            code = await accept_and_report(service, lambda: accept(cmd), cmd.command_id, args, settings, deadline,
                                           wording_for(cmd), queries=live)
    except Exception as exc:
        if code is None:
            raise  # nothing accepted: refused (InvalidOrder), or the usual error handling (main)
        log.warning("closing the outbox after %s failed: %s", wording_for(cmd).command, exc, exc_info=True)
    return code
