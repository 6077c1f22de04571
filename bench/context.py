"""What every benchmark gets: the cluster, a work dir, the repetitions and the sizes of this run."""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.kafka_io import BenchCluster


@dataclass(frozen=True)
class Sizes:
    e2e_orders: int = 2_000
    e2e_warmup: int = 50
    projection_events: int = 200_000
    command_orders: int = 50_000
    command_chunk: int = 1_000  # orders per place_orders call (one outbox transaction each)
    command_single_orders: int = 2_000  # one place_order at a time, as the order form does
    big_events: int = 1_000_000  # rebuild and memory
    gui_rows: int = 100_000
    gui_burst_rate: int = 20_000
    gui_burst_seconds: float = 5.0
    gui_idle_seconds: float = 5.0

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            e2e_orders=100, e2e_warmup=10, projection_events=5_000, command_orders=2_000, command_chunk=500,
            command_single_orders=200, big_events=20_000, gui_rows=5_000, gui_burst_rate=2_000,
            gui_burst_seconds=1.0, gui_idle_seconds=1.0,
        )


@dataclass
class BenchContext:
    cluster: BenchCluster
    workdir: Path
    reps: int
    sizes: Sizes
    quick: bool = False
    _counter: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def fresh_dir(self, name: str) -> Path:
        path = self.workdir / f"{name}-{next(self._counter)}"
        path.mkdir(parents=True)
        return path

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
