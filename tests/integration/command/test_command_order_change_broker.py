"""Cancel and amend against the real broker: the events in the topic, in order, once each, keyed by the
customer; an amend whose process is killed right after the outbox commit still publishes both events once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import desktop_app
from desktop_app import contracts
from desktop_app.command.model import LineInput, PlaceOrder, check
from desktop_app.command.order_changes import AmendOrder, CancelOrder, accept_change
from desktop_app.command.outbox import Outbox
from desktop_app.command.relay import RelayOptions
from desktop_app.command.service import CommandService
from desktop_app.query.service import QueryService
from desktop_app.settings import Settings

from command_topic import WAIT_S, LoggedEvent, produce_events, read_topic

FAST = RelayOptions(backoff_initial_s=0.1, backoff_max_s=1.0, health_every_s=0.5, stall_after_s=1.0)


def service(settings: Settings) -> CommandService:
    return CommandService(settings.command_db_path, settings.kafka_client_kwargs(), settings.topic,
                          "integration-test", relay_options=FAST)


async def eventually(condition, timeout: float = WAIT_S) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def story(logged: list[LoggedEvent], customer: str) -> list[tuple[str, str, str | None]]:
    """The customer's events in log order: (event type, order id, the order it replaces), one partition."""
    mine = [e for e in logged if e.event.payload.customer_id == customer]
    assert {e.partition for e in mine} <= {mine[0].partition} and {e.key for e in mine} == {customer.encode()}
    for entry in mine:
        assert dict(entry.headers)[contracts.HEADER_EVENT_TYPE] == entry.event.event_type.encode()
    return [(e.event.event_type, str(e.event.payload.order_id),
             str(e.event.payload.replaces) if getattr(e.event.payload, "replaces", None) else None) for e in mine]


def test_cancel_and_amend_land_in_the_topic_in_order_once_each_keyed_by_the_customer(topic_ready: Settings) -> None:
    async def scenario():
        async with service(topic_ready) as desk:
            alices = await desk.place_order(PlaceOrder("alice", (LineInput("Tea", "3.50", "2"),), "p1"))
            bobs = await desk.place_order(PlaceOrder("bob", (LineInput("Cake", "2.00", "1"),), "p2"))
            # right after placing, before anything is published: the outbox knows both orders
            cancelled = await desk.cancel_order(CancelOrder(str(alices.order_id), "wrong tea", "c1"))
            new = await desk.amend_order(AmendOrder(str(bobs.order_id), (LineInput("Cake", "2.00", "3"),),
                                                    command_id="a1"))
            assert await desk.cancel_order(CancelOrder(str(alices.order_id), "wrong tea", "c1")) == cancelled  # a repeat
            published = await desk.wait_published("a1", WAIT_S)
            await desk.wait_published("c1", WAIT_S)
            await eventually(lambda: desk.pending_count() == 0)
            logged = await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)
            return alices, bobs, new, published, logged

    alices, bobs, new, published, logged = asyncio.run(scenario())
    assert len(logged) == 5 and len({e.event.event_id for e in logged}) == 5
    assert story(logged, "alice") == [("OrderPlaced", str(alices.order_id), None),
                                      ("OrderCancelled", str(alices.order_id), None)]
    assert story(logged, "bob") == [("OrderPlaced", str(bobs.order_id), None),
                                    ("OrderCancelled", str(bobs.order_id), None),
                                    ("OrderPlaced", str(new.order_id), str(bobs.order_id))]
    last = logged[[e.event.event_id for e in logged].index(new.event_id)]
    assert (published.order_id, published.partition, published.offset) == (new.order_id, last.partition, last.offset)
    (cancel,) = [e.event for e in logged if e.event.event_type == "OrderCancelled" and e.key == b"alice"]
    assert (cancel.payload.reason, cancel.payload.command_id) == ("wrong tea", "c1")


