"""Where the command path's time goes: `python -m bench.command_profile [--orders N] [--chunk N] [--reps N]`.

Starts a broker (as `bench.run` does), then per repetition runs the raw producer baseline and the app's bulk
path (`place_orders` in chunks until the last receipt is published), back to back, as `bench.command_path`
does, and prints both rates and their ratio. The app run also reports the wall time spent in each part:
`place_orders` (validation, events, the outbox transaction, in its worker thread), and the relay's reads of
the outbox (only when the rows accepted were not handed over), its writes (attempted, published), handing records to the producer and waiting for acks.
`--cprofile` adds cProfile's top functions of the event loop's thread and of the worker threads.

`--relay-only`: the relay alone drains an outbox filled in one transaction (timed from that commit to the
last acknowledgement recorded), against the raw producer; nothing else competes with it.

`--offline` needs no broker: the CPU µs per order of each stage of the accept path and of the relay's outbox
work, run one after the other in this thread (best of --reps), for comparing changes on a loaded machine;
and the wall time of the outbox's accepting transactions (they wait for the disk).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import pstats
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.command_path import app_seconds, raw_seconds
from bench.context import BenchContext, Sizes
from bench.events import OrderGenerator, encode_order
from bench.kafka_io import bench_cluster
from desktop_app.command import relay as relay_module
from desktop_app.command.outbox import Outbox
from desktop_app.command.pending_rows import PendingRows
from desktop_app.command.service import CommandService


class PartTimer:
    """Wall seconds and calls per part, summed over a run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.cpu: dict[str, float] = defaultdict(float)  # of the calling thread, for the parts run in one

    def wrap_sync(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.cpu[name] += time.thread_time() - cpu
                self.calls[name] += 1
        return timed

    def wrap_async(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1
        return timed

    def report(self, orders: int) -> str:
        return "\n".join(f"  {name:<28} {self.seconds[name]:7.3f} s  {1e6 * self.seconds[name] / orders:7.1f} µs/order"
                         + (f", CPU {1e6 * self.cpu[name] / orders:5.1f}" if name in self.cpu else "")
                         + f"  ({self.calls[name]} calls)" for name in sorted(self.seconds))


def instrument(timer: PartTimer) -> Callable[[], None]:
    """Time the parts of the command path (class attributes replaced; the returned callable puts them back)."""
    replaced: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, attr: str, name: str, is_async: bool = False) -> None:
        original = getattr(owner, attr)
        replaced.append((owner, attr, original))
        setattr(owner, attr, (timer.wrap_async if is_async else timer.wrap_sync)(name, original))

    patch(CommandService, "_accept_all", "place_orders (thread)")
    patch(Outbox, "accept_many", "  of which outbox.accept_many")
    patch(Outbox, "pending_and_last_seq", "relay: outbox read")
    patch(Outbox, "mark_attempted", "relay: outbox.mark_attempted")
    patch(Outbox, "mark_published", "relay: outbox.mark_published")
    patch(relay_module.Relay, "_publish", "relay: _publish (all)", is_async=True)
    patch(relay_module.Relay, "_await_acks", "relay: awaiting acks", is_async=True)

    def restore() -> None:
        for owner, attr, original in reversed(replaced):
            setattr(owner, attr, original)
    return restore


class ThreadProfiles:
    """cProfile in every thread started while active (the worker threads of asyncio.to_thread)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []

    def __enter__(self) -> ThreadProfiles:
        def start(*_: Any) -> None:
            sys.setprofile(None)  # this thread only; the hook stays for threads started later
            profile = cProfile.Profile()
            self.profiles.append(profile)
            profile.enable()
        threading.setprofile(start)
        return self

    def __exit__(self, *_: object) -> None:
        threading.setprofile(None)


def top(profiles: list[cProfile.Profile], lines: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for more in profiles[1:]:
        stats.add(more)
    stats.sort_stats("tottime").print_stats(lines)
    return out.getvalue()


async def relay_only_seconds(ctx: BenchContext, topic: str, commands: list[Any]) -> float:
    """Seconds for the relay to publish `commands`, accepted in one transaction once it is connected."""
    from desktop_app.command import model
    folder = ctx.fresh_dir("relay-only")
    service = CommandService(folder / "command.db", ctx.cluster.client_kwargs, topic, "bench-command")
    await service.start()
    try:
        async with asyncio.timeout(60):
            while not service.relay_connected:
                await asyncio.sleep(0.01)
        filler = Outbox(folder / "command.db", topic)
        try:
            events = [model.check(cmd).to_event("bench-command") for cmd in commands]
            await asyncio.to_thread(filler.accept_many, events)
        finally:
            filler.close()
        started, cpu = time.perf_counter(), time.process_time()
        service._started()[1].wake()
        await service.wait_published(commands[-1].command_id, 600)
        print(f"  relay alone: {1e6 * (time.process_time() - cpu) / len(commands):.1f} µs CPU per order")
        return time.perf_counter() - started
    finally:
        await service.stop()


def offline(orders: int, chunk: int, reps: int) -> None:
    """CPU µs per order of each stage, best of `reps`, no broker (see the module doc)."""
    from desktop_app.command import model
    from desktop_app.command.outbox import Acknowledgement
    best: dict[str, float] = defaultdict(lambda: float("inf"))
    generated = list(OrderGenerator(300, prefix="offline").orders(orders))
    commands = [o.command() for o in generated]
    for rep in range(reps):
        folder = Path(tempfile.mkdtemp(prefix="order-desk-command-offline-"))
        outbox = Outbox(folder / "command.db", "orders")
        handed = PendingRows(max_rows=orders)  # the relay's view, fed at each commit as in the app
        outbox.hand_off_to(handed.handed)
        handed.read([], 0, 1)
        try:
            stages: dict[str, float] = defaultdict(float)
            walls: dict[str, float] = defaultdict(float)  # reported apart: they include waiting for the disk
            for first in range(0, orders, chunk):
                part = commands[first:first + chunk]
                cpu = time.process_time()
                valid = [model.check(cmd) for cmd in part]
                stages["1 validate (model.check)"] += time.process_time() - cpu
                cpu = time.process_time()
                events = [order.to_event("bench") for order in valid]
                stages["2 build events (to_event)"] += time.process_time() - cpu
                cpu, wall = time.process_time(), time.perf_counter()
                outbox.accept_many(events)
                stages["3 outbox.accept_many"] += time.process_time() - cpu
                walls["3 outbox.accept_many, wall"] += time.perf_counter() - wall
            relay_batch = relay_module.RelayOptions().batch_size
            while True:
                cpu = time.process_time()
                batch = handed.take(relay_batch) or []  # the outbox is read only when nothing was handed over
                stages["4 relay: take the handed rows"] += time.process_time() - cpu
                if not batch:
                    break
                cpu = time.process_time()
                outbox.mark_attempted([event.seq for event in batch])
                stages["5 relay: mark_attempted"] += time.process_time() - cpu
                cpu = time.process_time()
                outbox.mark_published([Acknowledgement(event.seq, 0, event.seq) for event in batch])
                stages["6 relay: mark_published"] += time.process_time() - cpu
        finally:
            outbox.close()
            shutil.rmtree(folder, ignore_errors=True)
        for name, seconds in (stages | walls).items():
            best[name] = min(best[name], seconds)
    for name in sorted(best):
        print(f"  {name:<32} {1e6 * best[name] / orders:6.1f} µs/order")
    print(f"  {'total CPU':<32} {1e6 * sum(v for k, v in best.items() if 'wall' not in k) / orders:6.1f} µs/order")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.command_profile")
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=Sizes().command_chunk)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cprofile", action="store_true", help="cProfile the app runs (slows them down)")
    parser.add_argument("--lines", type=int, default=35)
    parser.add_argument("--offline", action="store_true", help="no broker: CPU per stage (see the module doc)")
    parser.add_argument("--relay-only", action="store_true", help="the relay draining a full outbox (module doc)")
    args = parser.parse_args(argv)
    if args.offline:
        offline(args.orders, args.chunk, args.reps)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="order-desk-command-profile-"))
    try:
        with bench_cluster(workdir) as cluster:
            ctx = BenchContext(cluster, workdir, args.reps, Sizes())
            ratios = []
            for rep in range(args.reps):
                orders = list(OrderGenerator(300 + rep, prefix=f"prof{rep}-{time.time_ns()}").orders(args.orders))
                records = [encode_order(o) for o in orders]
                raw_topic = cluster.new_topic("command-raw")
                cpu = time.process_time()
                raw_s = asyncio.run(raw_seconds(ctx, raw_topic, records))
                raw_cpu = time.process_time() - cpu
                commands = [o.command() for o in orders]
                timer = PartTimer()
                restore = instrument(timer)
                main_profile = cProfile.Profile()
                try:
                    topic = cluster.new_topic("command")
                    cpu = time.process_time()
                    if args.relay_only:
                        app_s = asyncio.run(relay_only_seconds(ctx, topic, commands))
                    elif args.cprofile:
                        with ThreadProfiles() as threads:
                            main_profile.enable()
                            app_s = asyncio.run(app_seconds(ctx, topic, commands, args.chunk))
                            main_profile.disable()
                    else:
                        app_s = asyncio.run(app_seconds(ctx, topic, commands, args.chunk))
                    app_cpu = time.process_time() - cpu
                finally:
                    restore()
                raw_rate, app_rate = args.orders / raw_s, args.orders / app_s
                ratios.append(app_rate / raw_rate)
                print(f"rep {rep + 1}: app {app_rate:,.0f} orders/s, raw {raw_rate:,.0f} orders/s, "
                      f"ratio {app_rate / raw_rate:.2f}× (app {app_s:.2f} s); CPU of this process µs/order: app "
                      f"{1e6 * app_cpu / args.orders:.0f}, raw {1e6 * raw_cpu / args.orders:.0f}\n{timer.report(args.orders)}", flush=True)
                if args.cprofile:
                    print("event loop thread:\n" + top([main_profile], args.lines))
                    print("worker threads:\n" + top(threads.profiles, args.lines))
            print("ratios: " + ", ".join(f"{r:.2f}" for r in ratios))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
