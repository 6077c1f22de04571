"""The command side against the real broker: what lands in the topic, idempotency, outages, restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import desktop_app
from desktop_app.command.model import LineInput, PlaceOrder, check
from desktop_app.command.outbox import Outbox
from desktop_app.command.relay import RelayOptions
from desktop_app.command.service import CommandService
from desktop_app.settings import Settings

from command_topic import WAIT_S, command_ids_per_customer, produce_events, read_topic

FAST = RelayOptions(backoff_initial_s=0.1, backoff_max_s=1.0, health_every_s=0.5, stall_after_s=1.0)
CUSTOMERS = ["alice", "bob", "carol", "dan", "erin"]


def service(settings: Settings, options: RelayOptions = FAST) -> CommandService:
    return CommandService(settings.command_db_path, settings.kafka_client_kwargs(), settings.topic,
                          "integration-test", relay_options=options)


def command_id(n: int) -> str:
    return f"cmd-{n:04d}"


def numbered_order(n: int) -> PlaceOrder:
    """Order n of the test: customers take turns, each order is recognisable by its command id."""
    return PlaceOrder(CUSTOMERS[n % len(CUSTOMERS)], (LineInput(f"item {n}", "1.25", "1"),), command_id(n))


def submitted_per_customer(count: int) -> dict[str, list[str]]:
    expected: dict[str, list[str]] = {}
    for n in range(count):
        expected.setdefault(CUSTOMERS[n % len(CUSTOMERS)], []).append(command_id(n))
    return expected


async def eventually(condition, timeout: float = WAIT_S) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def test_published_events_carry_the_contract_key_headers_and_exact_pence(topic_ready: Settings) -> None:
    async def scenario():
        async with service(topic_ready) as desk:
            accepted = await desk.place_order(PlaceOrder(
                " alice ", (LineInput("Tea", "19.99", "3"), LineInput(" Mug ", "£4.50", "1")), command_id(1)))
            published = await desk.wait_published(command_id(1), WAIT_S)
        return accepted, published, await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

    accepted, published, logged = asyncio.run(scenario())
    assert accepted.status == "accepted" and published.status == "published"
    (only,) = logged
    assert (only.partition, only.offset) == (published.partition, published.offset)
    assert only.key == b"alice"
    assert dict(only.headers) == {"event_type": b"OrderPlaced", "schema_version": b"1",
                                  "content_type": b"application/json"}
    event = only.event
    assert (event.event_id, event.payload.order_id) == (published.event_id, published.order_id)
    assert (event.payload.customer_id, event.payload.command_id, event.source) == ("alice", command_id(1), "integration-test")
    assert [(ln.item, ln.unit_price_pence, ln.quantity) for ln in event.payload.lines] == [("Tea", 1999, 3), ("Mug", 450, 1)]
    assert sum(ln.unit_price_pence * ln.quantity for ln in event.payload.lines) == 6447  # 19.99 x 3 + 4.50, exact


def test_the_same_command_twice_is_one_event_in_the_topic(topic_ready: Settings) -> None:
    async def scenario():
        async with service(topic_ready) as desk:
            first = await desk.place_order(numbered_order(1))
            again_at_once = await desk.place_order(numbered_order(1))
            published = await desk.wait_published(command_id(1), WAIT_S)
            again_later = await desk.place_order(numbered_order(1))
        async with service(topic_ready) as restarted:
            again_after_restart = await restarted.place_order(numbered_order(1))
            await asyncio.sleep(0.5)  # a relay round or two
        return first, again_at_once, published, again_later, again_after_restart, await read_topic(
            topic_ready.kafka_client_kwargs(), topic_ready.topic)

    first, again_at_once, published, again_later, again_after_restart, logged = asyncio.run(scenario())
    assert again_at_once == first
    assert again_later == again_after_restart == published
    assert [e.event.payload.command_id for e in logged] == [command_id(1)]


def test_orders_accepted_while_the_broker_is_down_are_published_once_in_order(
    topic_ready: Settings, kafka_broker
) -> None:
    kafka_broker.stop()
    try:
        async def while_down():
            desk = service(topic_ready)
            await desk.start()
            receipts = [await desk.place_order(numbered_order(n)) for n in range(100)]
            assert {r.status for r in receipts} == {"accepted"}
            assert desk.pending_count() == 100
            await eventually(lambda: desk.last_error is not None)
            assert not desk.relay_connected
            return desk

        async def scenario():
            desk = await while_down()
            try:
                await asyncio.to_thread(kafka_broker.start)
                await desk.wait_published(command_id(99), WAIT_S)
                await eventually(lambda: desk.pending_count() == 0)
                assert desk.relay_connected and desk.last_error is None
            finally:
                await desk.stop()
            return await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

        logged = asyncio.run(scenario())
    finally:
        if not kafka_broker.is_running():
            kafka_broker.start()
    assert len(logged) == 100
    assert command_ids_per_customer(logged) == submitted_per_customer(100)
    assert all(len({e.partition for e in logged if e.key == c.encode()}) == 1 for c in CUSTOMERS)


def test_orders_queued_across_an_app_restart_are_published_once_in_order(
    topic_ready: Settings, kafka_broker
) -> None:
    kafka_broker.stop()
    try:
        async def first_run() -> None:
            async with service(topic_ready) as desk:  # the app runs, the broker is down ...
                for n in range(60):
                    await desk.place_order(numbered_order(n))
            # ... and the app is closed with everything still queued

        async def second_run():
            async with service(topic_ready) as desk:
                for n in range(60, 100):
                    await desk.place_order(numbered_order(n))
                assert desk.pending_count() == 100
                await asyncio.to_thread(kafka_broker.start)
                await desk.wait_published(command_id(99), WAIT_S)
                await eventually(lambda: desk.pending_count() == 0)
            return await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

        asyncio.run(first_run())
        logged = asyncio.run(second_run())
    finally:
        if not kafka_broker.is_running():
            kafka_broker.start()
    assert len(logged) == 100
    assert command_ids_per_customer(logged) == submitted_per_customer(100)


KILLED_APP = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from desktop_app.command.service import CommandService
    from desktop_app.command.model import LineInput, PlaceOrder

    CUSTOMERS = {customers!r}

    async def main():
        desk = CommandService(Path({db!r}), {{"bootstrap_servers": {servers!r}}}, {topic!r}, "killed-app")
        await desk.start()
        for n in range({count}):
            await desk.place_order(PlaceOrder(CUSTOMERS[n % len(CUSTOMERS)],
                                              (LineInput(f"item {{n}}", "1.25", "1"),), f"cmd-{{n:04d}}"))
        print("accepted", desk.pending_count(), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


def test_orders_queued_in_a_killed_process_are_published_by_the_next_one(
    topic_ready: Settings, kafka_broker
) -> None:
    kafka_broker.stop()
    try:
        script = KILLED_APP.format(customers=CUSTOMERS, db=str(topic_ready.command_db_path),
                                   servers=kafka_broker.bootstrap_servers, topic=topic_ready.topic, count=100)
        root = Path(desktop_app.__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": str(root)}
        app = subprocess.Popen([sys.executable, "-c", script], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert app.stdout is not None
            assert app.stdout.readline().strip() == "accepted 100"
        finally:
            app.send_signal(signal.SIGKILL)  # no clean stop: a crash with everything queued
            app.wait(timeout=WAIT_S)

        async def next_run():
            async with service(topic_ready) as desk:
                assert desk.pending_count() == 100
                await asyncio.to_thread(kafka_broker.start)
                await desk.wait_published(command_id(99), WAIT_S)
                await eventually(lambda: desk.pending_count() == 0)
            return await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

        logged = asyncio.run(next_run())
    finally:
        if not kafka_broker.is_running():
            kafka_broker.start()
    assert len(logged) == 100
    assert command_ids_per_customer(logged) == submitted_per_customer(100)


def _crash_after_the_broker_acked(settings: Settings, count: int) -> list[tuple[int, int]]:
    """Replay the crash window: events accepted, attempted and acknowledged, but never marked published."""
    outbox = Outbox(settings.command_db_path, settings.topic)
    try:
        events = [outbox.accept(check(numbered_order(n)).to_event("crashed-app"))[0] for n in range(count)]
        pending = outbox.pending(count)
        outbox.mark_attempted([p.seq for p in pending])
        assert [p.event_id for p in pending] == [r.event_id for r in events]
        return asyncio.run(produce_events(settings.kafka_client_kwargs(), settings.topic, [p.event for p in pending]))
    finally:
        outbox.close()


def test_events_acked_before_a_crash_are_found_in_the_log_and_not_sent_again(topic_ready: Settings) -> None:
    positions = _crash_after_the_broker_acked(topic_ready, 20)

    async def restart():
        async with service(topic_ready) as desk:
            receipts = [await desk.wait_published(command_id(n), WAIT_S) for n in range(20)]
            fresh = await desk.place_order(numbered_order(20))  # not attempted before: sent normally
            fresh = await desk.wait_published(fresh.command_id, WAIT_S)
        return receipts, fresh, await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

    receipts, fresh, logged = asyncio.run(restart())
    assert [(r.partition, r.offset) for r in receipts] == positions
    assert len(logged) == 21
    assert sorted(e.event.payload.command_id for e in logged) == [command_id(n) for n in range(21)]
    assert (fresh.partition, fresh.offset) in {(e.partition, e.offset) for e in logged}


def test_without_the_log_search_the_crash_window_duplicates_events(topic_ready: Settings) -> None:
    """The other side of the previous test: what happens without recovery (the query side dedupes)."""
    _crash_after_the_broker_acked(topic_ready, 5)

    async def restart():
        options = RelayOptions(backoff_initial_s=0.1, backoff_max_s=1.0, recover_from_log=False)
        async with service(topic_ready, options) as desk:
            for n in range(5):
                await desk.wait_published(command_id(n), WAIT_S)
        return await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

    logged = asyncio.run(restart())
    assert len(logged) == 10
    assert len({e.event.event_id for e in logged}) == 5  # the same event ids: dedupable downstream


def test_the_relay_reports_the_broker_going_away_and_coming_back(topic_ready: Settings, kafka_broker) -> None:
    async def scenario():
        async with service(topic_ready) as desk:
            await eventually(lambda: desk.relay_connected)
            assert desk.last_error is None
            await asyncio.to_thread(kafka_broker.stop)
            await eventually(lambda: not desk.relay_connected)
            assert desk.last_error
            await asyncio.to_thread(kafka_broker.start)
            await eventually(lambda: desk.relay_connected)
            assert desk.last_error is None
            placed = await desk.place_order(numbered_order(7))
            return await desk.wait_published(placed.command_id, WAIT_S)

    try:
        assert asyncio.run(scenario()).status == "published"
    finally:
        if not kafka_broker.is_running():
            kafka_broker.start()


def test_a_broker_outage_in_mid_stream_loses_duplicates_and_reorders_nothing(
    topic_ready: Settings, kafka_broker
) -> None:
    async def scenario():
        async with service(topic_ready) as desk:
            for n in range(40):
                await desk.place_order(numbered_order(n))
            await desk.wait_published(command_id(9), WAIT_S)  # the stream is flowing
            outage = asyncio.create_task(asyncio.to_thread(kafka_broker.stop))
            n = 40
            while not outage.done():  # orders keep coming while the broker shuts down
                await desk.place_order(numbered_order(n))
                n += 1
                await asyncio.sleep(0.005)
            await outage
            for _ in range(20):
                await desk.place_order(numbered_order(n))
                n += 1
            await asyncio.to_thread(kafka_broker.start)
            await desk.wait_published(command_id(n - 1), WAIT_S)
            await eventually(lambda: desk.pending_count() == 0)
        return n, await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

    try:
        count, logged = asyncio.run(scenario())
    finally:
        if not kafka_broker.is_running():
            kafka_broker.start()
    assert len(logged) == count
    assert command_ids_per_customer(logged) == submitted_per_customer(count)
