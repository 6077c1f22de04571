"""5. GUI stall: the largest gap of a 5 ms heartbeat on the GUI thread while the projector takes a burst.

Each repetition: a fresh topic filled with orders that make `gui_rows` view rows across the three tabs;
then a child process (`python -m bench.gui_stall child ...`) runs the real desk, offscreen: DeskRuntime
(command service, relay, projector) and MainWindow on the qasync loop. Once the view has caught up and
the window is shown, a 5 ms QTimer heartbeat runs
  * for `gui_idle_seconds` with the window idle: the baseline;
  * while another process (bench.produce, as another desk would) sends `gui_burst_rate` events/s for
    `gui_burst_seconds`, until the projector has applied them all and the tabs have taken the changes.
The metric is the largest gap between two heartbeats, in ms (5 ms when nothing ever blocks the thread).
Each repetition runs twice: the tabs in their default order (by customer), and sorted newest first.

Burst catch-up: the time from the projector catching up with the burst (its stored offsets reach the log's
end) to every tab showing what the view holds (its total, and its loaded rows equal to the view's first
rows in the tab's order). Baseline: the same time for one order placed through the window's command service
while the window is idle (the GUI path's own latency: queued signal, coalescing, re-read, apply).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.context import BenchContext
from bench.kafka_io import ProduceJob, child_env, produce_in_children
from bench.memory import peak_rss_bytes
from bench.report import BenchResult, Target, percentile

TARGET_MS = 50.0
CATCH_UP_TARGET_S = 2.0
# The tabs' order during the burst. By customer (the default), changes beyond the loaded pages only move the
# totals; newest first (Last ordered, descending, as a clerk watching new orders sorts), every change may move
# a row into the shown window.
ORDERS = {"customer": "", "newest": ", tabs newest first"}
LAST_ORDERED_COLUMN = 5
HEARTBEAT_MS = 5
STORE_SEED = 11  # the rows and the burst come from the same store (items, prices)


def run(ctx: BenchContext) -> BenchResult:
    sizes = ctx.sizes
    burst = int(sizes.gui_burst_rate * sizes.gui_burst_seconds)
    result = BenchResult(
        "gui", "5. GUI stall", f"the same heartbeat with the window idle for {sizes.gui_idle_seconds:g} s",
        params={"view_rows": sizes.gui_rows, "burst_rate": sizes.gui_burst_rate,
                "burst_seconds": sizes.gui_burst_seconds, "burst_events": burst, "heartbeat_ms": HEARTBEAT_MS},
    )
    rows = {}
    for order, label in ORDERS.items():
        rows[order] = (
            result.row(f"largest heartbeat gap{label}", "ms", Target("<=", TARGET_MS)),
            result.row(f"p99 heartbeat gap{label}", "ms"),
            result.row(f"burst catch-up: tabs match the view after the projector{label}", "s",
                       Target("<=", CATCH_UP_TARGET_S)),
        )
    result.notes.append("burst catch-up baseline: one order placed while the window is idle, from its commit "
                        "in the view to the tabs showing it")
    rates, catch_up, window_rss, projector_rss = [], [], [], []
    for rep in range(ctx.reps):
        for order, (largest, p99, catch_up_row) in rows.items():
            topic = ctx.cluster.new_topic("gui")
            produce_in_children(ctx.cluster, [ProduceJob(topic, sizes.gui_rows, seed=STORE_SEED, kind="rows")])
            report = child(ctx, ctx.fresh_dir("gui"), topic, burst, sizes, order)
            largest.add(report["burst"]["max_ms"], report["idle"]["max_ms"])
            p99.add(report["burst"]["p99_ms"], report["idle"]["p99_ms"])
            catch_up_row.add(report["tabs_after_projector_s"], report["one_order_tabs_after_projector_s"])
            ctx.log(f"gui rep {rep + 1}, tabs by {order}: largest gap {report['burst']['max_ms']:.1f} ms during "
                    f"the burst (idle {report['idle']['max_ms']:.1f} ms); burst sent at "
                    f"{report['producer']['send_rate']:,.0f} events/s; view and tabs caught up "
                    f"{report['drained_after_last_send_s']:.1f} s after the last send; tabs matched the view "
                    f"{report['tabs_after_projector_s']:.2f} s after the projector caught up "
                    f"(one order: {report['one_order_tabs_after_projector_s']:.2f} s)")
            if order != "customer":
                continue
            rates.append(report["producer"]["send_rate"])
            catch_up.append(report["drained_after_last_send_s"])
            window_rss.append(round(report["window_peak_rss_mb"]))
            projector_rss.append(report["projector_rss_mb"] and round(report["projector_rss_mb"]))
            result.params["view_rows_shown"] = report["rows_shown"]
    result.params["burst_rate_achieved"] = [round(r) for r in rates]
    result.params["caught_up_after_last_send_s"] = [round(s, 2) for s in catch_up]
    result.params["window_process_peak_rss_mb"] = window_rss  # the window's process, projector excluded
    result.params["projector_process_rss_mb"] = projector_rss  # its projector child, at the end of the burst
    return result


def child(ctx: BenchContext, data_dir: Path, topic: str, burst: int, sizes: Any, order: str) -> dict[str, Any]:
    env = child_env(ctx.cluster) | {"QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "bench.gui_stall", str(data_dir), topic, str(burst),
               "--rate", str(sizes.gui_burst_rate), "--idle-seconds", str(sizes.gui_idle_seconds), "--order", order]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"GUI child failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the child process: the real window ----------------------------------------------------------------


def gaps_summary(gaps: list[float]) -> dict[str, float]:
    return {"beats": len(gaps), "max_ms": max(gaps) * 1000, "p99_ms": percentile(gaps, 0.99) * 1000,
            "median_ms": percentile(gaps, 0.5) * 1000}


def tabs_match_view(window: Any, snapshot: dict[Any, tuple[int, list[Any]]]) -> bool:
    """True if every tab's total and loaded rows (a snapshot taken on the GUI thread) are the view's."""
    for band, (total, rows) in snapshot.items():
        model = window.models[band]
        if total != model.source.count_items(band, model.customer, model.search):
            return False
        if rows != model.source.items(band, model.customer, model.search, order_by=model._order_by(),
                                      descending=model.descending, limit=max(len(rows), 1)):
            return False
    return True


async def tabs_catch_up(runtime: Any, window: Any, ends: dict[int, int], timeout: float = 600) -> float:
    """Seconds from the projector storing every offset up to `ends` to the tabs matching the view."""
    stored = runtime.query.stored_offsets
    await until(lambda: all(stored().get(p, 0) >= end for p, end in ends.items()), timeout, poll=0.005)
    caught_up = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            snapshot = {band: (model.total, [model.row_at(i) for i in range(model.rowCount())])
                        for band, model in window.models.items()}
            if await asyncio.to_thread(tabs_match_view, window, snapshot):
                return time.monotonic() - caught_up
            await asyncio.sleep(0.02)


async def one_order_catch_up(runtime: Any, window: Any) -> float:
    """The baseline: one order placed through the window's command service, from its commit to the tabs."""
    from desktop_app.command.model import LineInput, PlaceOrder

    receipt = await runtime.command.place_order(PlaceOrder(
        customer_id="bench-one-order", lines=(LineInput("Marker", "3.50", 1),)))
    published = await runtime.command.wait_published(receipt.command_id, 60)
    return await tabs_catch_up(runtime, window, {published.partition: published.offset + 1})


