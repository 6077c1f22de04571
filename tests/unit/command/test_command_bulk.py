"""Many orders at once (CommandService.place_orders, Outbox.accept_many): one transaction, all or none;
and the relay sends the stored event bytes exactly as contracts.encode would. No broker."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from desktop_app import contracts
from desktop_app.command.model import InvalidOrders, LineInput, PlaceOrder, check
from desktop_app.command.outbox import CommandIdReused, Outbox
from desktop_app.command.relay import RelayOptions
from desktop_app.command.service import CommandService


def unused_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def order(n: int, customer: str = "alice", price: str = "3.50") -> PlaceOrder:
    return PlaceOrder(customer, (LineInput(f"Tea {n}", price, "2"), LineInput("Mug", "12.00", 1)), f"cmd-{n}")


def run_with_service(db_path: Path, scenario) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        service = CommandService(db_path, {"bootstrap_servers": unused_address()}, "orders", "unit-test",
                                 relay_options=RelayOptions(backoff_initial_s=0.05, backoff_max_s=0.1),
                                 stop_flush_s=0.2)
        async with service:
            await scenario(service)

    asyncio.run(main())


def test_place_orders_accepts_every_order_in_order(tmp_path: Path) -> None:
    async def scenario(service: CommandService) -> None:
        receipts = await service.place_orders([order(n) for n in range(50)])
        assert [r.command_id for r in receipts] == [f"cmd-{n}" for n in range(50)]
        assert {r.status for r in receipts} == {"accepted"}
        assert len({r.order_id for r in receipts}) == 50
        assert service.pending_count() == 50
        assert [service.receipt(f"cmd-{n}") for n in range(50)] == receipts

    run_with_service(tmp_path / "command.db", scenario)
    outbox = Outbox(tmp_path / "command.db", "orders")
    try:
        pending = outbox.pending(100)
        assert [p.command_id for p in pending] == [f"cmd-{n}" for n in range(50)]
        assert [(line.item, line.unit_price_pence, line.quantity) for line in pending[7].event.payload.lines] == [
            ("Tea 7", 350, 2), ("Mug", 1200, 1)]
    finally:
        outbox.close()


def test_one_invalid_order_refuses_the_whole_batch_and_says_which(tmp_path: Path) -> None:
    async def scenario(service: CommandService) -> None:
        batch = [order(0), order(1, price="4.999"), order(2), PlaceOrder(" ", (), "cmd-3")]
        with pytest.raises(InvalidOrders) as refused:
            await service.place_orders(batch)
        assert sorted(refused.value.refused) == [1, 3]
        assert [p.field for p in refused.value.refused[1]] == ["line[1].price"]
        assert {p.field for p in refused.value.refused[3]} == {"customer", "lines"}
        assert str(refused.value).startswith("order 2: Line 1 price: at most 2 decimal places")
        assert service.pending_count() == 0

    run_with_service(tmp_path / "command.db", scenario)


def test_repeated_command_ids_get_their_first_receipt_and_a_reused_one_rolls_back(tmp_path: Path) -> None:
    async def scenario(service: CommandService) -> None:
        first = await service.place_orders([order(0), order(1)])
        again = await service.place_orders([order(1), order(2), order(2)])  # seen before, new, repeated
        assert again[0] == first[1]
        assert again[1] == again[2]
        assert service.pending_count() == 3
        with pytest.raises(CommandIdReused, match="cmd-0"):
            await service.place_orders([order(3), order(0, customer="bob")])
        assert service.receipt("cmd-3") is None  # the whole batch was rolled back
        assert service.pending_count() == 3

    run_with_service(tmp_path / "command.db", scenario)


def test_accept_many_is_one_transaction(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "command.db", "orders")
    try:
        events = [check(order(n)).to_event("unit-test") for n in range(3)]
        before = outbox._conn.total_changes
        outcomes = outbox.accept_many(events)
        assert [created for _, created in outcomes] == [True, True, True]
        assert outbox._conn.total_changes - before == 3
        assert outbox.accept_many([]) == []
    finally:
        outbox.close()


def test_the_relay_sends_the_stored_bytes_as_contracts_encode_would(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "command.db", "orders")
    try:
        accepted = check(PlaceOrder(" Zoë ", (LineInput("Crème brûlée", "£4.99", " 3 "),), "cmd-é")).to_event("desk")
        cancelled = contracts.new_order_cancelled(order_id=accepted.payload.order_id, customer_id="Zoë",
                                                  command_id="cancel-é", reason="typo: « 3 »", source="desk")
        outbox.accept(accepted)
        with outbox.change() as change:
            change.add("cancel-é", cancelled)
        for pending, event in zip(outbox.pending(10), [accepted, cancelled], strict=True):
            record = contracts.encode(event)
            assert pending.event_json == record.value
            assert pending.customer_id.encode("utf-8") == record.key
            assert pending.headers == list(record.headers)
            assert contracts.decode(pending.event_json, pending.headers) == event
    finally:
        outbox.close()
