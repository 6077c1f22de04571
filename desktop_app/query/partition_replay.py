"""Replay the log into a new read-model file on every core: partition groups in parallel processes, merged.

The key of every event is its customer id, so everything the projector keeps is per partition: a customer's
rows, an order (known by id within its partition), a cancellation (of an order before it in its partition),
the quarantine (by position). The one rule that crosses partitions is which copy of an event id counts
(copies.py: the lowest position). So the partitions are split into groups of about equal size, each group is
replayed by the same `Projector` in its own spawned process into its own file, and the files are merged
(shard_merge.py). Should two groups have counted the same event id (an id reused on partitions of different
groups, which only a faulty producer does), the merge refuses and the caller replays in one process: the
result never depends on how the partitions were grouped.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from desktop_app.query import shard_merge
from desktop_app.query.log_end import plain_event_loop
from desktop_app.query.log_reader import LogReader, LogRecord
from desktop_app.query.portable_kwargs import portable_client_kwargs, restored_client_kwargs
from desktop_app.query.projector import Projector
from desktop_app.query.schema import ensure_shadow_schema, open_engine
from desktop_app.query.view_files import part_path

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")  # never fork a process that runs Qt and asyncio threads
POLL_S = 0.1  # how often the parent reports progress and looks for a cancel
STOP_GRACE_S = 15.0  # a cancelled group finishes (or rolls back) its batch within this, or is killed
GROUP_RECORDS = 20_000  # records per getmany of a group: one transaction each, as the projector's batches


class ReplayEnd(str, Enum):
    DONE = "done"  # the file holds the log up to the stops
    CANCELLED = "cancelled"  # stopped on request; the file is half written, the caller deletes it
    OVERLAP = "overlap"  # two groups counted one event id: replay in one process instead (file untouched)


@dataclass(frozen=True, slots=True)
class GroupFinished:
    """A group's process has replayed its partitions to their stops (or was cancelled)."""

    group: int
    completed: bool
    records: int
    seconds: float


@dataclass(frozen=True, slots=True)
class GroupFailed:
    group: int
    error: str  # one line: the exception's type and message


def plan_groups(counts: Mapping[int, int], processes: int) -> list[list[int]]:
    """Partitions split into at most `processes` groups of about equal record counts (largest first, each
    into the group with the fewest records so far); every group non-empty, partitions sorted within one."""
    wanted = [p for p in sorted(counts) if counts[p] > 0]
    groups: list[list[int]] = [[] for _ in range(max(1, min(processes, len(wanted))))]
    sizes = [0] * len(groups)
    for partition in sorted(wanted, key=lambda p: (-counts[p], p)):
        smallest = min(range(len(groups)), key=lambda g: (sizes[g], g))
        groups[smallest].append(partition)
        sizes[smallest] += counts[partition]
    return [sorted(group) for group in groups if group]


