"""What `place`, `cancel` and `amend` do once their events are committed to the outbox: give the relay a
short, bounded try to publish (or, with --wait, wait up to --timeout for "published", then "visible" in the
read model), and say so: the receipt first, on stdout, then on stderr what is still missing.

Exit codes: 0 accepted (queued or published; with --wait: visible); 3 --wait: not published within --timeout;
4 accepted (and maybe published) but not confirmed visible. After 3 or 4 the events are in the outbox and
will be published: the command must not be repeated (with the same --command-id it shows where it is).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.cli import EXIT_NOT_CONFIRMED, EXIT_OK, EXIT_UNAVAILABLE
from desktop_app.command.outbox import Receipt
from desktop_app.settings import Settings

if TYPE_CHECKING:
    from desktop_app.query.service import QueryService

log = logging.getLogger(__name__)

CONTACT_S = 0.5  # without --wait: how long the broker may take to answer at all (~40 ms when well; frozen: never)
PUBLISH_GRACE_S = 3.0  # without --wait: how long the relay may try in all before the process exits
STOP_FLUSH_S = 0.5  # closing the relay once the answer is known: no long flush of what it could not send
DEFAULT_WAIT_S = 30.0


@dataclass(frozen=True)
class Wording:
    """How a command names what it accepted, in its receipt and its problems."""

    command: str  # "place": as in `order-desk place --wait`
    noun: str  # "order": "the order is accepted"
    subject: Callable[[Receipt], str]  # what the receipt line starts with: "order <id>"
    json_extra: dict[str, Any] = field(default_factory=dict)  # added to the receipt's JSON object


PLACING = Wording("place", "order", lambda receipt: f"order {receipt.order_id}")


def add_wait_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--command-id", help=f"idempotency key: the same command id again returns the first "
                        f"receipt and adds no second {what} (default: a new UUID)")
    parser.add_argument("--wait", action="store_true",
                        help="wait until published and visible in the read model")
    parser.add_argument("--timeout", type=float, default=DEFAULT_WAIT_S, metavar="SECONDS",
                        help=f"how long --wait waits (default {DEFAULT_WAIT_S:g})")
    parser.add_argument("--json", action="store_true",
                        help='print one JSON object: {"order_id", "command_id", "status", "partition", "offset"}')


@dataclass
class Outcome:
    """What a command says once its events are accepted: the receipt, then (on stderr) what is still missing."""

    receipt: Receipt
    code: int = EXIT_OK
    visible: bool | None = None
    problem: str | None = None


class Deadline:
    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._at - time.monotonic())


def deadline_for(args: argparse.Namespace) -> Deadline:
    return Deadline(max(0.0, args.timeout) if args.wait else PUBLISH_GRACE_S)


async def accept_and_report(service: Any, accept: Callable[[], Awaitable[Receipt]], command_id: str,
                            args: argparse.Namespace, settings: Settings, deadline: Deadline, wording: Wording,
                            queries: QueryService | None = None) -> int:
    """Commit with `accept()` on the open command service, then publish, wait and report. Whatever happens
    after the commit, the receipt is printed first. Errors before the commit propagate (nothing accepted).
    `queries`: a started query service to wait on for "visible" (else one is opened for the wait)."""
    receipt = await accept()  # committed: from here on the receipt is always shown
    try:
        outcome = await after_commit(command_id, receipt, service, args, settings, deadline, wording, queries)
    except Exception as exc:  # noqa: BLE001 - the events are stored: say so before the error
        outcome = not_confirmed(service.receipt(command_id) or receipt, exc, settings, wording)
    say(outcome, args.json, wording)  # before the relay is closed: the answer does not wait for that
    return outcome.code


def say(outcome: Outcome, as_json: bool, wording: Wording) -> None:
    report(outcome.receipt, as_json, wording, visible=outcome.visible)
    sys.stdout.flush()
    if outcome.problem:
        print(f"order-desk: {outcome.problem}", file=sys.stderr)
    sys.stderr.flush()


def not_confirmed(receipt: Receipt, exc: Exception, settings: Settings, wording: Wording) -> Outcome:
    from desktop_app.cli import exit_reason

    log.error("%s: failed after it was accepted", wording.command, exc_info=True, extra={"file_only": True})
    return Outcome(receipt, EXIT_NOT_CONFIRMED, problem=f"the {wording.noun} is accepted ({receipt.status}) but "
                   f"not confirmed visible: {exit_reason(exc, settings)}; do not {wording.command} it again")


async def after_commit(command_id: str, receipt: Receipt, service: Any, args: argparse.Namespace,
                       settings: Settings, deadline: Deadline, wording: Wording,
                       queries: QueryService | None = None) -> Outcome:
    from desktop_app.bootstrap import connect_broker, embedded_broker, known_bootstrap_servers

    queued_in = settings.command_db_path
    noun = wording.noun
    if not service.relay_active and not args.wait:
        return Outcome(receipt, problem=f"queued in {queued_in}; the Order Desk running on {settings.data_dir} "
                       "relays its outbox and publishes it within seconds")
    if (settings.embedded and not args.wait and service.relay_active
            and not embedded_broker(settings, fetch_jars=False).is_running()):
        return Outcome(receipt, problem=f"the embedded broker is not running: the {noun} stays queued in "
                       f"{queued_in} and is sent once it runs (open the window, or "
                       f"`order-desk {wording.command} --wait`)")
    connect = asyncio.create_task(connect_broker(settings), name="place-connect")  # also ensures the topic
    try:
        if not args.wait:
            await asyncio.wait({connect}, timeout=min(CONTACT_S, deadline.remaining()))
        if args.wait or (connect.done() and connect.exception() is None):
            published = await _wait_published(service, command_id, deadline)
        else:
            published = None
    finally:
        connect.cancel()
        await asyncio.gather(connect, return_exceptions=True)
    if published is None:
        reason = _unreachable_reason(service, connect, args)
        where = "the running Order Desk publishes it within seconds" if not service.relay_active else \
            "it is sent as soon as an Order Desk on this data dir (the window, or another place) reaches the broker"
        return Outcome(service.receipt(command_id) or receipt, EXIT_UNAVAILABLE if args.wait else EXIT_OK,
                       problem=f"not published yet ({reason}); the {noun} stays queued in {queued_in} and {where}")
    if not args.wait:
        return Outcome(published)
    if queries is not None:
        visible = await _visible_in(queries, published, deadline.remaining())
    else:
        visible = await wait_until_visible(settings, known_bootstrap_servers(settings), published,
                                           deadline.remaining())
    if visible is False:
        return Outcome(published, EXIT_NOT_CONFIRMED, visible=False, problem=f"the {noun} is accepted "
                       f"({published.status}) but not confirmed visible: the read model did not show it within "
                       f"{args.timeout:g} s; do not {wording.command} it again")
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
    """Read-your-writes for --wait: True once the read model holds the receipt's record, False on
    timeout, None when it cannot tell (the broker acknowledged a re-send without its offset).

    This is the hook into the query side: it projects (or reads the projecting process's view) until
    the receipt's (partition, offset) is applied.
    """
    if receipt.partition is None or receipt.offset is None:
        return None
    partition, offset = receipt.partition, receipt.offset
    from desktop_app.bootstrap import query_service

    def wait() -> bool:  # opening a query service blocks: all of it in a worker thread
        with query_service(settings, bootstrap_servers) as queries:
            return queries.wait_until_visible(partition, offset, timeout)

    return await asyncio.to_thread(wait)


async def _visible_in(queries: QueryService, receipt: Receipt, timeout: float) -> bool | None:
    if receipt.partition is None or receipt.offset is None:
        return None
    return await asyncio.to_thread(queries.wait_until_visible, receipt.partition, receipt.offset, timeout)


def report(receipt: Receipt, as_json: bool, wording: Wording, *, visible: bool | None) -> None:
    status = "visible" if visible else receipt.status
    if as_json:
        print(json.dumps(receipt.as_json() | wording.json_extra | {"status": status}))
        return
    subject = wording.subject(receipt)
    if receipt.status == "published":
        where = f"partition {receipt.partition}" + ("" if receipt.offset is None else f", offset {receipt.offset}")
        shown = " and visible in the read model" if visible else ""
        print(f"{subject} published ({where}){shown}; command id {receipt.command_id}")
    else:
        print(f"{subject} accepted (queued for publishing); command id {receipt.command_id}")
