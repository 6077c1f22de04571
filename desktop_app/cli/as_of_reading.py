"""`--as-of TIME` for the read commands: what a time means, and a view as of it, built for one command.

The view is replayed from the log into a temporary file beside the live view (query/as_of.py) and deleted
when the command ends, Ctrl-C included; the live view is not read or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

from desktop_app.cli.output import counted, table_time
from desktop_app.query.as_of import AsOfView
from desktop_app.settings import Settings

T = TypeVar("T")

AS_OF_HELP = ("show the view as it stood at TIME, replayed from the log: ISO 8601 such as 2026-11-27T18:00 or "
              "'2026-11-27 18:00'; a time without a zone is local time (add Z or +01:00 for another zone). "
              "Events count by their Kafka record timestamp (when the desk published them)")


class InvalidMoment(ValueError):
    """--as-of names no usable time (the message is the one line to print)."""


def add_as_of_option(parser: argparse.ArgumentParser) -> None:
    # parsed in the command, not by argparse: a bad time is one line (argparse would add its usage)
    parser.add_argument("--as-of", metavar="TIME", help=AS_OF_HELP)


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """The aware moment `text` names (naive: local time). InvalidMoment for anything else, or the future."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidMoment(f"--as-of {text!r} is not a time: write it as 2026-11-27T18:00 (local time) "
                            "or with a zone, e.g. 2026-11-27T18:00Z") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # read as local time
    if moment > (now or datetime.now(timezone.utc)):
        raise InvalidMoment(f"--as-of {text!r} is in the future: the log can only say what was")
    return moment


def as_of_moment(args: argparse.Namespace) -> datetime | None:
    """The --as-of moment of a read command, or None for the live view. InvalidMoment with the one line."""
    text = getattr(args, "as_of", None)
    if text is None:
        return None
    if getattr(args, "no_sync", False):
        raise InvalidMoment("--as-of reads the log from the broker: it cannot be combined with --no-sync")
    return parse_moment(text)


def as_of_heading(view: AsOfView) -> str:
    return (f"As of {table_time(view.moment)} local time ({counted(view.records, 'event')} replayed; "
            "a read-only view, deleted now)")


def read_as_of(settings: Settings, moment: datetime, sync_timeout: float,
               body: Callable[[AsOfView], T]) -> T:
    """`body(view)` on the view as it stood at `moment`, progress on stderr meanwhile; the view's file is
    deleted afterwards, whatever happens (a Ctrl-C during the build cancels it and deletes it first)."""
    from desktop_app.bootstrap import query_service
    from desktop_app.cli.read_cmds import ProgressBar
    from desktop_app.cli.reading import connect_within

    bootstrap_servers = asyncio.run(connect_within(settings, sync_timeout))
    service = query_service(settings, bootstrap_servers, rebuild_outdated=False)  # never started: no projecting
    bar = ProgressBar(sys.stderr, label="building the view as of the moment")
    try:
        view = service.as_of(moment, on_progress=bar).start().follow()
    finally:
        bar.close()
        service.close()
    try:
        return body(view)
    finally:
        view.close()
