"""Where the projector's time goes: `python -m bench.profile [--events N] [--skew 1.1|none] [--cancel-share F]`.

Produces N realistic events (as the benchmarks do), reads them back with aiokafka in the projector's batches
(`consumer.fetch_batch`: getmany of 10,000, gathered up to `max_records` while behind) and feeds each
to `Projector.apply` in this thread, on a fresh read model. Reported in CPU µs per event per stage (fetch,
decode, plan, write, commit; see StageClock) and per SQL statement kind; `--cprofile` adds cProfile's top
functions (it slows apply, so the stages are then inflated). The rate is reported per tenth of the run, to
show how it changes as the read model grows.

For a sampling profile of the whole process (every thread, including the GIL holder), use py-spy:
    py-spy record --threads --gil -f speedscope -o projector.json -- python -m bench.memory project DIR TOPIC
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import event

from bench.kafka_io import ProduceJob, bench_cluster, end_offsets, produce_in_children, total
from desktop_app.query.projector import Projector
from desktop_app.query.consumer import fetch_batch
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.schema import READ_MODEL_TABLES, ensure_schema, ensure_shadow_schema, open_engine

# every table of the read model (orders, ignored_events, event_copies, ...), as the schema declares them
_TABLE = re.compile(r"\b(" + "|".join(re.escape(table.name) for table in READ_MODEL_TABLES) + r")\b")


def statement_kind(sql: str) -> str:
    """"verb table" of a statement, e.g. "insert orders" or "insert ordered_items (upsert)"."""
    text = " ".join(sql.split()).lower()
    if not text:
        return "?"
    verb = text.split()[0]
    table = _TABLE.search(text)
    if table is None:
        return verb
    return f"{verb} {table.group(1)}" + (" (upsert)" if "on conflict" in text else "")


class StageClock:
    """CPU time of this thread per stage of `Projector.apply`, with SQLAlchemy events and two wrappers.

    decode: `Projector._plan` (contracts.decode and the view facts of each record); write: every SQL statement
    the projector executes (the cursor's execute or executemany), per statement kind; commit: the DBAPI commit;
    plan: the rest of apply (copies, order book and sums deciding in Python, reading select results row by
    row, SQLAlchemy's glue). CPU time, not wall time: on a shared machine the wall clock also counts the
    time other processes held the core.
    """

    def __init__(self, engine: Any, projector: Projector) -> None:
        self.decode = 0.0
        self.commit = 0.0
        self.sql: dict[str, float] = defaultdict(float)

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            conn.info["started"] = time.thread_time()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            self.sql[statement_kind(statement)] += time.thread_time() - conn.info.pop("started")

        commit = engine.dialect.do_commit

        def timed_commit(dbapi_connection: Any) -> None:
            started = time.thread_time()
            try:
                commit(dbapi_connection)
            finally:
                self.commit += time.thread_time() - started

        engine.dialect.do_commit = timed_commit
        plan = projector._plan

        def timed_plan(records: Any) -> Any:
            started = time.thread_time()
            try:
                return plan(records)
            finally:
                self.decode += time.thread_time() - started

        projector._plan = timed_plan  # type: ignore[method-assign]


async def profile(client_kwargs: dict[str, Any], topic: str, ends: dict[int, int], db: Path,
                  pragmas: list[str] = (), shadow: bool = False,  # type: ignore[assignment]
                  use_cprofile: bool = False, options: ProjectorOptions | None = None) -> dict[str, Any]:
    engine = open_engine(db, writer=True)

    @event.listens_for(engine, "connect")
    def _try_pragmas(dbapi_connection: Any, _record: Any) -> None:
        for pragma in pragmas:
            dbapi_connection.execute(f"PRAGMA {pragma}")

    if shadow:
        ensure_shadow_schema(engine)
    else:
        ensure_schema(engine)
    projector = Projector(engine, topic)
    clock = StageClock(engine, projector)
    profiler = cProfile.Profile() if use_cprofile else None
    options = options or ProjectorOptions()  # the projector's batches: getmany sizes, gathered while behind
    consumer = AIOKafkaConsumer(**client_kwargs, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=options.fetch_max_wait_ms)
    await consumer.start()
    applied = 0
    apply_s = 0.0  # wall time in apply
    cpu_s = 0.0  # this thread's CPU time in apply: steadier than wall time on a shared machine
    fetch_s = fetch_cpu_s = 0.0
    tenths: list[tuple[int, float]] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        goal = total(ends)
        while applied < goal:
            started, cpu_started = time.perf_counter(), time.thread_time()
            records = await fetch_batch(consumer, options)
            fetch_s += time.perf_counter() - started
            fetch_cpu_s += time.thread_time() - cpu_started
            if not records:
                continue
            started, cpu_started = time.perf_counter(), time.thread_time()
            if profiler is not None:
                profiler.enable()
            projector.apply(records)
            if profiler is not None:
                profiler.disable()
            apply_s += time.perf_counter() - started
            cpu_s += time.thread_time() - cpu_started
            applied += len(records)
            tenths.append((applied, cpu_s))
    finally:
        await consumer.stop()
        engine.dispose()
    return {"applied": applied, "batches": len(tenths), "apply_s": apply_s, "cpu_s": cpu_s, "fetch_s": fetch_s,
            "fetch_cpu_s": fetch_cpu_s, "clock": clock, "profiler": profiler, "progress": tenths}


def stages(outcome: dict[str, Any]) -> list[tuple[str, float]]:
    """(stage, CPU seconds) of apply, fetch first; see StageClock."""
    clock: StageClock = outcome["clock"]
    write = sum(clock.sql.values())
    plan = outcome["cpu_s"] - clock.decode - write - clock.commit
    return [("fetch (aiokafka getmany)", outcome["fetch_cpu_s"]),
            ("decode (contracts.decode, view facts)", clock.decode),
            ("plan (copies, order book, sums in Python; select rows read; glue)", plan),
            ("write (SQL statements)", write), ("commit", clock.commit)]


def report(outcome: dict[str, Any], top: int) -> str:
    out = io.StringIO()
    applied, apply_s, cpu_s = outcome["applied"], outcome["apply_s"], outcome["cpu_s"]
    print(f"Projector.apply: {applied:,} events, CPU {cpu_s:.1f} s = {cpu_s / applied * 1e6:.1f} µs per event "
          f"({applied / cpu_s:,.0f} events/s of CPU); wall {apply_s:.1f} s = {applied / apply_s:,.0f} events/s. "
          f"{outcome['batches']} batches (transactions). Fetching: wall {outcome['fetch_s']:.1f} s, "
          f"CPU {outcome['fetch_cpu_s']:.1f} s\n", file=out)
    print("| stage | CPU µs per event | share of apply |\n|---|---|---|", file=out)
    for name, seconds in stages(outcome):
        share = "–" if name.startswith("fetch") else f"{100 * seconds / cpu_s:.0f}%"
        print(f"| {name} | {seconds / applied * 1e6:.1f} | {share} |", file=out)
    print("\nwrite, per statement kind (CPU µs per event):", file=out)
    for kind, seconds in sorted(outcome["clock"].sql.items(), key=lambda row: -row[1]):
        if seconds / applied * 1e6 >= 0.05:
            print(f"- {kind}: {seconds / applied * 1e6:.1f}", file=out)
    progress = outcome["progress"]
    if len(progress) >= 10:
        print("\nRate as the read model grows (events per CPU second of apply, per tenth of the run):", file=out)
        marks = [progress[len(progress) * n // 10 - 1] for n in range(1, 11)]
        previous = (0, 0.0)
        rates = []
        for done, seconds in marks:
            rates.append(f"{(done - previous[0]) / max(seconds - previous[1], 1e-9):,.0f}")
            previous = (done, seconds)
        print(" → ".join(rates), file=out)
    if outcome["profiler"] is not None:
        stats = pstats.Stats(outcome["profiler"], stream=out)
        print(f"\ncProfile, top {top} by own time (cProfile inflates many small calls):", file=out)
        stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--skew", default="1.1")
    parser.add_argument("--cancel-share", type=float, default=0.0,
                        help="about this share of the events cancel an earlier order (e.g. 0.05)")
    parser.add_argument("--max-records", type=int, default=ProjectorOptions().max_records,
                        help="records per transaction at most (ProjectorOptions.max_records)")
    parser.add_argument("--cprofile", action="store_true", help="also run cProfile (slows apply) and list its top")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument("--shadow", action="store_true",
                        help="project into a read model built as a rebuild's shadow (no read-only indexes)")
    parser.add_argument("--pragma", action="append", default=[],
                        help="try a SQLite PRAGMA on the projector's connection, e.g. cache_size=-65536 (repeatable)")
    args = parser.parse_args(argv)
    skew = None if args.skew.lower() == "none" else float(args.skew)
    with tempfile.TemporaryDirectory(prefix="order-desk-profile-") as folder, bench_cluster(Path(folder)) as cluster:
        topic = cluster.new_topic("profile")
        produce_in_children(cluster, [ProduceJob(topic, args.events, seed=41, skew=skew,
                                                       cancel_share=args.cancel_share)])
        ends = end_offsets(cluster, topic)
        outcome = asyncio.run(profile(cluster.client_kwargs, topic, ends, Path(folder) / "readmodel.db",
                                      args.pragma, args.shadow, args.cprofile,
                                      ProjectorOptions(max_records=args.max_records)))
    text = report(outcome, args.top)
    if args.shadow:
        text = "Into a shadow (read-only indexes created at the swap)\n\n" + text
    if args.pragma:
        text = f"With PRAGMA {', '.join(args.pragma)}\n\n" + text
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
