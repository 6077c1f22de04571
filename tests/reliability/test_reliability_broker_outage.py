"""Broker outage: the broker is stopped (cleanly, or SIGKILLed) and restarted while orders are entered.

Promise tested: the till keeps taking orders, and cancelling them, when Kafka is down. Every order and
cancellation (about one order in ten, any earlier order still placed, maybe one still unpublished) is
accepted at once, and once the broker is back every one is published and counted exactly once: the view
equals a fresh replay and is the sum of the orders still placed as typed.
The desk is the app's own runtime (DeskRuntime: command service and relay, projector, broker link),
in this process; the broker is the session's real broker.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from desktop_app.bootstrap import DeskRuntime
from desktop_app.command.order_changes import CancelOrder
from desktop_app.command.outbox import Receipt
from desktop_app.query.orders_view import OrderStatus
from desktop_app.settings import Settings
from support.log_audit import (
    ViewState,
    audit,
    expected_view,
    full_rows,
    read_log,
    replay_fresh_state,
    view_state,
    view_totals,
)
from support.order_stream import order_fields, place_order_command, typed_view

RECOVERY_S = 180.0  # bound of publishing and projecting everything once the broker is back
CANCEL_SHARE = 0.10  # of the orders


@dataclass
class Entered:
    """What was typed at the till, and the receipts."""

    typed: dict[str, dict[str, Any]] = field(default_factory=dict)  # place command id -> fields
    orders: list[Receipt] = field(default_factory=list)
    cancels: list[Receipt] = field(default_factory=list)
    open: list[Receipt] = field(default_factory=list)  # orders not cancelled
    cancelled: set[str] = field(default_factory=set)  # place command ids of the cancelled orders


async def enter_range(runtime: DeskRuntime, rng: random.Random, start: int, stop: int, entered: Entered) -> None:
    """Orders start..stop-1; after each, with chance CANCEL_SHARE, the cancellation of an earlier one."""
    for n in range(start, stop):
        fields = order_fields(rng, f"outage-{n}", unique_item=True)
        receipt = await runtime.command.place_order(place_order_command(fields))
        entered.typed[receipt.command_id] = fields
        entered.orders.append(receipt)
        entered.open.append(receipt)
        if rng.random() < CANCEL_SHARE:
            victim = entered.open.pop(rng.randrange(len(entered.open)))
            entered.cancels.append(await runtime.command.cancel_order(
                CancelOrder(order_id=str(victim.order_id), reason="outage test", command_id=f"outage-cancel-{n}")))
            entered.cancelled.add(victim.command_id)


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
    topic_ready: Settings, running_broker, tmp_path: Path, outage: str, count: int, report
) -> None:
    settings = topic_ready
    rng = random.Random(f"outage-{outage}-{count}")
    go_down = running_broker.kill if outage == "sigkill" else running_broker.stop
    quarter = count // 4
    entered = Entered()

    async def scenario() -> tuple[int, ViewState]:
        runtime = DeskRuntime(settings)
        await runtime.start()
        try:
            await enter_range(runtime, rng, 0, quarter, entered)  # broker up, relay publishing
            going_down = asyncio.create_task(asyncio.to_thread(go_down))
            await enter_range(runtime, rng, quarter, 2 * quarter, entered)  # while it goes down
            await going_down
            assert not running_broker.is_running()
            await enter_range(runtime, rng, 2 * quarter, 3 * quarter, entered)  # while it is down
            pending_in_outage = runtime.command.pending_count()
            coming_back = asyncio.create_task(asyncio.to_thread(running_broker.start))
            await enter_range(runtime, rng, 3 * quarter, count, entered)  # while it comes back
            await coming_back
            await drained(runtime, RECOVERY_S)
            assert await asyncio.to_thread(runtime.query.catch_up, RECOVERY_S), "the view did not catch up"
            return pending_in_outage, view_state(runtime.query)
        finally:
            await runtime.stop()

    pending_in_outage, desk = asyncio.run(scenario())

    receipts = entered.orders
    assert len(receipts) == count and len({r.command_id for r in receipts}) == count
    assert entered.cancels, "the run cancelled no order"
    assert pending_in_outage >= quarter, "orders entered while the broker was down must wait in the outbox"
    log = audit(asyncio.run(read_log(settings.kafka_client_kwargs(), settings.topic)))
    assert not log.malformed
    assert {command: ids for command, ids in log.event_ids_by_command.items()} == {
        r.command_id: {r.event_id} for r in receipts + entered.cancels
    }, "each accepted order and cancellation must be exactly one event in the log"
    rows = desk.rows
    assert view_totals(rows) == expected_view(log.events.values())
    still_placed = [fields for command, fields in entered.typed.items() if command not in entered.cancelled]
    assert view_totals(rows) == typed_view(still_placed), "the view is not the sum of the orders still placed"
    assert sorted((r.item.split(" ", 1)[1], r.orders) for r in rows if " outage-" in r.item) == sorted(
        (r.command_id, 1) for r in receipts if r.command_id not in entered.cancelled
    ), "each order still placed must be in the view exactly once, and a cancelled one not at all"
    cancelled_ids = {r.order_id for r in receipts if r.command_id in entered.cancelled}
    assert {o for o, row in desk.orders.items() if row.status == OrderStatus.CANCELLED} == cancelled_ids
    assert not desk.ignored, f"cancellations that did not apply: {desk.ignored[:3]}"
    fresh = replay_fresh_state(settings.kafka_client_kwargs(), settings.topic, tmp_path / "fresh")
    assert full_rows(rows) == full_rows(fresh.rows), "the desk's view differs from a fresh replay"
    assert desk.orders == fresh.orders and not fresh.ignored, "the desk's orders differ from a fresh replay's"
    report(f"{count} orders, {len(entered.cancels)} cancelled, broker {outage}: {pending_in_outage} queued during "
           f"the outage; {log.duplicate_records} duplicate records in the log (counted once)")
