"""The relay's per-partition batches against the real broker: every event on its customer's partition (the
one a plain `producer.send()` picks), in submission order, at the offset its receipt names, byte for byte."""

from __future__ import annotations

import asyncio

from desktop_app import contracts
from desktop_app.command.model import LineInput, PlaceOrder
from desktop_app.command.outbox import Outbox
from desktop_app.command.relay import RelayOptions
from desktop_app.command.service import CommandService
from desktop_app.settings import Settings

from command_topic import WAIT_S, produce_events, read_topic

CUSTOMERS = [f"customer {n}" for n in range(40)]
ORDERS = 300


def order(n: int) -> PlaceOrder:
    return PlaceOrder(CUSTOMERS[n % len(CUSTOMERS)], (LineInput(f"item {n}", "2.50", "1"),), f"batch-{n:04d}")


def big_order() -> PlaceOrder:
    """About 20 kB of JSON: more than one default producer batch (16 kB) holds."""
    lines = tuple(LineInput(f"{n:03d} " + "x" * 110, "1.00", "1") for n in range(contracts.MAX_LINES))
    return PlaceOrder(CUSTOMERS[0], lines, "batch-big")


def test_relayed_events_land_where_send_would_put_them_in_order_at_their_receipts(topic_ready: Settings) -> None:
    commands = [order(n) for n in range(ORDERS // 2)] + [big_order()] + [order(n) for n in range(ORDERS // 2, ORDERS)]

    async def scenario():  # type: ignore[no-untyped-def]
        desk = CommandService(topic_ready.command_db_path, topic_ready.kafka_client_kwargs(), topic_ready.topic,
                              "integration-test", relay_options=RelayOptions(batch_size=120))
        async with desk:
            for first in range(0, len(commands), 50):
                await desk.place_orders(commands[first:first + 50])
            receipts = [await desk.wait_published(cmd.command_id, WAIT_S) for cmd in commands]
        return receipts, await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

    receipts, logged = asyncio.run(scenario())
    assert len(logged) == len(commands)
    at = {(entry.partition, entry.offset): entry for entry in logged}
    for cmd, receipt in zip(commands, receipts, strict=True):
        entry = at[(receipt.partition, receipt.offset)]  # type: ignore[index]
        assert entry.event.payload.command_id == cmd.command_id and entry.event.event_id == receipt.event_id
        assert entry.key == contracts.event_key(entry.event.payload.customer_id)
    for customer in CUSTOMERS:  # one partition per customer, its events in submission order
        mine = [entry for entry in logged if entry.event.payload.customer_id == customer]
        assert len({entry.partition for entry in mine}) == 1
        submitted = [c.command_id for c in commands if c.customer_id == customer]
        assert [e.event.payload.command_id for e in mine] == submitted

    outbox = Outbox(topic_ready.command_db_path, topic_ready.topic)
    try:
        stored = {receipt.event_id: receipt for receipt in outbox.receipts()}
        assert set(stored) == {entry.event.event_id for entry in logged}
    finally:
        outbox.close()
    for entry in logged:  # the value is the contract's encoding of the event, the headers its type's
        record = contracts.encode(entry.event)
        assert entry.headers == record.headers

    # a plain producer.send() of each customer's next event picks the partition the relay used
    probes = [contracts.new_order_placed(customer_id=customer, command_id=f"probe-{n}", source="probe",
                                         lines=[contracts.OrderLine(item="probe", unit_price_pence=1, quantity=1)])
              for n, customer in enumerate(CUSTOMERS)]
    placed = asyncio.run(produce_events(topic_ready.kafka_client_kwargs(), topic_ready.topic, probes))
    relay_partition = {entry.event.payload.customer_id: entry.partition for entry in logged}
    assert {customer: partition for customer, (partition, _) in zip(CUSTOMERS, placed, strict=True)} == relay_partition
