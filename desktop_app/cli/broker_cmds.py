"""`order-desk broker start|stop|status [--json]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from desktop_app.bootstrap import connect_broker, embedded_broker
from desktop_app.cli import EXIT_OK, EXIT_UNAVAILABLE
from desktop_app.broker.topics import describe_topic, probe_metadata
from desktop_app.settings import Settings


def register(subparsers: Any) -> None:
    broker = subparsers.add_parser("broker", help="start, stop or inspect the Kafka broker")
    actions = broker.add_subparsers(dest="broker_action", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="start the embedded broker (or check the configured cluster) "
                               "and create the events topic")
    start.set_defaults(func=start_command)
    stop = actions.add_parser("stop", help="stop the embedded broker cleanly")
    stop.set_defaults(func=stop_command)
    status = actions.add_parser("status", help="is the broker up; the topic's partitions and retention",
                                description="Whether the broker answers, and the events topic's partitions and "
                                "retention.", epilog="Exit codes: 0 running; 3 not running or not answering "
                                "(the report is printed either way, --json included).")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=status_command)


def start_command(args: argparse.Namespace, settings: Settings) -> int:
    connection = asyncio.run(connect_broker(settings))
    where = "embedded broker" if connection.embedded else "external cluster"
    verb = "started" if connection.started_here else "running"
    print(f"{where} {verb} at {connection.bootstrap_servers}; topic {connection.topic.name} "
          f"({connection.topic.partitions} partitions)")
    warning = connection.topic.retention_warning()
    if warning:
        print(warning, file=sys.stderr)
    return 0


def stop_command(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.embedded:
        print("order-desk: an external cluster is configured; there is no embedded broker to stop",
              file=sys.stderr)
        return 1
    stopped = asyncio.run(embedded_broker(settings, fetch_jars=False).stop())
    print("embedded broker stopped" if stopped else "embedded broker was not running")
    return 0


async def broker_status(settings: Settings) -> dict[str, Any]:
    status: dict[str, Any] = {
        "running": False,
        "bootstrap_servers": settings.bootstrap_servers,
        "embedded": settings.embedded,
        "topic": settings.topic,
        "partitions": 0,
        "retention_ms": None,
        "retention_bytes": None,
        "warning": None,
    }
    if settings.embedded:
        broker = embedded_broker(settings, fetch_jars=False)
        status["pid"] = broker.pid()
        if status["pid"] is None:  # and its address only if it ever ran: status creates nothing
            status["bootstrap_servers"] = broker.bootstrap_servers if broker.identity_file.exists() else None
            return status
        status["bootstrap_servers"] = broker.bootstrap_servers
    kwargs = settings.kafka_client_kwargs(status["bootstrap_servers"])
    try:
        await probe_metadata(kwargs, timeout_ms=3000)
    except Exception as exc:  # noqa: BLE001 - status reports, it does not fail
        status["error"] = str(exc) or type(exc).__name__
        return status
    status["running"] = True
    info = await describe_topic(kwargs, settings.topic)
    if info is not None:
        status.update(partitions=info.partitions, retention_ms=info.retention_ms,
                      retention_bytes=info.retention_bytes, warning=info.retention_warning())
    return status


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    status = asyncio.run(broker_status(settings))
    if args.json:
        print(json.dumps(status))
    else:
        kind = "embedded broker" if status["embedded"] else "external cluster"
        state = "running" if status["running"] else "not running"
        where = f"at {status['bootstrap_servers']}" if status["bootstrap_servers"] else "(never started here)"
        print(f"{kind} {where}: {state}")
        if status["running"]:
            print(f"topic {status['topic']}: {status['partitions']} partitions, "
                  f"retention.ms={status['retention_ms']}")
    if status.get("warning"):
        print(status["warning"], file=sys.stderr)
    return EXIT_OK if status["running"] else EXIT_UNAVAILABLE
