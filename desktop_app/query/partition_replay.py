"""Replay the log into a new read-model file on every core: partition groups in parallel processes, merged.

The key of every event is its customer id, so everything the projector keeps is per partition: a customer's
rows, an order (known by id within its partition), a cancellation (of an order before it in its partition),
the quarantine (by position). The one rule that crosses partitions is which copy of an event id counts
(copies.py: the lowest position). So the partitions are split into groups of about equal size, each group is
replayed by the same `Projector` in its own process (replay_group.py) into its own file, and the files are merged
(shard_merge.py). Should two groups have counted the same event id (an id reused on partitions of different
groups, which only a faulty producer does), the merge refuses and the caller replays in one process: the
result never depends on how the partitions were grouped.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from desktop_app.query import shard_merge
from desktop_app.query.portable_kwargs import portable_client_kwargs
from desktop_app.query.replay_group import GroupTask
from desktop_app.query.view_files import part_path, remove_database

log = logging.getLogger(__name__)

POLL_S = 0.1  # how often the parent looks for a cancel
STOP_GRACE_S = 15.0  # a cancelled group finishes (or rolls back) its batch within this, or is killed


class ReplayEnd(str, Enum):
    DONE = "done"  # the file holds the log up to the stops
    CANCELLED = "cancelled"  # stopped on request; the file is half written, the caller deletes it
    # two groups counted one event id: the target holds group 0's partitions only; replay the rest in one process
    OVERLAP = "overlap"


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
        """Replay every partition from its first offset to its stop into `target`, a view that holds nothing
        yet (a new file gets the shadow's tables, schema.ensure_shadow_schema), with its partition offsets."""
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
                remove_database(part)

    def _replay_groups(self, groups: Sequence[list[int]], parts: Sequence[Path], stops: Mapping[int, int],
                       progress: Callable[[int], None] | None, cancelled: Callable[[], bool]) -> ReplayEnd:
        level = logging.getLogger("desktop_app").getEffectiveLevel()
        reports: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
        processes: list[subprocess.Popen[bytes]] = []
        try:
            for group, partitions in enumerate(groups):
                task = GroupTask(str(parts[group]), self._client_kwargs, self.topic,
                                 {p: stops[p] for p in partitions}, level)
                processes.append(_start_group(group, task, reports))
            done = [0] * len(groups)
            ended: set[int] = set()
            while len(ended) < len(groups):
                if cancelled():
                    return ReplayEnd.CANCELLED
                try:
                    group, report = reports.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if group in ended:
                    continue  # its pipe's end, after its last word
                if "done" in report:
                    done[group] = int(report["done"])
                    if progress is not None:
                        progress(sum(done))
                elif report.get("end") == "completed":
                    ended.add(group)
                else:  # an error, a cancel nobody asked for, or the process ended without a word
                    raise RuntimeError(f"partition group {group} failed: {report.get('error', report)}")
            return ReplayEnd.DONE
        finally:
            for process in processes:
                _stop_group(process)


def _start_group(group: int, task: GroupTask, reports: queue.Queue[tuple[int, dict[str, Any]]]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "desktop_app.query.replay_group"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(pickle.dumps(task))
    process.stdin.flush()
    threading.Thread(target=forward_reports, args=(group, process.stdout, process.wait, reports),
                     name=f"replay-group-{group}", daemon=True).start()
    log.debug("partition group %d (%s) replays in process %d", group, sorted(task.stops), process.pid)
    return process


def forward_reports(group: int, lines: Iterable[bytes], exit_code: Callable[[], int],
                    reports: queue.Queue[tuple[int, dict[str, Any]]]) -> None:
    """Each report line of a group's process onto `reports`, then one saying the process ended. Anything else
    on its stdout (a library printing) is logged and skipped: the reader must reach the end, or the replay
    would wait for ever."""
    for line in lines:
        try:
            report = json.loads(line)
        except ValueError:
            report = None
        if isinstance(report, dict):
            reports.put((group, report))
        else:
            log.warning("partition group %d printed %r", group, line[:200])
    reports.put((group, {"error": f"its process ended (exit code {exit_code()})"}))


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Close its stdin (a cancel, if it still runs): it finishes its batch and ends; killed if it does not."""
    try:
        assert process.stdin is not None
        process.stdin.close()
    except OSError:
        pass
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        log.error("partition group process %d did not stop within %.0fs; killing it", process.pid, STOP_GRACE_S)
        process.kill()
        process.wait(5)