async def scenario(data_dir: Path, topic: str, burst: int, rate: float, idle_s: float,
                   order: str = "customer") -> dict[str, Any]:
    from PySide6.QtCore import Qt, QTimer

    from desktop_app.bootstrap import DeskRuntime
    from desktop_app.settings import Settings
    from desktop_app.ui.app import freeze_startup_heap
    from desktop_app.ui.main_window import MainWindow

    settings = Settings(data_dir=data_dir, topic=topic, client_id="bench-gui")
    runtime = DeskRuntime(settings)
    await runtime.start()
    window = None
    try:
        if not await asyncio.to_thread(runtime.query.catch_up, 600):
            raise TimeoutError("the view did not catch up with the rows before the burst")
        window = MainWindow(runtime)
        window.start()
        window.show()
        if order == "newest":
            for view in window.views.values():
                view.sortByColumn(LAST_ORDERED_COLUMN, Qt.SortOrder.DescendingOrder)
        await until(lambda: runtime.connection is not None, 60)
        await asyncio.sleep(1.0)  # the first status refresh and page loads
        rows_shown = sum(model.total for model in window.models.values())
        freeze_startup_heap()  # as ui.app.run_window does once the window is up

        gaps: list[float] = []
        last = [0.0]

        def beat() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        heartbeat = QTimer()
        heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
        heartbeat.setInterval(HEARTBEAT_MS)
        heartbeat.timeout.connect(beat)

        def start_heartbeat() -> None:
            gaps.clear()
            last[0] = time.perf_counter()
            heartbeat.start()

        def stop_heartbeat() -> list[float]:
            heartbeat.stop()
            gaps.append(time.perf_counter() - last[0])  # a stall at the very end counts too
            return list(gaps)

        start_heartbeat()
        await asyncio.sleep(idle_s)
        idle = stop_heartbeat()
        one_order_s = await one_order_catch_up(runtime, window)

        producer = Burst(settings.bootstrap_servers, topic, burst, rate)
        await until(producer.ready.is_set, 300)
        start_heartbeat()
        producer.go()
        await until(lambda: producer.done.is_set(), 600)
        ends = await asyncio.to_thread(runtime.query.end_offsets, 30)
        tabs_after_projector_s = await tabs_catch_up(runtime, window, ends)
        await until(lambda: not window.bridge._timer.isActive() and not any(m.busy for m in window.models.values()),
                    600)
        drained = time.monotonic()
        during = stop_heartbeat()
        report = producer.report()
        projector_pid = getattr(runtime.query._runner, "pid", None)
        return {
            "window_peak_rss_mb": peak_rss_bytes() / 2**20,
            "projector_rss_mb": psutil.Process(projector_pid).memory_info().rss / 2**20 if projector_pid else None,
            "idle": gaps_summary(idle),
            "burst": gaps_summary(during),
            "producer": report,
            "drained_after_last_send_s": drained - report["last_send"],
            "tabs_after_projector_s": tabs_after_projector_s,
            "one_order_tabs_after_projector_s": one_order_s,
            "rows_shown": rows_shown,
            "rows_after": sum(model.total for model in window.models.values()),
        }
    finally:
        if window is not None:
            window.close()
        await runtime.stop()