class ParallelReplay:
    """Replays the records before `stops` into a new read-model file, with up to `processes` processes."""

    def __init__(self, client_kwargs: Mapping[str, Any], topic: str, *, processes: int, min_records: int) -> None:
        """`processes`: at most this many (0: one per core); `min_records`: smaller logs are not worth it."""
        self._client_kwargs = portable_client_kwargs(client_kwargs)
        self.topic = topic
        self.processes = processes or os.cpu_count() or 1
        self.min_records = min_records

    def worth_it(self, stops: Mapping[int, int]) -> bool:
        """More than one group, and enough records to win back the processes' start (about a second each)."""
        return sum(stops.values()) >= self.min_records and len(plan_groups(stops, self.processes)) > 1

    def run(self, target: Path, stops: Mapping[int, int], *, progress: Callable[[int], None] | None = None,
            cancelled: Callable[[], bool] = lambda: False) -> ReplayEnd:
        """Replay every partition from its first offset to its stop into `target`, a new file with the
        shadow's tables (schema.ensure_shadow_schema), and fill in its partition offsets."""
        groups = plan_groups(stops, self.processes)
        parts = [part_path(target, g) for g in range(len(groups))]
        started = time.monotonic()
        try:
            end = self._replay_groups(groups, parts, stops, progress, cancelled)
            if end is not ReplayEnd.DONE:
                return end
            merged = time.monotonic()
            if not shard_merge.merge_into(target, parts[1:]):
                log.warning("two partition groups counted the same event id; replaying in one process instead")
                return ReplayEnd.OVERLAP
            log.info("replayed %d records in %d processes in %.1fs (merge %.1fs)", sum(stops.values()),
                     len(groups), time.monotonic() - started, time.monotonic() - merged)
            return ReplayEnd.DONE
        finally:
            for part in parts[1:]:
                shard_merge.remove_file(part)

    def _replay_groups(self, groups: Sequence[list[int]], parts: Sequence[Path], stops: Mapping[int, int],
                       progress: Callable[[int], None] | None, cancelled: Callable[[], bool]) -> ReplayEnd:
        done = _SPAWN.Array("q", len(groups), lock=False)  # records replayed per group, written by each group
        cancel = _SPAWN.Event()
        results: Any = _SPAWN.Queue()
        level = logging.getLogger("desktop_app").getEffectiveLevel()
        processes = []
        for group, partitions in enumerate(groups):
            process = _SPAWN.Process(
                target=replay_group,
                args=(group, str(parts[group]), self._client_kwargs, self.topic,
                      {p: stops[p] for p in partitions}, done, cancel, results, os.getpid(), level),
                name=f"order-desk replay {group}", daemon=True)
            process.start()
            processes.append(process)
        finished: dict[int, GroupFinished] = {}
        try:
            while len(finished) < len(groups):
                if cancelled():
                    cancel.set()
                    return ReplayEnd.CANCELLED
                try:
                    message = results.get(timeout=POLL_S)
                except queue.Empty:
                    message = None
                if progress is not None:
                    progress(sum(done))
                if isinstance(message, GroupFailed):
                    raise RuntimeError(f"partition group {message.group} failed: {message.error}")
                if isinstance(message, GroupFinished):
                    finished[message.group] = message
                elif message is None:
                    dead = [p for p in processes if p.exitcode not in (None, 0)]
                    if dead:
                        raise RuntimeError(f"{dead[0].name} exited with code {dead[0].exitcode}")
            return ReplayEnd.DONE
        finally:
            cancel.set()
            for process in processes:
                process.join(STOP_GRACE_S)
                if process.is_alive():
                    log.error("%s did not stop within %.0fs; killing it", process.name, STOP_GRACE_S)
                    process.kill()
                    process.join(5)
            results.close()


def replay_group(group: int, path: str, client_kwargs: dict[str, Any], topic: str, stops: dict[int, int],
                 done: Any, cancel: Any, results: Any, parent_pid: int, log_level: int) -> None:
    """A group's process: replay its partitions from their first offsets to `stops` into `path`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the parent's to handle
    logging.getLogger().setLevel(log_level)
    started = time.monotonic()
    try:
        with asyncio.Runner(loop_factory=plain_event_loop) as runner:
            completed = runner.run(_replay(Path(path), restored_client_kwargs(client_kwargs), topic, stops,
                                           lambda n: done.__setitem__(group, n),
                                           lambda: cancel.is_set() or os.getppid() != parent_pid))
        results.put(GroupFinished(group, completed, done[group], time.monotonic() - started))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the replay
        results.put(GroupFailed(group, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        results.close()
        results.join_thread()


async def _replay(path: Path, client_kwargs: dict[str, Any], topic: str, stops: Mapping[int, int],
                  count: Callable[[int], None], cancelled: Callable[[], bool]) -> bool:
    engine = open_engine(path, writer=True)
    try:
        ensure_shadow_schema(engine)
        projector = Projector(engine, topic)
        replayed = 0

        def apply(records: list[LogRecord]) -> None:
            nonlocal replayed
            projector.apply(records)
            replayed += len(records)
            count(replayed)

        async with LogReader(client_kwargs, topic, max_records=GROUP_RECORDS) as reader:
            bounds = await reader.bounds()
            ranges = {p: (bounds[p].first, max(bounds[p].first, stop)) for p, stop in stops.items() if p in bounds}
            return await reader.read(ranges, apply, cancelled)
    finally:
        engine.dispose()
