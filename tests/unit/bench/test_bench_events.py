"""The benchmarks' order generator: hand-encoded records are exactly the app's records, and realistic."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta

from bench.events import (
    CANCEL_HEADERS,
    CANCEL_WINDOW,
    EDGE_PRICES,
    EPOCH,
    HEADERS,
    Cancellation,
    Order,
    OrderGenerator,
    distinct_rows_orders,
    encode_event,
    encode_order,
)
from desktop_app import contracts
from desktop_app.command.model import check
from desktop_app.query.bands import Band, price_band


def test_hand_encoded_records_are_byte_for_byte_what_contracts_encode_writes() -> None:
    orders = list(OrderGenerator(3).orders(300))
    assert orders[0].occurred_at.microsecond == 0 and orders[1].occurred_at.microsecond  # both time formats
    for order in orders:
        record = contracts.encode(order.event())
        assert encode_order(order) == (record.key, record.value)
        assert HEADERS == list(record.headers)
        assert contracts.decode(record.value, HEADERS) == order.event()


def test_commands_are_valid_and_carry_the_same_lines() -> None:
    for order in OrderGenerator(4, skew=None).orders(200):
        valid = check(order.command())
        assert valid.customer_id == order.customer_id and valid.command_id == order.command_id
        assert [(line.item, line.unit_price_pence, line.quantity) for line in valid.lines] == list(order.lines)


def test_the_stream_is_reproducible_and_positioned_by_start() -> None:
    generator = OrderGenerator(5)
    assert list(generator.records(50)) == list(OrderGenerator(5).records(50))
    assert generator.records(10) != OrderGenerator(6).records(10)
    assert [o.index for o in generator.orders(3, start=1000)] == [1000, 1001, 1002]


def test_orders_look_like_a_store() -> None:
    orders = list(OrderGenerator(7).orders(5000))
    assert {len(o.lines) for o in orders} == {1, 2, 3, 4, 5}
    assert len({o.customer_id for o in orders}) > 900  # of 1,000
    assert {price_band(price) for o in orders for _, price, _ in o.lines} == set(Band)
    assert all(0 < price <= contracts.MAX_PRICE_PENCE for o in orders for _, price, _ in o.lines)
    assert OrderGenerator(7).store.prices[:len(EDGE_PRICES)] == EDGE_PRICES


def test_zipf_popularity_is_skewed_and_uniform_is_not() -> None:
    def top_share(skew: float | None) -> float:
        items = Counter(item for o in OrderGenerator(8, skew=skew).orders(5000) for item, _, _ in o.lines)
        return items.most_common(1)[0][1] / sum(items.values())

    assert top_share(1.1) > 0.10  # the most popular item is in roughly one line of six
    assert top_share(None) < 0.01


def test_distinct_rows_orders_make_exactly_that_many_view_rows() -> None:
    orders = distinct_rows_orders(1234)
    rows = [(o.customer_id, item, price) for o in orders for item, price, _ in o.lines]
    assert len(rows) == len(set(rows)) == 1234
    assert all(1 <= len(o.lines) <= 4 for o in orders)
    assert {price_band(price) for _, _, price in rows} == set(Band)


def test_hand_encoded_cancellations_are_byte_for_byte_what_contracts_encode_writes() -> None:
    events = list(OrderGenerator(3).events(2000, cancel_share=0.05))
    cancels = [event for event in events if isinstance(event, Cancellation)]
    assert {c.reason for c in cancels} >= {"", "out of stock"}  # an empty reason, too
    on_the_second = dataclasses.replace(cancels[0], occurred_at=EPOCH + timedelta(seconds=3))  # both time formats
    for event in [*events, on_the_second]:
        record = contracts.encode(event.event())
        assert encode_event(event) == (record.key, record.value, list(record.headers))
        assert contracts.decode(record.value, record.headers) == event.event()
    assert encode_event(cancels[0])[2] == CANCEL_HEADERS != HEADERS


def test_cancellations_name_earlier_still_placed_orders_of_the_same_customer() -> None:
    events = list(OrderGenerator(9, skew=None).events(20_000, start=500, cancel_share=0.05))
    assert len(events) == 20_000
    placed: dict[object, Order] = {}
    cancelled: set[object] = set()
    for event in events:
        if isinstance(event, Order):
            assert event.order_id not in placed
            placed[event.order_id] = event
            continue
        order = placed.get(event.order_id)
        assert order is not None, "a cancellation names an order placed before it"
        assert event.customer_id == order.customer_id  # so the same key, the same partition
        assert event.order_id not in cancelled, "an order is cancelled once"
        assert event.occurred_at > order.occurred_at
        cancelled.add(event.order_id)
    assert 0.045 < len(cancelled) / len(events) < 0.055
    assert [e.index for e in events if isinstance(e, Cancellation)][:1] >= [500]


def test_cancellations_reach_back_across_batches_but_within_the_window() -> None:
    events = list(OrderGenerator(10).events(120_000, cancel_share=0.05))
    number = {}  # order id -> how many orders came before it
    distances = []
    for event in events:
        if isinstance(event, Order):
            number[event.order_id] = len(number)
        else:
            distances.append(len(number) - number[event.order_id])
    assert max(distances) <= CANCEL_WINDOW
    assert sum(d > 10_000 for d in distances) > len(distances) / 2  # mostly orders of earlier projector batches
    assert min(distances) >= 1


def test_a_log_with_cancellations_holds_the_plain_streams_orders_in_order_and_is_reproducible() -> None:
    generator = OrderGenerator(12)
    with_cancels = list(generator.events(3000, start=7, cancel_share=0.05))
    orders = [event for event in with_cancels if isinstance(event, Order)]
    assert orders == list(generator.orders(3000, start=7))[:len(orders)]
    assert with_cancels == list(OrderGenerator(12).events(3000, start=7, cancel_share=0.05))
    assert list(generator.events(300)) == list(generator.orders(300))  # no share: the plain stream
    assert with_cancels != list(OrderGenerator(13).events(3000, start=7, cancel_share=0.05))
