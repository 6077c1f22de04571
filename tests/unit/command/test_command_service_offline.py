"""CommandService with no broker to talk to (an address nobody listens on): orders are still accepted,
invalid ones write nothing, and the relay reports that it cannot publish."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from desktop_app.command.model import InvalidOrder, LineInput, PlaceOrder
from desktop_app.command.outbox import Outbox
from desktop_app.command.relay import RelayOptions
from desktop_app.command.service import CommandService, ServiceNotStarted

FAST = RelayOptions(backoff_initial_s=0.05, backoff_max_s=0.2, standby_poll_s=0.05, idle_poll_s=0.05)


def unused_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def service(db_path: Path) -> CommandService:
    return CommandService(
        db_path, {"bootstrap_servers": unused_address()}, "orders", "unit-test", relay_options=FAST,
        stop_flush_s=0.5,
    )


def tea(customer: str = "alice", command_id: str = "cmd-1") -> PlaceOrder:
    return PlaceOrder(customer, (LineInput("Tea", "19.99", "3"),), command_id)


async def eventually(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def test_orders_are_accepted_and_kept_while_the_broker_is_unreachable(tmp_path: Path) -> None:
    db_path = tmp_path / "command.db"

    async def scenario() -> None:
        async with service(db_path) as desk:
            receipts = [await desk.place_order(tea(f"c{n % 3}", f"cmd-{n}")) for n in range(5)]
            assert [r.status for r in receipts] == ["accepted"] * 5
            assert desk.pending_count() == 5
            await eventually(lambda: desk.last_error is not None)
            assert not desk.relay_connected
            assert "cannot reach the broker" in desk.last_error
            with pytest.raises(TimeoutError):
                await desk.wait_published("cmd-0", timeout=0.3)
            assert desk.receipt("cmd-4") == receipts[4]
            assert desk.receipt("no-such-command") is None
        async with service(db_path) as restarted:  # the queue survives a restart of the app
            assert restarted.pending_count() == 5
            assert restarted.receipt("cmd-2") == receipts[2]

    asyncio.run(scenario())


def test_an_invalid_order_raises_with_every_problem_and_writes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with service(tmp_path / "command.db") as desk:
            bad = PlaceOrder(" ", (LineInput("Tea", "4.999", "0"),), "cmd-1")
            with pytest.raises(InvalidOrder) as refused:
                await desk.place_order(bad)
            assert [str(p) for p in refused.value.problems] == [
                "Customer: is required",
                "Line 1 price: at most 2 decimal places",
                "Line 1 quantity: must be from 1 to 10,000",
            ]
            assert desk.validate(bad) == refused.value.problems
            assert desk.pending_count() == 0 and desk.receipt("cmd-1") is None

    asyncio.run(scenario())
    check = Outbox(tmp_path / "command.db", "orders")
    try:
        assert check.receipts() == []
    finally:
        check.close()


def test_the_same_command_twice_is_one_event(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with service(tmp_path / "command.db") as desk:
            first = await desk.place_order(tea())
            second = await desk.place_order(tea())
            assert second == first and desk.pending_count() == 1

    asyncio.run(scenario())


def test_one_process_relays_an_outbox_and_another_takes_over_when_it_stops(tmp_path: Path) -> None:
    db_path = tmp_path / "command.db"

    async def scenario() -> None:
        first, second = service(db_path), service(db_path)
        await first.start()
        await eventually(lambda: first.relay_active)
        await second.start()
        await asyncio.sleep(0.3)  # several standby polls
        assert not second.relay_active
        await first.stop()
        await eventually(lambda: second.relay_active)
        await second.stop()

    asyncio.run(scenario())


def test_the_service_must_be_started(tmp_path: Path) -> None:
    desk = service(tmp_path / "command.db")
    with pytest.raises(ServiceNotStarted):
        asyncio.run(desk.place_order(tea()))
    with pytest.raises(ServiceNotStarted):
        desk.pending_count()
    assert not (tmp_path / "command.db").exists()
    assert not desk.relay_connected and desk.last_error is None


def test_status_listeners_hear_about_an_unreachable_broker(tmp_path: Path) -> None:
    async def scenario() -> None:
        desk = service(tmp_path / "command.db")
        heard: list[tuple[bool, str | None]] = []
        desk.add_status_listener(lambda: heard.append((desk.relay_connected, desk.last_error)))
        async with desk:
            await eventually(lambda: bool(heard))
        assert heard[0][0] is False and "cannot reach the broker" in (heard[0][1] or "")

    asyncio.run(scenario())


@pytest.mark.parametrize("topic", ["__consumer_offsets", "", "a b", "."])
def test_a_service_for_an_internal_or_invalid_topic_is_refused_before_any_store(tmp_path: Path, topic: str) -> None:
    with pytest.raises(ValueError):
        CommandService(tmp_path / "command.db", {"bootstrap_servers": unused_address()}, topic, "unit-test")
    assert list(tmp_path.iterdir()) == []


def test_cancel_and_amend_are_accepted_offline_and_invalid_ones_write_nothing(tmp_path: Path) -> None:
    from desktop_app.command.order_changes import AmendOrder, CancelOrder

    async def scenario() -> None:
        async with service(tmp_path / "command.db") as desk:
            first = await desk.place_order(tea("alice", "p1"))
            second = await desk.place_order(tea("bob", "p2"))
            cancelled = await desk.cancel_order(CancelOrder(str(first.order_id), "typo", "c1"))
            assert (cancelled.order_id, cancelled.status) == (first.order_id, "accepted")
            amended = await desk.amend_order(AmendOrder(str(second.order_id), (LineInput("Tea", "1", "1"),),
                                                        command_id="a1"))
            assert amended.order_id != second.order_id and desk.receipt("a1") == amended
            assert await desk.amend_order(AmendOrder(str(second.order_id), (LineInput("Tea", "1", "1"),),
                                                     command_id="a1")) == amended  # a repeat
            with pytest.raises(InvalidOrder, match="is already cancelled"):
                await desk.cancel_order(CancelOrder(str(first.order_id), command_id="c2"))
            with pytest.raises(InvalidOrder, match="is not an order id"):
                await desk.cancel_order(CancelOrder("x"))
            assert desk.validate_change(CancelOrder("x")) == desk.validate_change(CancelOrder("y"))
            assert desk.pending_count() == 5

    asyncio.run(scenario())
