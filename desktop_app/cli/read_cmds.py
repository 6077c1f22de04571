"""`order-desk items | summary | rebuild`: read the view (after catching up with the log) or rebuild it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TextIO

from desktop_app.cli.as_of_reading import InvalidMoment, add_as_of_option, as_of_heading, as_of_moment, read_as_of
from desktop_app.cli.output import counted, format_table, json_time, money_json, pounds
from desktop_app.cli.reading import add_read_options, missing_data_dir, read_view, with_live_service
from desktop_app.query.bands import Band
from desktop_app.query.rebuild import RebuildOutcome, RebuildProgress
from desktop_app.query.service import NotProjectingError, QueryService
from desktop_app.query.views import ItemRow, Summary
from desktop_app.settings import Settings

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2
PROGRESS_EVERY_S = 0.5  # progress lines when stderr is not a terminal
PROGRESS_BAR_EVERY_S = 0.1  # redraws of the bar on a terminal
PROGRESS_BAR_WIDTH = 30
NO_LAG = {False: "unknown (not synced)", True: "none (a view as of a moment)"}


def register(subparsers: Any) -> None:
    items = subparsers.add_parser(
        "items", help="what each customer ordered, grouped by price band",
        description="List the read model's rows: one per customer, item and unit price, with the total "
        "quantity and number of orders. Bands: cheap under 5.00, affordable 5.00 to 50.00, expensive over 50.00.",
    )
    items.add_argument("--customer", metavar="ID", help="only this customer")
    items.add_argument("--band", choices=[band.value for band in Band], help="only this price band")
    add_as_of_option(items)
    add_read_options(items)
    items.set_defaults(func=run_items)

    summary = subparsers.add_parser(
        "summary", help="rows and quantity per band, events applied, quarantined records, lag",
        description="Totals of the read model, and how many records of the log it has not applied yet (lag).",
    )
    add_as_of_option(summary)
    add_read_options(summary)
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


# -- items -------------------------------------------------------------------------------------------------------
def item_json(row: ItemRow) -> dict[str, Any]:
    return {
        "customer_id": row.customer_id,
        "item": row.item,
        "unit_price": str(row.unit_price),
        "unit_price_pence": row.unit_price_pence,
        "band": row.band.value,
        "quantity": row.quantity,
        "orders": row.orders,
    } | money_json("line_value", row.line_value_pence)


def run_items(args: argparse.Namespace, settings: Settings) -> int:
    if missing_data_dir(args):
        return EXIT_INVALID
    try:
        moment = as_of_moment(args)
    except InvalidMoment as exc:
        print(f"order-desk: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if moment is not None:  # the view as it stood then, replayed into a temporary file
        heading, rows = read_as_of(settings, moment, args.sync_timeout, lambda view: (
            as_of_heading(view), view.items(band=args.band, customer=args.customer)))
        if not args.json:
            print(heading)
    else:
        rows = read_view(settings, args, lambda service: service.items(band=args.band, customer=args.customer))
    if args.json:
        print(json.dumps([item_json(row) for row in rows], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("No items.")
        return EXIT_OK
    print(items_text(rows))
    return EXIT_OK


def items_text(rows: list[ItemRow]) -> str:
    """The rows per band, each band with its £ total, then the total of all shown."""
    parts = []
    for band in Band:
        in_band = [row for row in rows if row.band is band]
        if not in_band:
            continue
        table = [("CUSTOMER", "ITEM", "UNIT PRICE", "QUANTITY", "ORDERS", "LINE VALUE")] + [
            (r.customer_id, r.item, str(r.unit_price), str(r.quantity), str(r.orders), str(r.line_value))
            for r in in_band
        ]
        # the total of exactly the rows printed (the same read), so the footer always adds up
        table.append(("total £", "", "", "", "", pounds(sum(r.line_value_pence for r in in_band))))
        title = f"{band.value} ({counted(len(in_band), 'row')})"
        parts.append(f"{title}\n{format_table(table, right_aligned={2, 3, 4, 5})}\n")
    parts.append(f"total £{pounds(sum(r.line_value_pence for r in rows))} ({counted(len(rows), 'row')})")
    return "\n".join(parts)


# -- summary ----------------------------------------------------------------------------------------------------
def band_values(totals: dict[tuple[str, Band], int]) -> dict[Band, int]:
    """value_totals (per customer and band) summed per band, every band present."""
    per_band = dict.fromkeys(Band, 0)
    for (_customer, band), pence in totals.items():
        per_band[band] += pence
    return per_band


def summary_json(summary: Summary, values: dict[Band, int], as_of: datetime | None = None) -> dict[str, Any]:
    return ({"as_of": json_time(as_of.astimezone(timezone.utc))} if as_of is not None else {}) | {
        "bands": {
            band.value: {"rows": totals.rows, "quantity": totals.quantity} | money_json("value", values[band])
            for band, totals in summary.bands.items()
        },
        **money_json("value", sum(values.values())),
        "events_applied": summary.events_applied,
        "quarantined": summary.quarantined,
        "ignored": summary.ignored,
        "lag": summary.lag.total if summary.lag is not None else None,
    }


def run_summary(args: argparse.Namespace, settings: Settings) -> int:
    if missing_data_dir(args):
        return EXIT_INVALID
    try:
        moment = as_of_moment(args)
    except InvalidMoment as exc:
        print(f"order-desk: {exc}", file=sys.stderr)
        return EXIT_INVALID
    heading = None
    if moment is not None:  # no lag: the view is the log as it stood then, not behind anything
        heading, summary, values = read_as_of(settings, moment, args.sync_timeout, lambda view: (
            as_of_heading(view), view.summary(topic=settings.topic), band_values(view.value_totals())))
    elif args.no_sync:
        summary, values = read_view(settings, args, lambda service: (
            service.read_model.summary(topic=service.topic), band_values(service.value_totals())))
    else:  # the lag needs one more answer from the broker: within what is left of --sync-timeout
        summary, values = with_live_service(settings, lambda service, left: (
            service.summary(timeout=max(0.5, left)), band_values(service.value_totals())),
            sync_timeout=args.sync_timeout)
    if args.json:
        print(json.dumps(summary_json(summary, values, moment), indent=2))
        return EXIT_OK
    if heading is not None:
        print(heading)
    print(summary_text(summary, values, as_of=heading is not None))
    return EXIT_OK


def summary_text(summary: Summary, values: dict[Band, int], *, as_of: bool = False) -> str:
    table = [("BAND", "ROWS", "QUANTITY", "VALUE £")] + [
        (band.value, str(totals.rows), str(totals.quantity), pounds(values[band]))
        for band, totals in summary.bands.items()
    ] + [("total", "", "", pounds(sum(values.values())))]
    return "\n".join([
        format_table(table, right_aligned={1, 2, 3}),
        f"events applied: {summary.events_applied}",
        f"quarantined:    {summary.quarantined}",
        f"ignored:        {summary.ignored}  (valid events that changed nothing: order-desk ignored)",
        f"lag:            {summary.lag.total if summary.lag is not None else NO_LAG[as_of]}",
    ])


# -- rebuild ----------------------------------------------------------------------------------------------------
def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    whole = int(round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def progress_line(progress: RebuildProgress, width: int = PROGRESS_BAR_WIDTH, label: str = "rebuilding") -> str:
    filled = int(progress.fraction * width)
    return (
        f"{label} [{'#' * filled}{'.' * (width - filled)}] {progress.done:,}/{progress.total:,} events "
        f"({int(progress.fraction * 100)}%) {progress.rate:,.0f} events/s, ETA {_duration(progress.eta_s)}"
    )


class ProgressBar:
    """progress(done, total) drawn on a stream: a bar redrawn in place on a terminal, else a line now and then."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic, label: str = "rebuilding") -> None:
        self._stream = stream
        self._label = label
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
        line = progress_line(RebuildProgress(done, total, now - self._started), label=self._label)
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
        outcome = with_live_service(settings, rebuild, sync_timeout=None, rebuild_outdated=True)
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
