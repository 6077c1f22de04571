"""`order-desk items | summary | rebuild`: read the view (after catching up with the log) or rebuild it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from desktop_app.query.bands import Band
from desktop_app.query.rebuild import RebuildOutcome, RebuildProgress
from desktop_app.query.service import NotProjectingError, QueryService
from desktop_app.query.views import ItemRow, Summary
from desktop_app.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2
DEFAULT_SYNC_TIMEOUT_S = 30.0
PROGRESS_EVERY_S = 0.5  # progress lines when stderr is not a terminal
PROGRESS_BAR_EVERY_S = 0.1  # redraws of the bar on a terminal
PROGRESS_BAR_WIDTH = 30
HEAL_POLL_S = 0.2  # how often a reader looks whether the damaged view has been rebuilt


def register(subparsers: Any) -> None:
    items = subparsers.add_parser(
        "items", help="what each customer ordered, grouped by price band",
        description="List the read model's rows: one per customer, item and unit price, with the total "
        "quantity and number of orders. Bands: cheap under 5.00, affordable 5.00 to 50.00, expensive over 50.00.",
    )
    items.add_argument("--customer", metavar="ID", help="only this customer")
    items.add_argument("--band", choices=[band.value for band in Band], help="only this price band")
    _add_read_options(items)
    items.set_defaults(func=run_items)

    summary = subparsers.add_parser(
        "summary", help="rows and quantity per band, events applied, quarantined records, lag",
        description="Totals of the read model, and how many records of the log it has not applied yet (lag).",
    )
    _add_read_options(summary)
    summary.set_defaults(func=run_summary)

    rebuild = subparsers.add_parser(
        "rebuild", help="rebuild the read model from the whole log, without downtime",
        description="Replay the log from the beginning into a new read model beside the current one (which "
        "stays readable and live), then swap it in. Progress on stderr; Ctrl-C cancels and leaves the "
        "current view as it was.",
    )
    rebuild.add_argument("--json", action="store_true",
                         help='print a summary as JSON: {"events", "seconds", "rows", "quarantined"}')
    rebuild.set_defaults(func=run_rebuild)


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-sync", action="store_true",
                        help="read the view as it is, without contacting the broker to catch up first")
    parser.add_argument("--sync-timeout", type=float, default=DEFAULT_SYNC_TIMEOUT_S, metavar="SECONDS",
                        help=f"longest wait to catch up with the log (default {DEFAULT_SYNC_TIMEOUT_S:.0f})")


# -- running a command with a query service ------------------------------------------------------------------
def _offline_service(settings: Settings) -> QueryService:
    from desktop_app.bootstrap import query_service

    return query_service(settings, settings.bootstrap_servers, rebuild_outdated=False)


def _with_live_service(
    settings: Settings, body: Callable[[QueryService, float], T], *, sync_timeout: float | None,
    rebuild_outdated: bool = False,
) -> T:
    """Run `body(service, seconds left)` with a started query service (projecting unless another process
    does), after catching up. `sync_timeout` bounds the whole wait for the broker, a frozen one included;
    only starting a stopped embedded broker may take longer (up to its start timeout).

    The service works in its own threads, so the blocking calls below do not need this loop.
    """
    from desktop_app.bootstrap import query_service

    async def run() -> T:
        deadline = None if sync_timeout is None else time.monotonic() + sync_timeout

        def left() -> float:
            return float("inf") if deadline is None else max(0.0, deadline - time.monotonic())

        bootstrap_servers = await _connect_within(settings, sync_timeout)
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
            return body(service, left())
        finally:
            service.close()

    return asyncio.run(run())


def _wait_while_healing(service: QueryService, seconds: float) -> None:
    """A reader that found the view damaged waits for the process that projects it to rebuild it (its
    stored offsets still look caught up, and reading on would fail or miss rows)."""
    deadline = time.monotonic() + seconds
    while service.health is not None and time.monotonic() < deadline:
        time.sleep(HEAL_POLL_S)


async def _connect_within(settings: Settings, timeout: float | None) -> str:
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


def _read(settings: Settings, args: argparse.Namespace, body: Callable[[QueryService], T]) -> T:
    if args.no_sync:
        service = _offline_service(settings)
        try:
            return body(service)
        finally:
            service.close()
    return _with_live_service(settings, lambda service, _left: body(service), sync_timeout=args.sync_timeout)


# -- items -------------------------------------------------------------------------------------------------------
def item_json(row: ItemRow) -> dict[str, Any]:
    return {
        "customer_id": row.customer_id,
        "item": row.item,
        "unit_price": str(row.unit_price),
        "band": row.band.value,
        "quantity": row.quantity,
        "orders": row.orders,
    }


def missing_data_dir(args: argparse.Namespace) -> bool:
    """A --data-dir that does not exist is a typo, not a new installation: say so instead of reading nothing."""
    data_dir = getattr(args, "data_dir", None)
    if data_dir is None or data_dir.is_dir():
        return False
    print(f"order-desk: the data dir {data_dir} does not exist (check --data-dir; places and the window "
          "create it)", file=sys.stderr)
    return True


def run_items(args: argparse.Namespace, settings: Settings) -> int:
    if missing_data_dir(args):
        return EXIT_INVALID
    rows = _read(settings, args, lambda service: service.items(band=args.band, customer=args.customer))
    if args.json:
        print(json.dumps([item_json(row) for row in rows], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("No items.")
        return EXIT_OK
    for band in Band:
        in_band = [row for row in rows if row.band is band]
        if not in_band:
            continue
        print(f"{band.value} ({len(in_band)} {'row' if len(in_band) == 1 else 'rows'})")
        table = [("CUSTOMER", "ITEM", "UNIT PRICE", "QUANTITY", "ORDERS")] + [
            (r.customer_id, r.item, str(r.unit_price), str(r.quantity), str(r.orders)) for r in in_band
        ]
        print(_format_table(table, right_aligned={2, 3, 4}))
        print()
    return EXIT_OK


def _format_table(table: list[tuple[str, ...]], right_aligned: set[int]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for row in table:
        cells = [cell.rjust(w) if i in right_aligned else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


# -- summary ----------------------------------------------------------------------------------------------------
def summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "bands": {
            band.value: {"rows": totals.rows, "quantity": totals.quantity} for band, totals in summary.bands.items()
        },
        "events_applied": summary.events_applied,
        "quarantined": summary.quarantined,
        "lag": summary.lag.total if summary.lag is not None else None,
    }


def run_summary(args: argparse.Namespace, settings: Settings) -> int:
    if missing_data_dir(args):
        return EXIT_INVALID
    if args.no_sync:
        summary = _read(settings, args, lambda service: service.read_model.summary(topic=service.topic))
    else:  # the lag needs one more answer from the broker: within what is left of --sync-timeout
        summary = _with_live_service(settings, lambda service, left: service.summary(timeout=max(0.5, left)),
                                     sync_timeout=args.sync_timeout)
    if args.json:
        print(json.dumps(summary_json(summary), indent=2))
        return EXIT_OK
    table = [("BAND", "ROWS", "QUANTITY")] + [
        (band.value, str(totals.rows), str(totals.quantity)) for band, totals in summary.bands.items()
    ]
    print(_format_table(table, right_aligned={1, 2}))
    print(f"events applied: {summary.events_applied}")
    print(f"quarantined:    {summary.quarantined}")
    print(f"lag:            {summary.lag.total if summary.lag is not None else 'unknown (not synced)'}")
    return EXIT_OK


# -- rebuild ----------------------------------------------------------------------------------------------------
def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    whole = int(round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def progress_line(progress: RebuildProgress, width: int = PROGRESS_BAR_WIDTH) -> str:
    filled = int(progress.fraction * width)
    return (
        f"rebuilding [{'#' * filled}{'.' * (width - filled)}] {progress.done:,}/{progress.total:,} events "
        f"({int(progress.fraction * 100)}%) {progress.rate:,.0f} events/s, ETA {_duration(progress.eta_s)}"
    )


class ProgressBar:
    """progress(done, total) drawn on a stream: a bar redrawn in place on a terminal, else a line now and then."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._terminal = stream.isatty()
        self._last_drawn: float | None = None
        self._last_line = ""
        self._drawn_final = False

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        final = done >= total
        every = PROGRESS_BAR_EVERY_S if self._terminal else PROGRESS_EVERY_S
        if self._drawn_final or (not final and self._last_drawn is not None and now - self._last_drawn < every):
            return
        self._last_drawn = now
        self._drawn_final = final
        line = progress_line(RebuildProgress(done, total, now - self._started))
        if self._terminal:
            self._stream.write("\r" + line.ljust(len(self._last_line)))
        else:
            self._stream.write(line + "\n")
        self._last_line = line
        self._stream.flush()

    def close(self) -> None:
        if self._terminal and self._last_line:
            self._stream.write("\n")
            self._stream.flush()


