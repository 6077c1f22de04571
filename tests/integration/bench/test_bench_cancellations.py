"""The benchmarks' log with cancellations, produced as the benchmarks produce it (two child processes, each
half of the log) and projected and rebuilt by the app: the view must be the sum of the orders still placed,
computed here from the generator's events, independently of the projector."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

from bench import projection, run
from bench.context import BenchContext, Sizes
from bench.events import Cancellation, Order, OrderGenerator
from bench.kafka_io import BenchCluster, end_offsets, produce_in_children, total
from desktop_app.query.orders_view import OrderStatus
from desktop_app.query.service import QueryService
from desktop_app.settings import Settings

EVENTS = 4000
ViewKey = tuple[str, str, int]


def reference_view(events: list[Order | Cancellation]) -> dict[ViewKey, tuple[int, int, datetime, datetime]]:
    """(customer, item, price) -> (quantity, orders, first ordered, last ordered) of the orders still placed."""
    placed: dict[object, Order] = {}
    for event in events:
        if isinstance(event, Order):
            placed[event.order_id] = event
        else:
            del placed[event.order_id]  # every cancellation of a bench log applies
    quantity: dict[ViewKey, int] = defaultdict(int)
    times: dict[ViewKey, set[datetime]] = defaultdict(set)
    orders: dict[ViewKey, set[object]] = defaultdict(set)
    for order in placed.values():
        for item, price, count in order.lines:
            key = (order.customer_id, item, price)
            quantity[key] += count
            orders[key].add(order.order_id)
            times[key].add(order.occurred_at)
    return {key: (quantity[key], len(orders[key]), min(times[key]), max(times[key])) for key in quantity}


def view_of(query: QueryService) -> dict[ViewKey, tuple[int, int, datetime, datetime]]:
    return {(r.customer_id, r.item, r.unit_price_pence): (r.quantity, r.orders, r.first_ordered, r.last_ordered)
            for r in query.items()}


def test_the_log_with_cancellations_projects_and_rebuilds_to_the_orders_still_placed(
    running_broker, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "desk", bootstrap_servers=running_broker.bootstrap_servers)
    cluster = BenchCluster(running_broker.bootstrap_servers, embedded=False, settings=settings, partitions=3)
    ctx = BenchContext(cluster, tmp_path / "work", reps=1, sizes=Sizes.quick())
    topic = cluster.new_topic("cancels-check")
    jobs = run.big_jobs(topic, EVENTS, projection.CANCEL_SHARE)
    assert len(jobs) == 2  # two producers: each one's cancellations name orders it sent, on their partition
    produce_in_children(cluster, jobs)
    ends = end_offsets(cluster, topic)
    assert total(ends) == EVENTS

    generator = OrderGenerator(run.BIG_SEED, skew=jobs[0].skew)
    events = [e for job in jobs for e in generator.events(job.count, job.start, job.cancel_share)]
    cancelled = sum(isinstance(e, Cancellation) for e in events)
    assert 0.03 * EVENTS < cancelled < 0.07 * EVENTS
    expected = reference_view(events)
    everything = reference_view([e for e in events if isinstance(e, Order)])
    assert len(expected) < len(everything)  # some rows exist only through orders that were cancelled

    folder = tmp_path / "view"
    folder.mkdir()
    projected = projection.project(ctx, topic, ends, folder)
    assert (projected.rows, projected.cancelled, projected.ignored) == (len(expected), cancelled, 0)

    query = QueryService(folder / "readmodel.db", cluster.client_kwargs, topic)
    try:
        query.start()
        assert query.catch_up(120)
        assert view_of(query) == expected
        assert query.count_orders(status=OrderStatus.PLACED) == EVENTS - 2 * cancelled
        outcome = query.rebuild(timeout=300)
        assert outcome.completed and outcome.total == EVENTS
        assert view_of(query) == expected
        assert query.count_orders(status=OrderStatus.CANCELLED) == cancelled and not query.ignored()
    finally:
        query.close()
