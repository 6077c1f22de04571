"""Where the projector's time goes: `python -m bench.profile [--events N] [--skew 1.1|none] [--cancel-share F]`.

Produces N realistic events (as the benchmarks do), reads them back with aiokafka and feeds each batch
(10,000 records, the projector's batch size) to `Projector.apply` in this thread, on a fresh read model.
Only `apply` is measured: the time of each SQL statement kind (SQLAlchemy cursor events), of decoding
and planning (`Projector._plan`), and the rest (transaction, commit, glue); then cProfile's top functions.
The rate is reported per tenth of the run, to show how it changes as the read model grows.

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
from desktop_app.query.schema import READ_MODEL_TABLES, ensure_schema, ensure_shadow_schema, open_engine

BATCH = 10_000
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


async def profile(client_kwargs: dict[str, Any], topic: str, ends: dict[int, int], db: Path,
                  pragmas: list[str] = (), shadow: bool = False) -> dict[str, Any]:  # type: ignore[assignment]
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
    sql_time: dict[str, float] = defaultdict(float)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        sql_time[statement_kind(statement)] += time.perf_counter() - conn.info.pop("started")

    plan_time = [0.0]
    plan = projector._plan

    def timed_plan(records: Any) -> Any:
        started = time.perf_counter()
        try:
            return plan(records)
        finally:
            plan_time[0] += time.perf_counter() - started

    projector._plan = timed_plan  # type: ignore[method-assign]
    profiler = cProfile.Profile()
    consumer = AIOKafkaConsumer(**client_kwargs, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    applied = 0
    apply_s = 0.0
    cpu_s = 0.0  # this process's CPU time in apply: steadier than wall time on a shared machine
    tenths: list[tuple[int, float]] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        goal = total(ends)
        while applied < goal:
            batch = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            records = [record for part in batch.values() for record in part]
            if not records:
                continue
            started, cpu_started = time.perf_counter(), time.process_time()
            profiler.enable()
            projector.apply(records)
            profiler.disable()
            apply_s += time.perf_counter() - started
            cpu_s += time.process_time() - cpu_started
            applied += len(records)
            tenths.append((applied, apply_s))
    finally:
        await consumer.stop()
        engine.dispose()
    return {"applied": applied, "apply_s": apply_s, "cpu_s": cpu_s, "plan_s": plan_time[0], "sql": dict(sql_time),
            "profiler": profiler, "progress": tenths}


def report(outcome: dict[str, Any], top: int) -> str:
    out = io.StringIO()
    applied, apply_s = outcome["applied"], outcome["apply_s"]
    print(f"Projector.apply: {applied:,} events in {apply_s:.1f} s = {applied / apply_s:,.0f} events/s "
          f"({apply_s / applied * 1e6:.1f} µs per event; CPU {outcome['cpu_s'] / applied * 1e6:.1f} µs per event), "
          "Kafka fetching excluded\n", file=out)
    rows = [("decode + plan (contracts.decode, view facts)", outcome["plan_s"])]
    rows += sorted(((f"SQL: {kind}", seconds) for kind, seconds in outcome["sql"].items()), key=lambda r: -r[1])
    rows.append(("rest (transactions, commit, aggregation, glue)", apply_s - sum(s for _, s in rows)))
    print("| part | seconds | share | µs per event |\n|---|---|---|---|", file=out)
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {100 * seconds / apply_s:.0f}% | {seconds / applied * 1e6:.1f} |",
              file=out)
    progress = outcome["progress"]
    if len(progress) >= 10:
        print("\nRate as the read model grows (events/s per tenth of the run):", file=out)
        marks = [progress[len(progress) * n // 10 - 1] for n in range(1, 11)]
        previous = (0, 0.0)
        rates = []
        for done, seconds in marks:
            rates.append(f"{(done - previous[0]) / max(seconds - previous[1], 1e-9):,.0f}")
            previous = (done, seconds)
        print(" → ".join(rates), file=out)
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
                                      args.pragma, args.shadow))
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
