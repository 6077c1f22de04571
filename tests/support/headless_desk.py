"""Order Desk without a window, as a separate process: the desktop's runtime (command service with its
relay, projector, broker link) driven by JSON lines on stdin, answering with JSON lines on stdout.

    python headless_desk.py DATA_DIR BOOTSTRAP_SERVERS TOPIC PARTITIONS

stdin, one JSON object a line:
    {"op": "place", "command_id": "...", "customer": "...", "lines": [["Tea", "3.50", "2"], ...]}
    {"op": "cancel", "command_id": "...", "order_id": "...", "reason": "..."}
    {"op": "cancel", "command_id": "...", "of_command": "...", "reason": "..."}
                                       of_command: the order this process accepted for that place command
    {"op": "sync", "timeout": 60}      publish everything, then catch the view up with the log
EOF stops the desk cleanly.

stdout, one JSON object a line:
    {"op": "ready"}
    {"op": "accepted", "kind": "place"|"cancel", "command_id", "event_id", "order_id", "status"}
                                       once the outbox holds the order (or the cancellation of order_id)
    {"op": "refused", "kind", "command_id", "problems"}
    {"op": "synced", "pending": 0, "caught_up": true, "lag": 0}
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from desktop_app.bootstrap import DeskRuntime
from desktop_app.command.model import InvalidOrder, LineInput, PlaceOrder
from desktop_app.command.order_changes import CancelOrder
from desktop_app.command.outbox import Receipt
from desktop_app.settings import Settings


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def accepted(kind: str, receipt: Receipt) -> None:
    say({"op": "accepted", "kind": kind, "command_id": receipt.command_id, "event_id": str(receipt.event_id),
         "order_id": str(receipt.order_id), "status": receipt.status})


def refused(kind: str, command_id: str, exc: InvalidOrder) -> None:
    say({"op": "refused", "kind": kind, "command_id": command_id, "problems": [str(p) for p in exc.problems]})


async def place(runtime: DeskRuntime, request: dict[str, Any], orders: dict[str, str]) -> None:
    cmd = PlaceOrder(
        request["customer"],
        tuple(LineInput(item, price, quantity) for item, price, quantity in request["lines"]),
        request["command_id"],
    )
    try:
        receipt = await runtime.command.place_order(cmd)
    except InvalidOrder as exc:
        refused("place", cmd.command_id, exc)
        return
    orders[cmd.command_id] = str(receipt.order_id)
    accepted("place", receipt)


async def cancel(runtime: DeskRuntime, request: dict[str, Any], orders: dict[str, str]) -> None:
    order_id = request["order_id"] if "order_id" in request else orders[request["of_command"]]
    cmd = CancelOrder(order_id=order_id, reason=request.get("reason", ""), command_id=request["command_id"])
    try:
        receipt = await runtime.command.cancel_order(cmd)
    except InvalidOrder as exc:
        refused("cancel", cmd.command_id, exc)
        return
    accepted("cancel", receipt)


async def sync(runtime: DeskRuntime, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while runtime.command.pending_count() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    pending = runtime.command.pending_count()
    remaining = max(1.0, deadline - time.monotonic())
    caught_up = await asyncio.to_thread(runtime.query.catch_up, remaining)
    lag = await asyncio.to_thread(runtime.query.lag)
    say({"op": "synced", "pending": pending, "caught_up": caught_up, "lag": lag.total})


async def serve(settings: Settings) -> None:
    runtime = DeskRuntime(settings)
    await runtime.start()
    say({"op": "ready"})
    orders: dict[str, str] = {}  # place command id -> order id, of the orders this process accepted
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return
            request = json.loads(line)
            if request["op"] == "place":
                await place(runtime, request, orders)
            elif request["op"] == "cancel":
                await cancel(runtime, request, orders)
            elif request["op"] == "sync":
                await sync(runtime, float(request.get("timeout", 60)))
            else:
                raise ValueError(f"unknown op {request['op']!r}")
    finally:
        await runtime.stop()


def main(argv: list[str]) -> int:
    data_dir, bootstrap_servers, topic, partitions = argv
    settings = Settings(data_dir=Path(data_dir), bootstrap_servers=bootstrap_servers, topic=topic,
                        partitions=int(partitions), client_id="headless-desk")
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
