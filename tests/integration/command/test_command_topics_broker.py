"""Each order goes to the topic it was accepted for, whatever topic a later desk runs with (real broker)."""

from __future__ import annotations

import asyncio
import socket

from desktop_app.broker.topics import FOREVER, describe_topic, ensure_topic
from desktop_app.command.model import LineInput, PlaceOrder, check
from desktop_app.command.outbox import Outbox
from desktop_app.command.relay import RelayOptions
from desktop_app.command.service import CommandService
from desktop_app.settings import Settings

from command_topic import WAIT_S, produce_events, read_topic

FAST = RelayOptions(backoff_initial_s=0.1, backoff_max_s=1.0, health_every_s=0.5, stall_after_s=1.0)


def unused_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def order(n: int, customer: str = "alice") -> PlaceOrder:
    return PlaceOrder(customer, (LineInput(f"item {n}", "2.50", "1"),), f"cmd-{n}")


def desk(settings: Settings, topic: str, servers: str | None = None) -> CommandService:
    """A command service as bootstrap wires it: topics met in the outbox are provisioned like the desk's own."""
    client_kwargs = settings.kafka_client_kwargs(servers)

    async def provision(name: str):
        return await ensure_topic(client_kwargs, name, settings.partitions)

    return CommandService(settings.command_db_path, client_kwargs, topic, "topics-test",
                          relay_options=FAST, provision_topic=provision)


def command_ids(logged) -> list[str]:
    return sorted(e.event.payload.command_id for e in logged)


def test_orders_queued_for_one_topic_are_published_there_by_a_desk_on_another(settings: Settings) -> None:
    alpha, beta = f"{settings.topic}.alpha", f"{settings.topic}.beta"
    kwargs = settings.kafka_client_kwargs()

    async def scenario():
        async with desk(settings, alpha, servers=unused_address()) as offline:  # the broker cannot be reached
            for n in range(3):
                assert (await offline.place_order(order(n, customer=["alice", "bob"][n % 2]))).status == "accepted"
            assert offline.pending_count() == 3
        await ensure_topic(kwargs, beta, settings.partitions)  # as bootstrap does for the desk's own topic
        async with desk(settings, beta) as online:
            await online.place_order(order(3))
            await online.place_order(order(4, customer="bob"))
            published = [await online.wait_published(f"cmd-{n}", WAIT_S) for n in range(5)]
        return published, await read_topic(kwargs, alpha), await read_topic(kwargs, beta)

    published, on_alpha, on_beta = asyncio.run(scenario())
    assert command_ids(on_alpha) == ["cmd-0", "cmd-1", "cmd-2"]
    assert command_ids(on_beta) == ["cmd-3", "cmd-4"]
    assert {(r.partition, r.offset) for r in published[:3]} == {(e.partition, e.offset) for e in on_alpha}
    created = asyncio.run(describe_topic(kwargs, alpha))
    assert created is not None and created.partitions == settings.partitions
    assert (created.retention_ms, created.retention_bytes) == (FOREVER, FOREVER)  # the log is kept forever


def test_events_acked_on_their_topic_before_a_crash_are_found_there_not_sent_again(topic_ready: Settings) -> None:
    alpha = f"{topic_ready.topic}.alpha"
    kwargs = topic_ready.kafka_client_kwargs()
    asyncio.run(ensure_topic(kwargs, alpha, topic_ready.partitions))
    crashed = Outbox(topic_ready.command_db_path, alpha)  # a desk on alpha: acked by the broker, never recorded
    try:
        for n in range(10):
            crashed.accept(check(order(n, customer=f"c{n % 3}")).to_event("crashed-app"))
        pending = crashed.pending(10)
        crashed.mark_attempted([p.seq for p in pending])
        positions = asyncio.run(produce_events(kwargs, alpha, [p.event for p in pending]))
    finally:
        crashed.close()

    async def restart_on_the_default_topic():
        async with desk(topic_ready, topic_ready.topic) as restarted:
            receipts = [await restarted.wait_published(f"cmd-{n}", WAIT_S) for n in range(10)]
        return receipts, await read_topic(kwargs, alpha), await read_topic(kwargs, topic_ready.topic)

    receipts, on_alpha, on_default = asyncio.run(restart_on_the_default_topic())
    assert [(r.partition, r.offset) for r in receipts] == positions  # found in alpha's log
    assert len(on_alpha) == 10 and on_default == []
