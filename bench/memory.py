"""6. Memory: the peak RSS of a process that projects the big topic (the broker is another process).

Each repetition runs `python -m bench.memory project ...` in a fresh child process: it imports the app,
projects the topic from offset 0 to its end into a fresh read model through the QueryService, and
reports its own peak RSS (VmHWM on Linux), and the peak of its RSS plus that of the processes it starts (a
new view of a big log is filled by partition groups in their own processes, partition_replay.py), sampled
every 0.2 s. Baseline, in the same repetition: a child that only imports the app (`python -m bench.memory import`).
The read model a child leaves behind is reused by the rebuild benchmark (a live view that is caught up).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.context import BenchContext
from bench.kafka_io import child_env
from bench.report import BenchResult, Target

TARGET_MB = 300.0
MB = 1024 * 1024


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    Linux: VmHWM of /proc/self/status. Not getrusage's ru_maxrss: that keeps the RSS the process had
    before exec, i.e. a copy of the parent's at fork, so a child of a big parent would report the parent.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    import psutil

    info = psutil.Process().memory_info()
    if hasattr(info, "peak_wset"):  # Windows
        return int(info.peak_wset)
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # macOS: bytes


class FamilyPeak:
    """The largest RSS of this process plus every process it started (they come and go), sampled."""

    def __init__(self, every_s: float = 0.2) -> None:
        import psutil

        self._process = psutil.Process()
        self._peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every_s,), name="rss-sampler", daemon=True)
        self._thread.start()

    def _sample(self, every_s: float) -> None:
        import psutil

        while not self._done.wait(every_s):
            total = self._process.memory_info().rss
            for started in self._process.children(recursive=True):
                try:
                    total += started.memory_info().rss
                except psutil.Error:  # it ended meanwhile
                    pass
            self._peak = max(self._peak, total)

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self._peak


def child(ctx: BenchContext, mode: str, data_dir: Path, topic: str, timeout: float = 3600) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.memory", mode, str(data_dir), topic]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=child_env(ctx.cluster))
    if result.returncode != 0:
        raise RuntimeError(f"memory child ({mode}) failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(ctx: BenchContext, topic: str, events: int) -> tuple[BenchResult, Path]:
    """The result, and the data dir of a read model caught up with `topic`."""
    result = BenchResult(
        "memory", "6. Memory (projector process)", "the same child process having only imported the app",
        params={"events": events, "measure": "peak RSS (VmHWM) of the child process"},
    )
    peak = result.row(f"peak RSS after projecting {events:,} events", "MB", Target("<=", TARGET_MB))
    peak_all = result.row("peak RSS with the processes it starts, while projecting (sampled)", "MB")
    rate = result.row("projector throughput in that process", "events/s")
    kept: Path | None = None
    for rep in range(ctx.reps):
        idle = child(ctx, "import", ctx.fresh_dir("memory-import"), topic)
        folder = ctx.fresh_dir("memory")
        busy = child(ctx, "project", folder, topic)
        if busy["events"] != events:
            raise RuntimeError(f"the child projected {busy['events']} events, not {events}")
        peak.add(busy["peak_rss_mb"], idle["peak_rss_mb"])
        peak_all.add(busy["peak_with_children_mb"], idle["peak_rss_mb"])
        rate.add(busy["events"] / busy["seconds"])
        kept = kept or folder
        ctx.log(f"memory rep {rep + 1}: peak RSS {busy['peak_rss_mb']:.0f} MB after {events:,} events "
                f"({busy['seconds']:.1f} s), {busy['peak_with_children_mb']:.0f} MB with the processes it "
                f"started; import only {idle['peak_rss_mb']:.0f} MB")
    assert kept is not None
    return result, kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("mode", choices=("import", "project"))
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("topic")
    args = parser.parse_args(argv)

    import desktop_app.bootstrap  # noqa: F401 - the app, as the desktop imports it (all but the UI)
    from desktop_app.query.service import QueryService
    from desktop_app.settings import Settings

    report: dict[str, Any] = {"events": 0, "seconds": 0.0}
    sampler = FamilyPeak()
    if args.mode == "project":
        settings = Settings(data_dir=args.data_dir)
        started = time.perf_counter()
        with QueryService(settings.readmodel_db_path, settings.kafka_client_kwargs(), args.topic) as query:
            ends = query.end_offsets(timeout=30)
            if not query.wait_for_offsets(ends, timeout=3600):
                raise TimeoutError("the projector did not reach the end of the log")
            report["seconds"] = time.perf_counter() - started
            report["events"] = query.read_model.events_applied()
    report["peak_rss_mb"] = peak_rss_bytes() / MB
    report["peak_with_children_mb"] = max(sampler.stop(), peak_rss_bytes()) / MB
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
