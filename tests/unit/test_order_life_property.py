"""Property, from the command side to the view: any interleaving of place / cancel / amend commands, accepted by
the outbox and projected from the events it holds, gives a view equal to the sum of the orders still placed.

The expected view and which commands are refused are computed here, independently: a cancel or an amend of an
order that no longer stands is refused (InvalidOrder) and writes nothing. The outbox's events are laid out on
partitions by customer, as the relay's keys put them, and projected in random batches. No broker.
"""

from __future__ import annotations

import itertools
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.command import model, order_changes
from desktop_app.command.model import InvalidOrder, LineInput, PlaceOrder
from desktop_app.command.order_changes import AmendOrder, CancelOrder
from desktop_app.command.outbox import Outbox
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel

TOPIC = "orders-life"
PARTITIONS = 3
line = st.tuples(st.sampled_from(["Tea", "Mug", "Lamp"]), st.sampled_from(["0.99", "5.00", "50.01"]),
                 st.integers(1, 5))
command = st.one_of(
    st.tuples(st.just("place"), st.sampled_from(["ann", "bob", "cat"]), st.lists(line, min_size=1, max_size=3)),
    st.tuples(st.just("cancel"), st.integers(0, 40)),
    st.tuples(st.just("amend"), st.integers(0, 40), st.lists(line, min_size=1, max_size=3)),
)


def inputs(lines) -> tuple[LineInput, ...]:
    return tuple(LineInput(item, price, str(quantity)) for item, price, quantity in lines)


def run_commands(outbox: Outbox, commands) -> dict:
    """Apply the commands (a change of an order no longer standing must be refused); the expected view."""
    placed: list[tuple[str, str, list]] = []  # (order id, customer, lines) of every order accepted
    standing: dict[str, tuple[str, list]] = {}
    for cmd in commands:
        if cmd[0] == "place":
            event = model.check(PlaceOrder(cmd[1], inputs(cmd[2]))).to_event("property")
            outbox.accept(event)
            order_id = str(event.payload.order_id)
            placed.append((order_id, cmd[1], cmd[2]))
            standing[order_id] = (cmd[1], cmd[2])
            continue
        if not placed:
            continue
        order_id, customer, _ = placed[cmd[1] % len(placed)]
        change = CancelOrder(order_id) if cmd[0] == "cancel" else AmendOrder(order_id, inputs(cmd[2]))
        if order_id not in standing:
            with pytest.raises(InvalidOrder, match="already cancelled|was replaced by order"):
                order_changes.accept_change(outbox, change, None, "property")
            continue
        receipt, created = order_changes.accept_change(outbox, change, None, "property")
        assert created
        del standing[order_id]
        if cmd[0] == "amend":
            placed.append((str(receipt.order_id), customer, cmd[2]))
            standing[str(receipt.order_id)] = (customer, cmd[2])
    expected: dict = {}
    for customer, lines in standing.values():
        rows = set()
        for item, price, quantity in lines:
            key = (customer, item, model.parse_price_pence(price))
            total, orders = expected.get(key, (0, 0))
            expected[key] = (total + quantity, orders + (key not in rows))
            rows.add(key)
    return expected


def records_of(outbox: Outbox) -> list[Record]:
    offsets = {partition: itertools.count() for partition in range(PARTITIONS)}
    records = []
    for pending in outbox.pending(100_000):
        partition = zlib.crc32(pending.customer_id.encode()) % PARTITIONS
        records.append(Record(TOPIC, partition, next(offsets[partition]), pending.event_json,
                              pending.customer_id.encode(), pending.headers))
    return records


@settings(max_examples=40, deadline=None)
@given(commands=st.lists(command, max_size=30), cuts=st.lists(st.integers(0, 60), max_size=6))
def test_commands_then_projection_give_the_orders_still_placed(commands, cuts) -> None:
    with tempfile.TemporaryDirectory() as folder:
        outbox = Outbox(Path(folder) / "command.db", TOPIC)
        try:
            expected = run_commands(outbox, commands)
            records = records_of(outbox)
        finally:
            outbox.close()
        engine = open_engine(Path(folder) / "readmodel.db", writer=True)
        ensure_schema(engine)
        projector = Projector(engine, TOPIC)
        bounds = sorted({0, *[c for c in cuts if c < len(records)], len(records)})
        for start, end in itertools.pairwise(bounds):
            projector.apply(records[start:end])
        engine.dispose()
        view = ReadModel(Path(folder) / "readmodel.db")
        try:
            rows = {(r.customer_id, r.item, r.unit_price_pence): (r.quantity, r.orders) for r in view.items()}
            assert rows == expected
            assert view.summary().ignored == 0  # the command side refused what the view would have ignored
        finally:
            view.close()
