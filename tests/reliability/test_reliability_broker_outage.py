"""Broker outage: the broker is stopped (cleanly, or SIGKILLed) and restarted while orders are entered.

Promise tested: the till keeps taking orders when Kafka is down. Every order is accepted at once, and
once the broker is back every one is published and visible in the view exactly once.
The desk is the app's own runtime (DeskRuntime: command service and relay, projector, broker link),
in this process; the broker is the session's real broker.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from desktop_app.bootstrap import DeskRuntime
from desktop_app.command.outbox import Receipt
from desktop_app.settings import Settings
from support.log_audit import audit, expected_view, read_log, view_totals
from support.order_stream import order_fields, place_order_command

RECOVERY_S = 180.0  # bound of publishing and projecting everything once the broker is back


async def place_range(runtime: DeskRuntime, rng: random.Random, start: int, stop: int) -> list[Receipt]:
    receipts = []
    for n in range(start, stop):
        receipts.append(await runtime.command.place_order(
            place_order_command(order_fields(rng, f"outage-{n}", unique_item=True))))
    return receipts


async def drained(runtime: DeskRuntime, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while runtime.command.pending_count():
        assert time.monotonic() < deadline, (
            f"{runtime.command.pending_count()} orders still unpublished {timeout}s after the broker came back "
            f"(relay: {runtime.command.last_error})")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("outage", ["sigkill", "clean-stop"])
@pytest.mark.parametrize(
    "count", [pytest.param(100, id="short"), pytest.param(1000, id="full", marks=pytest.mark.slow)]
)
def test_orders_entered_during_a_broker_outage_are_all_accepted_and_visible_once(
    topic_ready: Settings, running_broker, outage: str, count: int, report
) -> None:
    settings = topic_ready
    rng = random.Random(f"outage-{outage}-{count}")
    go_down = running_broker.kill if outage == "sigkill" else running_broker.stop
    quarter = count // 4

    async def scenario() -> tuple[list[Receipt], int, list]:
        runtime = DeskRuntime(settings)
        await runtime.start()
        try:
            receipts = await place_range(runtime, rng, 0, quarter)  # broker up, relay publishing
            going_down = asyncio.create_task(asyncio.to_thread(go_down))
            receipts += await place_range(runtime, rng, quarter, 2 * quarter)  # while it goes down
            await going_down
            assert not running_broker.is_running()
            receipts += await place_range(runtime, rng, 2 * quarter, 3 * quarter)  # while it is down
            pending_in_outage = runtime.command.pending_count()
            coming_back = asyncio.create_task(asyncio.to_thread(running_broker.start))
            receipts += await place_range(runtime, rng, 3 * quarter, count)  # while it comes back
            await coming_back
            await drained(runtime, RECOVERY_S)
            assert await asyncio.to_thread(runtime.query.catch_up, RECOVERY_S), "the view did not catch up"
            return receipts, pending_in_outage, runtime.query.items()
        finally:
            await runtime.stop()

    receipts, pending_in_outage, rows = asyncio.run(scenario())

    assert len(receipts) == count and len({r.command_id for r in receipts}) == count
    assert pending_in_outage >= quarter, "orders entered while the broker was down must wait in the outbox"
    log = audit(asyncio.run(read_log(settings.kafka_client_kwargs(), settings.topic)))
    assert not log.malformed
    assert {command: ids for command, ids in log.event_ids_by_command.items()} == {
        r.command_id: {r.event_id} for r in receipts
    }, "each accepted order must be exactly one event in the log"
    assert view_totals(rows) == expected_view(log.events.values())
    assert sorted((r.item.split(" ", 1)[1], r.orders) for r in rows if " outage-" in r.item) == sorted(
        (r.command_id, 1) for r in receipts
    ), "each order must be in the view exactly once"
    report(f"{count} orders, broker {outage}: {pending_in_outage} queued during the outage; "
           f"{log.duplicate_records} duplicate records in the log (counted once)")
