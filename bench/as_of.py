"""As of a moment: how long the view as it stood at a moment takes to build, for 200k and 1M events.

Each repetition times one AsOfJob (query/as_of.py) from start to the view ready: it asks the broker for the
offsets of the moment, replays every partition from its first offset to there with the live Projector into
a temporary file, and creates the read indexes. The moment is "now", after the topic was produced: every
event is replayed, the longest build that log can ask for. Baseline, in the same repetition: consume-only
(getmany + json.loads) of the same events.

Standalone: `python -m bench.as_of [--quick] [--events N] [--reps R]`; in the suite: `python -m bench.run
--only asof` (both sizes, or the --quick ones).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from bench.context import BenchContext, Sizes
from bench.kafka_io import bench_cluster, consume_only, end_offsets, produce_in_children, total
from bench.report import BenchResult, baselines_legend, markdown_table
from desktop_app.query.as_of import AsOfJob

SIZES = (200_000, 1_000_000)
QUICK_SIZES = (5_000, 20_000)


def sizes_of(ctx: BenchContext) -> tuple[int, ...]:
    return QUICK_SIZES if ctx.quick else SIZES


def produce_topics(ctx: BenchContext, sizes: tuple[int, ...], ready: Mapping[int, str] | None = None) -> dict[int, str]:
    """A topic of each size (orders only, the seeded stream); `ready` ones (size -> topic) are reused."""
    from bench.run import big_jobs  # run imports this module

    topics = {size: topic for size, topic in (ready or {}).items() if size in sizes}
    jobs = []
    for size in sizes:
        if size not in topics:
            topics[size] = ctx.cluster.new_topic(f"asof-{size}")
            jobs += big_jobs(topics[size], size)
    if jobs:
        ctx.log(f"as-of: producing {sum(job.count for job in jobs):,} events in {len(jobs)} child processes")
        produce_in_children(ctx.cluster, jobs)
    return topics


def run(ctx: BenchContext, topics: Mapping[int, str]) -> BenchResult:
    result = BenchResult("asof", "As of a moment", "consume-only of the same events (getmany + json.loads)",
                         params={"sizes": sorted(topics)})
    for size, topic in sorted(topics.items()):
        ends = end_offsets(ctx.cluster, topic)
        events = total(ends)
        seconds = result.row(f"build for {events:,} events", "s")
        per_million = result.row(f"{events:,} events: seconds per million", "s")
        rate = result.row(f"{events:,} events: throughput", "events/s")
        for rep in range(ctx.reps):
            consumed, baseline_s = asyncio.run(consume_only(ctx.cluster.client_kwargs, topic, ends))
            if consumed != events:
                raise RuntimeError(f"consume-only read {consumed} of {events} records")
            folder = ctx.fresh_dir(f"asof-{size}")
            started = time.perf_counter()
            view = AsOfJob(ctx.cluster.client_kwargs, topic, folder, datetime.now(timezone.utc)).start().follow()
            app_s = time.perf_counter() - started
            try:
                if view.records != events:
                    raise RuntimeError(f"the view as of now replayed {view.records} of {events} records")
            finally:
                view.close()
            seconds.add(app_s, baseline_s)
            per_million.add(app_s * 1_000_000 / events, baseline_s * 1_000_000 / events)
            rate.add(events / app_s, events / baseline_s)
            ctx.log(f"as-of {events:,} rep {rep + 1}: {app_s:.1f} s ({events / app_s:,.0f} events/s); "
                    f"consume-only {baseline_s:.1f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.as_of", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} instead of {SIZES}")
    parser.add_argument("--events", type=int, action="append", help="this size only (repeatable)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="order-desk-bench-asof-"))
    try:
        with bench_cluster(workdir) as cluster:
            ctx = BenchContext(cluster, workdir, args.reps, Sizes.quick() if args.quick else Sizes(), quick=args.quick)
            sizes = tuple(args.events) if args.events else sizes_of(ctx)
            result = run(ctx, produce_topics(ctx, sizes))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{markdown_table([result])}\n\nMedians of {args.reps} repetitions, (min–max) in brackets.\n"
          f"{baselines_legend([result])}")
    return 0 if result.complete else 1


if __name__ == "__main__":
    sys.exit(main())
