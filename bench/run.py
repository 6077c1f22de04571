"""Run the benchmarks: `python -m bench.run` (full) or `python -m bench.run --quick` (smoke run).

Starts a real Kafka broker (an embedded one in a temp dir, or the cluster in ORDER_DESK_BOOTSTRAP_SERVERS,
where its topics are deleted afterwards), produces the input topics from child processes, runs each
benchmark with its same-run baseline, writes bench/results/latest.json and prints a markdown table.
Exits 1 if any benchmark failed or produced no numbers; it never judges the timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import as_of, command_path, e2e, gui_stall, memory, projection, rebuild
from bench.context import BenchContext, Sizes
from bench.kafka_io import ProduceJob, bench_cluster, end_offsets, produce_in_children
from bench.report import BenchResult, baselines_legend, markdown_table

NAMES = ("e2e", "projection", "command", "rebuild", "gui", "memory", "asof")
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"
BIG_SEED = 31
PRODUCERS_FOR_BIG = 2  # child processes producing the big topic, each half of it


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks that every benchmark runs")
    parser.add_argument("--events", type=int, help="events of the rebuild and memory benchmarks (default 1M)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each measurement (default 3)")
    parser.add_argument("--only", default=",".join(NAMES), help=f"comma-separated subset of {','.join(NAMES)}")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON goes")
    parser.add_argument("--workdir", type=Path, help="keep data dirs here (default: a temp dir, deleted)")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {NAMES}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}{'+dirty' if dirty else ''}" if commit else None


def timed(ctx: BenchContext, name: str, work: Callable[[], BenchResult]) -> BenchResult:
    ctx.log(f"--- {name}")
    started = time.perf_counter()
    try:
        result = work()
    except Exception as exc:  # noqa: BLE001 - the other benchmarks still run; the exit code tells
        traceback.print_exc()
        result = BenchResult(name, name, "", error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - started
    ctx.log(f"--- {name} took {result.seconds:.0f} s")
    return result


def big_jobs(topic: str, events: int, cancel_share: float = 0.0) -> list[ProduceJob]:
    """The big topic's events, a share per child process (a cancellation names an order of its own share)."""
    share = -(-events // PRODUCERS_FOR_BIG)
    return [ProduceJob(topic, min(share, events - first), seed=BIG_SEED, start=first, cancel_share=cancel_share)
            for first in range(0, events, share)]


def caught_up_view(ctx: BenchContext, topic: str, name: str) -> Path:
    """The data dir of a read model projected (untimed) to the end of `topic`."""
    folder = ctx.fresh_dir(name)
    projected = projection.project(ctx, topic, end_offsets(ctx.cluster, topic), folder)
    if projected.ignored:
        raise RuntimeError(f"the projector ignored events of {topic}: every cancellation should apply")
    return folder


def run_all(ctx: BenchContext, only: list[str]) -> list[BenchResult]:
    sizes = ctx.sizes
    jobs: list[ProduceJob] = []
    projection_jobs: dict[str, ProduceJob] = {}
    big_topic = None
    big_cancels_topic = None
    if "projection" in only:
        projection_jobs = projection.produce_jobs(ctx)
        jobs += projection_jobs.values()
    if {"rebuild", "memory"} & set(only):
        big_topic = ctx.cluster.new_topic("big")
        jobs += big_jobs(big_topic, sizes.big_events)
    if "rebuild" in only:  # the same size, 5 % of the events cancellations (each cancels an order of its job)
        big_cancels_topic = ctx.cluster.new_topic("big-cancels")
        jobs += big_jobs(big_cancels_topic, sizes.big_events, projection.CANCEL_SHARE)
    if jobs:
        ctx.log(f"producing {sum(job.count for job in jobs):,} events in {len(jobs)} child processes")
        started = time.perf_counter()
        produce_in_children(ctx.cluster, jobs)
        ctx.log(f"produced in {time.perf_counter() - started:.1f} s")

    results: list[BenchResult] = []
    if "e2e" in only:
        results.append(timed(ctx, "e2e", lambda: e2e.run(ctx)))
    if "projection" in only:
        topics = {variant: job.topic for variant, job in projection_jobs.items()}
        results.append(timed(ctx, "projection", lambda: projection.run(ctx, topics)))
    if "command" in only:
        results.append(timed(ctx, "command", lambda: command_path.run(ctx)))
    live_view: list[Path] = []
    if "memory" in only:
        assert big_topic is not None

        def measure_memory() -> BenchResult:
            result, folder = memory.run(ctx, big_topic, sizes.big_events)
            live_view.append(folder)
            return result

        results.append(timed(ctx, "memory", measure_memory))
    if "rebuild" in only:
        assert big_topic is not None and big_cancels_topic is not None

        def measure_rebuild() -> BenchResult:
            if not live_view:  # a read model caught up with the big topic, projected untimed
                live_view.append(caught_up_view(ctx, big_topic, "rebuild-live"))
            with_cancels = caught_up_view(ctx, big_cancels_topic, "rebuild-live-cancels")
            return rebuild.run(ctx, [
                rebuild.RebuildLog(big_topic, live_view[0], one_process_too=True),
                rebuild.RebuildLog(big_cancels_topic, with_cancels, projection.VARIANTS["cancels"].label),
            ])

        results.append(timed(ctx, "rebuild", measure_rebuild))
    if "gui" in only:
        results.append(timed(ctx, "gui", lambda: gui_stall.run(ctx)))
    if "asof" in only:  # 200k and 1M events (quick: 5k, 20k); the big topic is reused when it is 1M
        ready = {sizes.big_events: big_topic} if big_topic else {}
        results.append(timed(ctx, "asof", lambda: as_of.run(ctx, as_of.produce_topics(ctx, as_of.sizes_of(ctx), ready))))
    order = {name: n for n, name in enumerate(("e2e", "projection", "command", "rebuild", "gui", "memory"))}
    return sorted(results, key=lambda r: order.get(r.name, len(order)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.events:
        sizes = dataclasses.replace(sizes, big_events=args.events)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="order-desk-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        with bench_cluster(workdir) as cluster:
            ctx = BenchContext(cluster, workdir, args.reps, sizes, quick=args.quick)
            results = run_all(ctx, args.only)
            broker = {"embedded": cluster.embedded, "bootstrap_servers": cluster.bootstrap_servers,
                      "partitions": cluster.partitions}
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started

    document: dict[str, Any] = {
        "meta": {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
            "mode": "quick" if args.quick else "full",
            "repetitions": args.reps,
            "sizes": dataclasses.asdict(sizes),
            "git": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "broker": broker,
            "seconds": round(elapsed, 1),
        },
        "benchmarks": {result.name: result.as_json() for result in results},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n")

    print(f"\n{markdown_table(results)}\n\nMedians of {args.reps} repetitions, (min–max) in brackets; ratios are "
          f"app ÷ baseline per repetition.\n{baselines_legend(results)}\n")
    print(f"Wrote {args.output} ({elapsed / 60:.1f} min).")
    incomplete = [result.name for result in results if not result.complete]
    missing = sorted(set(args.only) - {result.name for result in results})
    if incomplete or missing:
        print(f"FAILED: no complete numbers from {incomplete + missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
