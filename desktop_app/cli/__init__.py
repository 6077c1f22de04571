"""`order-desk`: the GUI with no subcommand; broker / place / items / summary / rebuild / orders / order /
ignored / cancel / amend / history otherwise."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from desktop_app import __version__
from desktop_app.settings import Settings, config_file_path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3
EXIT_NOT_CONFIRMED = 4  # place, cancel, amend: accepted (in the outbox), but not confirmed visible

SUBCOMMAND_MODULES = (
    "desktop_app.cli.broker_cmds",
    "desktop_app.cli.place_cmd",
    "desktop_app.cli.read_cmds",
    "desktop_app.cli.order_cmds",
    "desktop_app.cli.change_cmds",
    "desktop_app.cli.history_cmds",
)

EPILOG = f"""\
With no command, the desktop window opens.

Settings come from command-line options, then ORDER_DESK_* environment variables, then the TOML file
{config_file_path()} (for example: bootstrap_servers = "kafka1:9092"). With no bootstrap servers, Order
Desk runs its own Apache Kafka broker under the data dir (Java 17+ and Maven needed once).

Exit codes: 0 success, 2 invalid input (for order, cancel and amend also: no such order; cancel and
amend: already cancelled), 3 broker unreachable (or not running, for broker status),
4 order accepted but not confirmed visible (place, cancel, amend; do not repeat it), 1 any other failure.

Examples:
  order-desk place --customer alice --item "Tea" --price 3.50 --qty 2 --wait
  order-desk items --band expensive --json
  order-desk items --as-of 2026-11-27T18:00 --json   (the view as it stood then; local time)
  order-desk orders --customer alice --status placed
  order-desk order 0b9f6a52-3c1e-4d2f-9a57-1f7e3b2c4d5e --json
  order-desk history --customer alice --item "Tea" --price 3.50
  order-desk cancel 0b9f6a52-3c1e-4d2f-9a57-1f7e3b2c4d5e --reason "wrong size" --wait
  order-desk broker status --json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="order-desk",
        description="Order Desk: place retail orders into an Apache Kafka event log and browse "
        "what each customer ordered, grouped by price band.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"order-desk {__version__}")
    parser.add_argument("--data-dir", type=Path, help="where this installation keeps everything "
                        "(default: the user data dir; env ORDER_DESK_DATA_DIR)")
    parser.add_argument("--bootstrap-servers", metavar="HOST:PORT[,...]",
                        help="use this Kafka cluster instead of the embedded broker "
                        "(env ORDER_DESK_BOOTSTRAP_SERVERS)")
    parser.add_argument("--topic", help="events topic (default orders.events; letters, digits, '.', '_', '-'; "
                        "not starting with '__'; env ORDER_DESK_TOPIC)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = subparsers.add_parser("gui", help="open the desktop window (the default)")
    gui.set_defaults(func=_run_gui)
    for name in SUBCOMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(subparsers)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {
        key: value
        for key, value in (
            ("data_dir", args.data_dir),
            ("bootstrap_servers", args.bootstrap_servers),
            ("topic", args.topic),
        )
        if value is not None
    }
    return Settings(**overrides)


def _run_gui(args: argparse.Namespace, settings: Settings) -> int:
    from desktop_app.ui.app import run_gui

    return run_gui(settings)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"])
            reason = error.get("ctx", {}).get("error") if error["type"] == "value_error" else None
            print(f"order-desk: invalid setting {where}: {reason or error['msg']}", file=sys.stderr)
        return EXIT_INVALID
    from desktop_app.logs import configure_logging

    configure_logging(settings, verbose=args.verbose)
    handler = getattr(args, "func", _run_gui)
    try:
        return int(handler(args, settings))
    except BrokenPipeError:  # `order-desk items | head`: the reader has gone; nothing more to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush stays quiet
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("order-desk: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one readable line, details in the log
        logging.getLogger("desktop_app.cli").error("command failed", exc_info=True, extra={"file_only": True})
        print(f"order-desk: {exit_reason(exc, settings)}", file=sys.stderr)
        return exit_code_for(exc)


def exit_reason(exc: BaseException, settings: Settings) -> str:
    import asyncio

    from aiokafka.errors import KafkaConnectionError

    from desktop_app.kafka_errors import explain_unreachable

    from sqlalchemy.exc import DBAPIError

    from desktop_app.cli.storage_errors import storage_problem

    problem = storage_problem(exc, settings.data_dir)
    if problem is not None:
        return problem
    if isinstance(exc, DBAPIError) and exc.orig is not None:  # its text would add the SQL and a web link
        exc = exc.orig
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    if isinstance(exc, KafkaConnectionError):
        from desktop_app.bootstrap import known_bootstrap_servers

        servers = known_bootstrap_servers(settings)
        why = asyncio.run(explain_unreachable(settings.kafka_client_kwargs(servers)))
        return f"cannot use the Kafka cluster at {servers}: {why}"
    return text


def exit_code_for(exc: BaseException) -> int:
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

    from desktop_app.broker import BrokerError, MissingPrerequisite

    if isinstance(exc, (BrokerError, MissingPrerequisite, KafkaConnectionError, KafkaTimeoutError)):
        return EXIT_UNAVAILABLE
    return EXIT_FAILURE