KILLED_AMEND = textwrap.dedent("""
    import asyncio, json
    from pathlib import Path
    from desktop_app.command.service import CommandService
    from desktop_app.command.model import LineInput, PlaceOrder
    from desktop_app.command.order_changes import AmendOrder

    async def main():
        desk = CommandService(Path({db!r}), {{"bootstrap_servers": {servers!r}}}, {topic!r}, "killed-app")
        await desk.start()
        old = await desk.place_order(PlaceOrder("carol", (LineInput("Tea", "3.50", "2"),), "p1"))
        new = await desk.amend_order(AmendOrder(str(old.order_id), (LineInput("Tea", "3.50", "5"),), command_id="a1"))
        print(json.dumps([str(old.order_id), str(new.order_id)]), flush=True)  # committed: kill now
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


def unused_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def amend_then_sigkill(settings: Settings, servers: str) -> tuple[str, str]:
    """Run a desk that places and amends an order, and SIGKILL it right after the amend's commit."""
    script = KILLED_AMEND.format(db=str(settings.command_db_path), servers=servers, topic=settings.topic)
    root = Path(desktop_app.__file__).resolve().parents[1]
    app = subprocess.Popen([sys.executable, "-c", script], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert app.stdout is not None
        old, new = json.loads(app.stdout.readline())
    finally:
        app.send_signal(signal.SIGKILL)  # no clean stop: whatever the relay had or had not sent
        app.wait(timeout=WAIT_S)
    return old, new


def publish_what_is_left(settings: Settings) -> list[LoggedEvent]:
    async def next_run():
        async with service(settings) as desk:
            await desk.wait_published("a1", WAIT_S)
            await eventually(lambda: desk.pending_count() == 0)
        return await read_topic(settings.kafka_client_kwargs(), settings.topic)

    return asyncio.run(next_run())


@pytest.mark.parametrize("broker", ["unreachable", "reachable"])
def test_an_amend_killed_right_after_its_commit_publishes_both_events_once(topic_ready: Settings, broker) -> None:
    # unreachable: nothing was sent before the kill; reachable: the relay may have sent some, or all
    servers = unused_address() if broker == "unreachable" else topic_ready.bootstrap_servers
    old, new = amend_then_sigkill(topic_ready, servers)
    logged = publish_what_is_left(topic_ready)
    assert story(logged, "carol") == [("OrderPlaced", old, None), ("OrderCancelled", old, None),
                                      ("OrderPlaced", new, old)]


def test_an_amend_whose_cancel_was_acked_before_a_crash_sends_only_the_new_order(topic_ready: Settings) -> None:
    """The crash window inside an amend: the relay sent the cancel, the broker acked it, the app died before
    recording it. The next relay finds it in the log and sends only what is missing."""
    outbox = Outbox(topic_ready.command_db_path, topic_ready.topic)
    try:
        placed, _ = outbox.accept(check(PlaceOrder("dan", (LineInput("Pen", "1.00", "1"),), "p1")).to_event("app"))
        accept_change(outbox, AmendOrder(str(placed.order_id), (LineInput("Pen", "1.00", "2"),), command_id="a1"),
                      None, "crashed-app")
        pending = outbox.pending(10)
        outbox.mark_attempted([p.seq for p in pending])
        asyncio.run(produce_events(topic_ready.kafka_client_kwargs(), topic_ready.topic,
                                   [p.event for p in pending[:2]]))  # the place and the cancel, not the new order
    finally:
        outbox.close()
    logged = publish_what_is_left(topic_ready)
    assert [e.event.event_id for e in logged] == [p.event_id for p in pending]  # once each, in order


def test_after_a_killed_amend_the_view_shows_only_the_new_order(topic_ready: Settings) -> None:
    from desktop_app.bootstrap import query_service

    old, new = amend_then_sigkill(topic_ready, unused_address())
    publish_what_is_left(topic_ready)
    query = query_service(topic_ready, topic_ready.bootstrap_servers)
    try:
        query.start()
        assert query.catch_up(WAIT_S)
        assert query.order(old).order.status == "replaced"  # OrderStatus is a str Enum
        assert [str(row.order_id) for row in query.orders(customer="carol", status="placed")] == [new]
        assert [(row.item, row.quantity) for row in query.items(customer="carol")] == [("Tea", 5)]
    finally:
        query.close()


def test_another_desk_s_order_is_cancelled_through_the_view_and_a_second_cancel_is_refused(
    topic_ready: Settings, tmp_path: Path
) -> None:
    from desktop_app.bootstrap import QueryOrderLookup, query_service
    from desktop_app.command.model import InvalidOrder

    def desk(name: str, query: QueryService | None = None) -> CommandService:
        return CommandService(tmp_path / name / "command.db", topic_ready.kafka_client_kwargs(), topic_ready.topic,
                              name, relay_options=FAST, order_lookup=None if query is None else QueryOrderLookup(query))

    query = query_service(topic_ready, topic_ready.bootstrap_servers)

    async def scenario() -> None:
        async with desk("desk-a") as a:
            placed = await a.place_order(PlaceOrder("erin", (LineInput("Lamp", "25.00", "1"),), "p1"))
            await a.wait_published("p1", WAIT_S)
        assert await asyncio.to_thread(query.catch_up, WAIT_S)
        async with desk("desk-b", query) as b:  # its outbox has never seen the order: the view has
            with pytest.raises(InvalidOrder, match="is for customer erin, not frank"):
                await b.cancel_order(CancelOrder(str(placed.order_id), customer_id="frank"))
            cancelled = await b.cancel_order(CancelOrder(str(placed.order_id), "broken", "c1", customer_id="erin"))
            with pytest.raises(InvalidOrder, match="is already cancelled"):  # b's outbox knows at once
                await b.cancel_order(CancelOrder(str(placed.order_id), command_id="c2"))
            await b.wait_published("c1", WAIT_S)
        assert cancelled.order_id == placed.order_id
        assert await asyncio.to_thread(query.catch_up, WAIT_S)
        async with desk("desk-c", query) as c:  # and a third desk learns it from the view
            with pytest.raises(InvalidOrder, match="is already cancelled"):
                await c.amend_order(AmendOrder(str(placed.order_id), (LineInput("Lamp", "20.00", "1"),)))
            with pytest.raises(InvalidOrder, match="no order .* is known"):
                await c.cancel_order(CancelOrder("6f1c0a52-3c1e-4c41-9d1b-1e2f3a4b5c6d"))

    try:
        query.start()
        asyncio.run(scenario())
    finally:
        query.close()
