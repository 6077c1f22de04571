"""Property: any interleaving of place / cancel / amend gives a view equal to the sum of the orders still placed.

The expected view is computed here, independently of the projector: walk the commands in order, keep which
orders stand, and sum their lines. The log is then read in random batches, with the partitions interleaved
at random (each partition in its own order, as Kafka gives them), and re-sends mixed in. No broker.
"""

from __future__ import annotations

import itertools
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query_unit_helpers import TOPIC, order

from desktop_app import contracts
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel
from support.order_stream import amendment_events, cancel_event

CUSTOMERS = ["ann", "bob", "cat"]
PARTITIONS = 3
line = st.tuples(st.sampled_from(["Tea", "Mug", "Lamp"]), st.sampled_from([99, 500, 5001]), st.integers(1, 5))
command = st.one_of(
    st.tuples(st.just("place"), st.sampled_from(CUSTOMERS), st.lists(line, min_size=1, max_size=3)),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("amend"), st.integers(0, 30), st.lists(line, min_size=1, max_size=3)),
)


def partition_of(customer: str) -> int:
    return zlib.crc32(customer.encode()) % PARTITIONS


def log_and_expected(commands) -> tuple[list[contracts.Event], dict]:
    events: list[contracts.Event] = []
    orders: list[contracts.EventEnvelope] = []
    standing: dict = {}  # order id -> the placed event, while it stands
    for cmd in commands:
        if cmd[0] == "place":
            placed = order(cmd[1], *cmd[2])
            orders.append(placed)
            standing[placed.payload.order_id] = placed
            events.append(placed)
        elif orders:
            target = orders[cmd[1] % len(orders)]  # may be cancelled already: the projector ignores that
            if cmd[0] == "cancel":
                events.append(cancel_event(target))
                standing.pop(target.payload.order_id, None)
            else:
                cancel, replacement = amendment_events(target, *cmd[2])
                events += [cancel, replacement]
                # the new order stands even when the old one was gone already (its cancel is then ignored)
                standing.pop(target.payload.order_id, None)
                orders.append(replacement)
                standing[replacement.payload.order_id] = replacement
    expected: dict = {}
    for placed in standing.values():
        seen_rows = set()
        for item in placed.payload.lines:
            key = (placed.payload.customer_id, item.item, item.unit_price_pence)
            quantity, count = expected.get(key, (0, 0))
            expected[key] = (quantity + item.quantity, count + (key not in seen_rows))
            seen_rows.add(key)
    return events, expected


def records_of(events: list[contracts.Event], resend_every: int) -> dict[int, list[Record]]:
    per_partition: dict[int, list[Record]] = {p: [] for p in range(PARTITIONS)}
    for number, event in enumerate(events):
        wire = contracts.encode(event)
        partition = partition_of(event.payload.customer_id)
        copies = 2 if resend_every and number % resend_every == 0 else 1
        for _ in range(copies):
            per_partition[partition].append(
                Record(TOPIC, partition, len(per_partition[partition]), wire.value, wire.key, wire.headers))
    return per_partition


def project(path: Path, per_partition: dict[int, list[Record]], choices: list[int]) -> dict:
    engine = open_engine(path, writer=True)
    ensure_schema(engine)
    projector = Projector(engine, TOPIC)
    queues = {p: list(records) for p, records in per_partition.items() if records}
    picks = itertools.cycle(choices or [1])
    while queues:
        batch = []
        for _ in range(next(picks)):  # a batch of 1..n records, from partitions taken in a random order
            if not queues:
                break
            partition = sorted(queues)[next(picks) % len(queues)]
            batch.append(queues[partition].pop(0))
            if not queues[partition]:
                del queues[partition]
        projector.apply(batch)
    model = ReadModel(path)
    try:
        return {(r.customer_id, r.item, r.unit_price_pence): (r.quantity, r.orders) for r in model.items()}
    finally:
        model.close()
        engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(command, max_size=25), choices=st.lists(st.integers(1, 7), min_size=1, max_size=10),
       other=st.lists(st.integers(1, 7), min_size=1, max_size=10), resend_every=st.integers(0, 4))
def test_the_view_is_the_sum_of_the_orders_still_placed(tmp_path_factory, commands, choices, other, resend_every):
    events, expected = log_and_expected(commands)
    per_partition = records_of(events, resend_every)
    folder = tmp_path_factory.mktemp("view")

    live = project(folder / "live.db", per_partition, choices)
    replay = project(folder / "replay.db", per_partition, other)

    assert live == expected
    assert replay == live
