"""`Projector.apply` without a broker: `python -m bench.apply_offline [--events N] [--cancel-share F] [--runs R]`.

The same events `bench.profile` produces (seed 41, skew 1.1), keyed to 6 partitions as Kafka's default
partitioner would (murmur2 of the key), fed in log order per partition to `Projector.apply` in batches of
`ProjectorOptions.max_records`, on a fresh read model per run. Reports this thread's CPU µs per event, per
stage (`bench.profile.StageClock`) and per statement kind. With no fetch and no broker it is steadier than
`bench.profile`, so two versions of the code can be compared in alternation in the same minutes: run it from
a copy of the older tree (`git archive <commit> desktop_app bench | tar -x -C DIR`, then `cd DIR`).
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka.partitioner import murmur2

from bench.events import OrderGenerator
from bench.kafka_io import PARTITIONS
from bench.profile import StageClock
from desktop_app.query.projector import Projector, Record
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.schema import ensure_schema, open_engine

TOPIC = "offline"


def records(events: int, cancel_share: float) -> list[Record]:
    """The log's records, in the order one reader of every partition would apply them (round robin of runs)."""
    offsets = [0] * PARTITIONS
    out = []
    for key, value, headers in OrderGenerator(41, skew=1.1).event_records(events, cancel_share=cancel_share):
        partition = (murmur2(key) & 0x7FFFFFFF) % PARTITIONS
        out.append(Record(TOPIC, partition, offsets[partition], value, key, headers))
        offsets[partition] += 1
    return out


def run(batch: list[Record], db: Path, max_records: int) -> dict[str, Any]:
    engine = open_engine(db, writer=True)
    ensure_schema(engine)
    projector = Projector(engine, TOPIC)
    clock = StageClock(engine, projector)
    cpu = 0.0
    for start in range(0, len(batch), max_records):
        started = time.thread_time()
        projector.apply(batch[start:start + max_records])
        cpu += time.thread_time() - started
    engine.dispose()
    write = sum(clock.sql.values())
    per_event = 1e6 / len(batch)
    stages = {"decode": clock.decode, "plan": cpu - clock.decode - write - clock.commit, "write": write,
              "commit": clock.commit, "apply": cpu}
    return {"stages": {name: seconds * per_event for name, seconds in stages.items()},
            "sql": {kind: seconds * per_event for kind, seconds in clock.sql.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apply_offline")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--cancel-share", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--max-records", type=int, default=ProjectorOptions().max_records)
    parser.add_argument("--records", type=Path, help="pickle of the records: made if missing, reused if there")
    parser.add_argument("--keep", type=Path, help="keep the last run's read model at this path (to compare views)")
    args = parser.parse_args(argv)
    if args.records is not None and args.records.exists():
        batch = pickle.loads(args.records.read_bytes())
    else:
        batch = records(args.events, args.cancel_share)
        if args.records is not None:
            args.records.write_bytes(pickle.dumps(batch))
    with tempfile.TemporaryDirectory(prefix="order-desk-offline-") as folder:
        for number in range(args.runs):
            db = args.keep if args.keep is not None and number == args.runs - 1 else Path(folder) / f"{number}.db"
            outcome = run(batch, db, args.max_records)
            print(" ".join(f"{name} {value:.1f}" for name, value in outcome["stages"].items()), "| sql:",
                  ", ".join(f"{kind} {value:.1f}" for kind, value in sorted(outcome["sql"].items(), key=lambda r: -r[1])
                            if value >= 0.1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