class Burst:
    """The other desk: bench.produce in its own process, paced; `go()` lets it start sending."""

    def __init__(self, servers: str, topic: str, count: int, rate: float) -> None:
        self.ready, self.done = threading.Event(), threading.Event()
        self._lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.produce", servers, topic, str(count), "--rate", str(rate),
             "--seed", str(STORE_SEED), "--start", "1000000", "--wait-for-go"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ),
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)
            if '"ready"' in line:
                self.ready.set()
        self.process.wait()
        self.ready.set()
        self.done.set()

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def report(self) -> dict[str, Any]:
        if self.process.returncode != 0:
            raise RuntimeError(f"the burst producer failed ({self.process.returncode})")
        return json.loads(self._lines[-1])


async def until(condition: Any, timeout: float, poll: float = 0.05) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gui_stall")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("topic")
    parser.add_argument("burst", type=int, help="events the other desk sends")
    parser.add_argument("--rate", type=float, default=20_000)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--order", choices=sorted(ORDERS), default="customer", help="the tabs' order during the burst")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    import qasync
    from PySide6.QtCore import QSettings

    from desktop_app.ui.app import application

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # never the user's own window preferences
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(args.data_dir / "qsettings"))
    app = application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        report = loop.run_until_complete(scenario(args.data_dir, args.topic, args.burst, args.rate,
                                                  args.idle_seconds, args.order))
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
