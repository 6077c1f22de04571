"""One partition group's process of a parallel replay (partition_replay.py starts it):

    python -m desktop_app.query.replay_group      (its task comes pickled on stdin)

It replays its partitions from their first offsets up to their stops into its own file with the same
`Projector` as the live view, and writes one JSON line per batch ({"done": records}) and a last one
({"end": "completed" | "cancelled"} or {"error": "..."}) on stdout. Any byte on stdin, or its end (the
parent closed it, or died), cancels: the batch being applied is finished, then it stops.

A plain subprocess, not `multiprocessing`: the live projector, itself a daemonic child process, starts these
too, and a daemonic multiprocessing child may not have children.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from desktop_app.query.log_end import plain_event_loop
from desktop_app.query.log_reader import LogReader, LogRecord
from desktop_app.query.portable_kwargs import restored_client_kwargs
from desktop_app.query.projector import Projector
from desktop_app.query.schema import ensure_shadow_schema, open_engine

GROUP_RECORDS = 20_000  # records per getmany of a group: one transaction each, as the projector's batches


@dataclass(frozen=True, slots=True)
class GroupTask:
    path: str  # the file to replay into (created with the shadow's tables if new)
    client_kwargs: dict[str, Any]  # portable_kwargs.portable_client_kwargs
    topic: str
    stops: dict[int, int]  # partition -> the offset to stop at (exclusive)
    log_level: int


def main(stdin: BinaryIO = sys.stdin.buffer, stdout: Any = sys.stdout) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the parent's to handle
    task: GroupTask = pickle.load(stdin)
    logging.basicConfig(level=task.log_level, format="%(levelname)s %(name)s (replay group): %(message)s")
    cancel = threading.Event()

    def watch_stdin() -> None:
        # the raw pipe, not the buffered stdin: a daemon thread blocked on that one's lock aborts the exit
        os.read(stdin.fileno(), 1)  # a byte, or the end of the pipe
        cancel.set()

    threading.Thread(target=watch_stdin, name="replay-group-cancel", daemon=True).start()

    def say(message: dict[str, Any]) -> None:
        stdout.write(json.dumps(message) + "\n")
        stdout.flush()

    try:
        with asyncio.Runner(loop_factory=plain_event_loop) as runner:
            completed = runner.run(replay(Path(task.path), restored_client_kwargs(task.client_kwargs), task.topic,
                                          task.stops, lambda done: say({"done": done}), cancel.is_set))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the replay
        say({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    say({"end": "completed" if completed else "cancelled"})
    return 0


async def replay(path: Path, client_kwargs: dict[str, Any], topic: str, stops: Mapping[int, int],
                 count: Callable[[int], None], cancelled: Callable[[], bool]) -> bool:
    """Replay each partition of `stops` from its first offset up to its stop into `path`; False if cancelled."""
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


if __name__ == "__main__":
    raise SystemExit(main())
