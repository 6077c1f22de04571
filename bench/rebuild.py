"""4. Rebuild: the zero-downtime shadow rebuild of a read model that is caught up with the big topic.

QueryService.rebuild replays the whole log into a shadow generation while the live view keeps being
served, then swaps it in. Each repetition times one rebuild() call, start to swap. Baseline, in the same
repetition: consume-only (getmany + json.loads) of the same events.
The target (30 s for 1M events) is scaled to the number of events of the run.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.context import BenchContext
from bench.kafka_io import consume_only, end_offsets, total
from bench.report import BenchResult, Target
from desktop_app.query.service import QueryService

TARGET_S_PER_MILLION = 30.0


def run(ctx: BenchContext, topic: str, data_dir: Path) -> BenchResult:
    ends = end_offsets(ctx.cluster, topic)
    events = total(ends)
    target_s = TARGET_S_PER_MILLION * events / 1_000_000
    result = BenchResult(
        "rebuild", "4. Shadow rebuild", "consume-only of the same events (getmany + json.loads)",
        params={"events": events, "target_seconds": round(target_s, 2)},
    )
    seconds = result.row(f"seconds for {events:,} events", "s", Target("<=", round(target_s, 2)))
    rate = result.row("rebuild throughput", "events/s")
    query = QueryService(data_dir / "readmodel.db", ctx.cluster.client_kwargs, topic)
    try:
        query.start()
        if not query.wait_for_offsets(ends, timeout=3600):  # normally at once: the memory child projected it
            raise TimeoutError("the live view did not catch up before the rebuild")
        for rep in range(ctx.reps):
            consumed, baseline_s = asyncio.run(consume_only(ctx.cluster.client_kwargs, topic, ends))
            if consumed != events:
                raise RuntimeError(f"consume-only read {consumed} of {events} records")
            started = time.perf_counter()
            outcome = query.rebuild(timeout=3600)
            app_s = time.perf_counter() - started
            if not outcome.completed or outcome.total != events:
                raise RuntimeError(f"the rebuild did not complete: {outcome}")
            seconds.add(app_s, baseline_s)
            rate.add(events / app_s, events / baseline_s)
            ctx.log(f"rebuild rep {rep + 1}: {app_s:.1f} s ({events / app_s:,.0f} events/s); "
                    f"consume-only {baseline_s:.1f} s")
    finally:
        query.close()
    return result
