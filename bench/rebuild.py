"""4. Rebuild: the zero-downtime shadow rebuild of a read model that is caught up with the big topic.

QueryService.rebuild replays the whole log into a shadow generation while the live view keeps being
served, then swaps it in. Each repetition times one rebuild() call, start to swap. Baseline, in the same
repetition: consume-only (getmany + json.loads) of the same events.
Two logs of the same size, each its own rows: orders only, and one where 5 % of the events are
OrderCancelled of earlier orders.
The rebuild replays partition groups in one process per core (partition_replay.py); on the plain log each
repetition also times the rebuild in one process, for the parallel speed-up row (app: in parallel,
baseline: one process, so the ratio is the speed-up).
The target (20 s for 1M events) is scaled to the number of events of the run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench.context import BenchContext
from bench.kafka_io import consume_only, end_offsets, total
from bench.report import BenchResult, Row, Target
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.service import QueryService

TARGET_S_PER_MILLION = 20.0
ONE_PROCESS = ProjectorOptions(replay_processes=1)


@dataclass(frozen=True)
class RebuildLog:
    """A topic to rebuild from, and the data dir of a read model already caught up with it."""

    topic: str
    data_dir: Path
    label: str = ""  # prefix of its rows; "" for the plain log
    one_process_too: bool = False  # also time the rebuild in one process (the parallel speed-up row)


def run(ctx: BenchContext, logs: list[RebuildLog]) -> BenchResult:
    sizes = {log.label: total(end_offsets(ctx.cluster, log.topic)) for log in logs}
    events = max(sizes.values())
    result = BenchResult(
        "rebuild", "4. Shadow rebuild", "consume-only of the same events (getmany + json.loads)",
        params={"events": events, "target_seconds": round(TARGET_S_PER_MILLION * events / 1_000_000, 2)},
    )
    for log in logs:
        prefix = f"{log.label}: " if log.label else ""
        count = sizes[log.label]
        target_s = round(TARGET_S_PER_MILLION * count / 1_000_000, 2)
        seconds = result.row(f"{prefix}seconds for {count:,} events", "s", Target("<=", target_s))
        rate = result.row(f"{prefix}rebuild throughput", "events/s")
        speed_up = result.row(f"{prefix}parallel speed-up: in parallel vs one process", "events/s") \
            if log.one_process_too else None
        rebuild_log(ctx, log, seconds, rate, speed_up)
    return result


def rebuild_log(ctx: BenchContext, log: RebuildLog, seconds: Row, rate: Row, speed_up: Row | None) -> None:
    ends = end_offsets(ctx.cluster, log.topic)
    events = total(ends)
    for rep in range(ctx.reps):
        consumed, baseline_s = asyncio.run(consume_only(ctx.cluster.client_kwargs, log.topic, ends))
        if consumed != events:
            raise RuntimeError(f"consume-only read {consumed} of {events} records")
        app_s = timed_rebuild(ctx, log, ends, None)
        seconds.add(app_s, baseline_s)
        rate.add(events / app_s, events / baseline_s)
        line = (f"rebuild {log.label or 'orders only'} rep {rep + 1}: {app_s:.1f} s ({events / app_s:,.0f} "
                f"events/s); consume-only {baseline_s:.1f} s")
        if speed_up is not None:
            one_s = timed_rebuild(ctx, log, ends, ONE_PROCESS)
            speed_up.add(events / app_s, events / one_s)
            line += f"; in one process {one_s:.1f} s"
        ctx.log(line)


def timed_rebuild(ctx: BenchContext, log: RebuildLog, ends: dict[int, int], options: ProjectorOptions | None) -> float:
    """Seconds of one `rebuild()` of the caught-up view in `log.data_dir`, start to swap."""
    events = total(ends)
    query = QueryService(log.data_dir / "readmodel.db", ctx.cluster.client_kwargs, log.topic, options=options)
    try:
        query.start()
        if not query.wait_for_offsets(ends, timeout=3600):  # normally at once: it was projected before
            raise TimeoutError(f"the live view of {log.topic} did not catch up before the rebuild")
        started = time.perf_counter()
        outcome = query.rebuild(timeout=3600)
        app_s = time.perf_counter() - started
        if not outcome.completed or outcome.total != events:
            raise RuntimeError(f"the rebuild did not complete: {outcome}")
        return app_s
    finally:
        query.close()