def rebuild_json(outcome: RebuildOutcome) -> dict[str, Any]:
    return {
        "events": outcome.events,
        "seconds": round(outcome.seconds, 3),
        "rows": outcome.rows,
        "quarantined": outcome.quarantined,
    }


def run_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    if missing_data_dir(args):
        return EXIT_INVALID
    def rebuild(service: QueryService, _left: float) -> RebuildOutcome | None:
        if not service.is_projecting:
            return None
        bar = ProgressBar(sys.stderr)
        try:
            return service.rebuild(progress=bar)
        finally:
            bar.close()

    try:
        outcome = _with_live_service(settings, rebuild, sync_timeout=None, rebuild_outdated=True)
    except NotProjectingError as exc:
        outcome, reason = None, str(exc)
    else:
        reason = f"another process (the desktop window?) projects into {settings.readmodel_db_path}; " \
                 "rebuild from there, or close it first"
    if outcome is None:
        print(f"order-desk: cannot rebuild: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    if not outcome.completed:
        print("order-desk: the rebuild was cancelled; the read model is as it was", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(rebuild_json(outcome), indent=2))
    else:
        print(f"Rebuilt the read model from {outcome.events:,} events in {outcome.seconds:.1f}s: "
              f"{outcome.rows:,} rows, {outcome.quarantined:,} quarantined.")
    return EXIT_OK
