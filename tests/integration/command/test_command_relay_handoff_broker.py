"""The rows handed to the relay at commit (`pending_rows`) against the real broker: a hand-off lost with its
process is still published from the outbox, exactly once, in order, also while the next process hands over
its own new rows."""

from __future__ import annotations

import asyncio

from desktop_app.command.model import LineInput, PlaceOrder
from desktop_app.command.outbox import Outbox
from desktop_app.command.relay import RelayOptions
from desktop_app.command.service import CommandService
from desktop_app.settings import Settings

from command_topic import WAIT_S, command_ids_per_customer, read_topic

CUSTOMERS = [f"customer {n}" for n in range(7)]
FIRST, LATER = 400, 150
OPTIONS = RelayOptions(batch_size=60, backoff_initial_s=0.1, backoff_max_s=1.0)


def order(n: int) -> PlaceOrder:
    return PlaceOrder(CUSTOMERS[n % len(CUSTOMERS)], (LineInput(f"item {n}", "0.75", "2"),), f"handoff-{n:04d}")


def desk(settings: Settings, stop_flush_s: float) -> CommandService:
    return CommandService(settings.command_db_path, settings.kafka_client_kwargs(), settings.topic,
                          "integration-test", relay_options=OPTIONS, stop_flush_s=stop_flush_s)


def test_rows_handed_to_a_relay_that_dies_are_published_from_the_outbox_exactly_once(topic_ready: Settings) -> None:
    commands = [order(n) for n in range(FIRST + LATER)]

    async def first_process() -> int:
        service = desk(topic_ready, stop_flush_s=0.0)  # stopped at once: what it was handed is lost
        await service.start()
        async with asyncio.timeout(WAIT_S):
            while not service.relay_connected:
                await asyncio.sleep(0.01)
        await service.place_orders(commands[:10])  # the relay has read the outbox: it now takes hand-offs
        await service.wait_published(commands[9].command_id, WAIT_S)
        for first in range(10, FIRST, 50):
            await service.place_orders(commands[first:first + 50])
        await service.stop()
        return service_pending(topic_ready)

    async def next_process():  # type: ignore[no-untyped-def]
        async with desk(topic_ready, stop_flush_s=2.0) as service:
            for first in range(FIRST, FIRST + LATER, 30):  # new hand-offs while the old rows are read
                await service.place_orders(commands[first:first + 30])
            receipts = [await service.wait_published(cmd.command_id, WAIT_S) for cmd in commands]
        return receipts, await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

    left_pending = asyncio.run(first_process())
    assert left_pending > 0  # the last chunks were only in the lost hand-off and in the outbox
    receipts, logged = asyncio.run(next_process())

    assert sorted(entry.event.payload.command_id for entry in logged) == sorted(c.command_id for c in commands)
    assert len({entry.event.event_id for entry in logged}) == len(logged) == len(commands)  # none twice
    at = {(entry.partition, entry.offset): entry.event.event_id for entry in logged}
    assert [at[(r.partition, r.offset)] for r in receipts] == [r.event_id for r in receipts]  # type: ignore[index]
    expected: dict[str, list[str]] = {}
    for cmd in commands:
        expected.setdefault(cmd.customer_id, []).append(cmd.command_id)
    assert command_ids_per_customer(logged) == expected  # each customer's orders in submission order


def service_pending(settings: Settings) -> int:
    outbox = Outbox(settings.command_db_path, settings.topic)
    try:
        return outbox.pending_count()
    finally:
        outbox.close()


class CountingOutbox(Outbox):
    """The real outbox, counting the relay's note transactions (a subclass, not a mock)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[int, int]] = []  # per note transaction: (acks, first attempts)

    def mark_published(self, acks, attempted=(), at=None) -> None:  # type: ignore[no-untyped-def]
        acks, attempted = list(acks), list(attempted)
        self.notes.append((len(acks), len(attempted)))
        super().mark_published(acks, attempted, at)


def test_each_round_notes_its_acks_and_the_next_rounds_attempt_in_one_transaction(topic_ready: Settings) -> None:
    from desktop_app.command.model import check
    from desktop_app.command.relay import Relay

    rounds, size = 6, 40
    events = [check(order(n)).to_event("integration-test") for n in range(rounds * size)]
    warm_up = check(order(rounds * size)).to_event("integration-test")

    async def scenario() -> CountingOutbox:
        outbox = CountingOutbox(topic_ready.command_db_path, topic_ready.topic)
        relay = Relay(outbox, topic_ready.kafka_client_kwargs(), lock_path=topic_ready.command_db_path.with_name("lock"),
                      options=RelayOptions(batch_size=size, idle_poll_s=5.0))
        relay.start()
        try:
            async with asyncio.timeout(WAIT_S):
                await asyncio.to_thread(outbox.accept, warm_up)
                relay.wake()
                while outbox.pending_count():  # published: the relay has read the outbox, takes hand-offs now
                    await relay.wait_progress(1.0)
                await asyncio.sleep(0.5)  # its next read (of nothing) done, it waits to be woken
                outbox.notes.clear()
                await asyncio.to_thread(outbox.accept_many, events)  # queued ahead of the relay: 6 rounds
                relay.wake()
                while outbox.pending_count():
                    await relay.wait_progress(1.0)
        finally:
            await relay.stop()
        return outbox

    outbox = asyncio.run(scenario())
    try:
        # the first round notes its attempt alone; every later one comes with the previous round's acks
        assert outbox.notes == [(0, size)] + [(size, size)] * (rounds - 1) + [(size, 0)]
        with outbox._read() as conn:  # every event's first attempt was noted before it was published
            assert conn.execute("SELECT count(*) FROM outbox WHERE attempted_at IS NULL").fetchone()[0] == 0
    finally:
        outbox.close()
