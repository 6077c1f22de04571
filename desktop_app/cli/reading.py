"""How a read command gets its view: the shared options (--json, --no-sync, --sync-timeout), a query service
caught up with the log (or read as it is), and the refusal of a --data-dir that does not exist."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from desktop_app.query.service import QueryService
from desktop_app.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_SYNC_TIMEOUT_S = 30.0
HEAL_POLL_S = 0.2  # how often a reader looks whether the damaged view has been rebuilt


def add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_sync_options(parser)


def add_sync_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-sync", action="store_true",
                        help="read the view as it is, without contacting the broker to catch up first")
    parser.add_argument("--sync-timeout", type=float, default=DEFAULT_SYNC_TIMEOUT_S, metavar="SECONDS",
                        help=f"longest wait to catch up with the log (default {DEFAULT_SYNC_TIMEOUT_S:.0f})")


def missing_data_dir(args: argparse.Namespace) -> bool:
    """A --data-dir that does not exist is a typo, not a new installation: say so instead of reading nothing."""
    data_dir = getattr(args, "data_dir", None)
    if data_dir is None or data_dir.is_dir():
        return False
    print(f"order-desk: the data dir {data_dir} does not exist (check --data-dir; places and the window "
          "create it)", file=sys.stderr)
    return True


def offline_service(settings: Settings) -> QueryService:
    from desktop_app.bootstrap import query_service

    return query_service(settings, settings.bootstrap_servers, rebuild_outdated=False)


def with_live_service(
    settings: Settings, body: Callable[[QueryService, float], T], *, sync_timeout: float | None,
    rebuild_outdated: bool = False,
) -> T:
    """Run `body(service, seconds left)` with a started query service (projecting unless another process
    does), after catching up. `sync_timeout` bounds the whole wait for the broker, a frozen one included;
    only starting a stopped embedded broker may take longer (up to its start timeout).

    The service works in its own threads, so `body` runs outside the event loop: inside `asyncio.run` a Ctrl-C
    only cancels the loop's task, which a blocking call notices when it has returned (a rebuild swapped in).
    """
    deadline = None if sync_timeout is None else time.monotonic() + sync_timeout

    def left() -> float:
        return float("inf") if deadline is None else max(0.0, deadline - time.monotonic())

    bootstrap_servers = asyncio.run(connect_within(settings, sync_timeout))
    service = started_service(settings, bootstrap_servers, sync_timeout, left, rebuild_outdated=rebuild_outdated)
    try:
        return body(service, left())
    finally:
        service.close()


def started_service(settings: Settings, bootstrap_servers: str, sync_timeout: float | None,
                    left: Callable[[], float], *, rebuild_outdated: bool = False) -> QueryService:
    """A started query service caught up with the log within `left()` seconds (with a warning if not),
    having waited for a damaged view's rebuild; no catching up when `sync_timeout` is None."""
    from desktop_app.bootstrap import query_service

    service = query_service(settings, bootstrap_servers, rebuild_outdated=rebuild_outdated)
    try:
        service.start()
        if service.health:  # the view was found damaged and is being rebuilt from the log
            print(f"order-desk: {service.health}", file=sys.stderr)
            if sync_timeout is not None:
                _wait_while_healing(service, left())
        if sync_timeout is not None and not service.catch_up(left()):
            print(f"order-desk: warning: not caught up with the log within {sync_timeout:g}s; "
                  "the view may be behind", file=sys.stderr)
        _warn_if_outdated(service, rebuild_outdated)
    except BaseException:
        service.close()
        raise
    return service


def _warn_if_outdated(service: QueryService, rebuilding: bool) -> None:
    """One line when the view was built by an older version: events it projected then lack what this version
    adds (orders, line values), so an order may be "unknown" until the view is rebuilt."""
    try:
        reason = service.outdated_reason
    except Exception:  # noqa: BLE001 - a view that cannot be read says so in the command itself
        return
    if reason is not None and not rebuilding:
        print(f"order-desk: warning: the read model is outdated ({reason}): what it shows may be incomplete "
              "until the desktop app or 'order-desk rebuild' rebuilds it", file=sys.stderr)


def _wait_while_healing(service: QueryService, seconds: float) -> None:
    """A reader that found the view damaged waits for the process that projects it to rebuild it (its
    stored offsets still look caught up, and reading on would fail or miss rows)."""
    deadline = time.monotonic() + seconds
    while service.health is not None and time.monotonic() < deadline:
        time.sleep(HEAL_POLL_S)


async def connect_within(settings: Settings, timeout: float | None) -> str:
    """The broker's address once it answers (and the topic exists): BrokerError if not within `timeout`."""
    from desktop_app.bootstrap import connect_broker, embedded_broker, known_bootstrap_servers
    from desktop_app.broker import BrokerError

    starting = settings.embedded and not embedded_broker(settings, fetch_jars=False).is_running()
    try:
        async with asyncio.timeout(None if timeout is None or starting else timeout):
            connection = await connect_broker(settings)
    except TimeoutError:
        raise BrokerError(f"the Kafka broker at {known_bootstrap_servers(settings)} did not answer within "
                          f"{timeout:g} s (--sync-timeout); --no-sync reads the view as it is") from None
    if connection.started_here:
        log.warning("started the embedded Kafka broker on %s; it keeps running (stop it with "
                    "'order-desk broker stop')", connection.bootstrap_servers)
    return connection.bootstrap_servers


def read_view(settings: Settings, args: argparse.Namespace, body: Callable[[QueryService], T]) -> T:
    """`body(service)` on the view: caught up first, unless --no-sync."""
    if args.no_sync:
        service = offline_service(settings)
        try:
            return body(service)
        finally:
            service.close()
    return with_live_service(settings, lambda service, _left: body(service), sync_timeout=args.sync_timeout)
