"""2. Projection throughput: the projector from offset 0 to the end of a pre-produced topic.

Three topics of the same size: item popularity skewed (Zipf, s = 1.1), uniform, and skewed with 5 % of the
events OrderCancelled of earlier orders (each its own row). Each repetition projects
into a fresh read model through the QueryService (its projector thread), timed from creating the service
until the stored offsets reach the log's end. Baseline, in the same repetition: consume-only (aiokafka
getmany + json.loads of every value, no database) of the same topic.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench.context import BenchContext
from bench.kafka_io import ProduceJob, consume_only, end_offsets, produce_in_children, total
from bench.report import BenchResult, Target
from desktop_app.query.orders_view import OrderStatus
from desktop_app.query.service import QueryService

TARGET_EVENTS_PER_S = 60_000  # issue 14: live projection >= 60,000 events/s and >= 0.6x consume-only
TARGET_RATIO = 0.6
CANCEL_SHARE = 0.05


@dataclass(frozen=True)
class Variant:
    label: str  # how its row is named
    skew: float | None
    cancel_share: float = 0.0


VARIANTS = {
    "zipf": Variant("zipf", 1.1),
    "uniform": Variant("uniform", None),
    "cancels": Variant("zipf, 5% cancelled", 1.1, CANCEL_SHARE),
}


@dataclass(frozen=True)
class Projected:
    seconds: float
    rows: int  # view rows
    cancelled: int  # orders cancelled
    ignored: int  # events the projector ignored (a bench log has none)


def project(ctx: BenchContext, topic: str, ends: dict[int, int], folder: Path | None = None) -> Projected:
    """Time to project `topic` from offset 0 to `ends` into a fresh read model (in `folder`), and what it made."""
    folder = folder or ctx.fresh_dir("projection")
    started = time.perf_counter()
    query = QueryService(folder / "readmodel.db", ctx.cluster.client_kwargs, topic)
    try:
        query.start()
        if not query.wait_for_offsets(ends, timeout=max(600.0, total(ends) / 1000)):
            raise TimeoutError(f"the projector did not reach {ends} (at {query.stored_offsets()})")
        seconds = time.perf_counter() - started
        return Projected(seconds, query.count_items(), query.count_orders(status=OrderStatus.CANCELLED),
                         len(query.ignored(limit=1)))
    finally:
        query.close()


def produce_jobs(ctx: BenchContext) -> dict[str, ProduceJob]:
    return {name: ProduceJob(ctx.cluster.new_topic(f"projection-{name}"), ctx.sizes.projection_events,
                             seed=21, skew=variant.skew, cancel_share=variant.cancel_share)
            for name, variant in VARIANTS.items()}


def run(ctx: BenchContext, topics: dict[str, str] | None = None) -> BenchResult:
    count = ctx.sizes.projection_events
    result = BenchResult(
        "projection", "2. Projection throughput", "consume-only: aiokafka getmany + json.loads, no database",
        params={"events": count, "partitions": ctx.cluster.partitions, "zipf_s": VARIANTS["zipf"].skew,
                "customers": 1000, "items": 5000, "lines_per_order": "1-5", "cancel_share": CANCEL_SHARE},
    )
    if topics is None:
        jobs = produce_jobs(ctx)
        produce_in_children(ctx.cluster, list(jobs.values()))
        topics = {variant: job.topic for variant, job in jobs.items()}
    for name, topic in topics.items():
        label = VARIANTS[name].label
        ends = end_offsets(ctx.cluster, topic)
        if total(ends) != count:
            raise RuntimeError(f"{topic} holds {total(ends)} records, not {count}")
        row = result.row(f"{label}: events/s", "events/s", Target(">=", TARGET_EVENTS_PER_S),
                         Target(">=", TARGET_RATIO, on="ratio"))
        for rep in range(ctx.reps):
            consumed, baseline_s = asyncio.run(consume_only(ctx.cluster.client_kwargs, topic, ends))
            if consumed != count:
                raise RuntimeError(f"consume-only read {consumed} of {count} records")
            projected = project(ctx, topic, ends)
            if projected.ignored:
                raise RuntimeError(f"the projector ignored events of {topic}: every cancellation should apply")
            row.add(count / projected.seconds, count / baseline_s)
            result.params[f"{name}_view_rows"] = projected.rows
            if VARIANTS[name].cancel_share:
                result.params[f"{name}_orders_cancelled"] = projected.cancelled
            ctx.log(f"projection {label} rep {rep + 1}: app {count / projected.seconds:,.0f} events/s, "
                    f"consume-only {count / baseline_s:,.0f} events/s")
    return result
