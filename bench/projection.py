"""2. Projection throughput: the projector from offset 0 to the end of a pre-produced topic.

Two topics of the same size: item popularity skewed (Zipf, s = 1.1) and uniform. Each repetition projects
into a fresh read model through the QueryService (its projector thread), timed from creating the service
until the stored offsets reach the log's end. Baseline, in the same repetition: consume-only (aiokafka
getmany + json.loads of every value, no database) of the same topic.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.context import BenchContext
from bench.kafka_io import ProduceJob, consume_only, end_offsets, produce_in_children, total
from bench.report import BenchResult, Target
from desktop_app.query.service import QueryService

TARGET_EVENTS_PER_S = 50_000
TARGET_RATIO = 0.5
VARIANTS = {"zipf": 1.1, "uniform": None}


def project(ctx: BenchContext, topic: str, ends: dict[int, int], folder: Path | None = None) -> tuple[float, int]:
    """(seconds, view rows) to project `topic` from offset 0 to `ends` into a fresh read model (in `folder`)."""
    folder = folder or ctx.fresh_dir("projection")
    started = time.perf_counter()
    query = QueryService(folder / "readmodel.db", ctx.cluster.client_kwargs, topic)
    try:
        query.start()
        if not query.wait_for_offsets(ends, timeout=max(600.0, total(ends) / 1000)):
            raise TimeoutError(f"the projector did not reach {ends} (at {query.stored_offsets()})")
        seconds = time.perf_counter() - started
        return seconds, query.count_items()
    finally:
        query.close()


def produce_jobs(ctx: BenchContext) -> dict[str, ProduceJob]:
    return {variant: ProduceJob(ctx.cluster.new_topic(f"projection-{variant}"), ctx.sizes.projection_events,
                                seed=21, skew=skew)
            for variant, skew in VARIANTS.items()}


def run(ctx: BenchContext, topics: dict[str, str] | None = None) -> BenchResult:
    count = ctx.sizes.projection_events
    result = BenchResult(
        "projection", "2. Projection throughput", "consume-only: aiokafka getmany + json.loads, no database",
        params={"events": count, "partitions": ctx.cluster.partitions, "zipf_s": VARIANTS["zipf"],
                "customers": 1000, "items": 5000, "lines_per_order": "1-5"},
    )
    if topics is None:
        jobs = produce_jobs(ctx)
        produce_in_children(ctx.cluster, list(jobs.values()))
        topics = {variant: job.topic for variant, job in jobs.items()}
    for variant, topic in topics.items():
        ends = end_offsets(ctx.cluster, topic)
        if total(ends) != count:
            raise RuntimeError(f"{topic} holds {total(ends)} records, not {count}")
        row = result.row(f"{variant}: events/s", "events/s", Target(">=", TARGET_EVENTS_PER_S),
                         Target(">=", TARGET_RATIO, on="ratio"))
        for rep in range(ctx.reps):
            consumed, baseline_s = asyncio.run(consume_only(ctx.cluster.client_kwargs, topic, ends))
            if consumed != count:
                raise RuntimeError(f"consume-only read {consumed} of {count} records")
            app_s, rows = project(ctx, topic, ends)
            row.add(count / app_s, count / baseline_s)
            result.params[f"{variant}_view_rows"] = rows
            ctx.log(f"projection {variant} rep {rep + 1}: app {count / app_s:,.0f} events/s, "
                    f"consume-only {count / baseline_s:,.0f} events/s")
    return result
