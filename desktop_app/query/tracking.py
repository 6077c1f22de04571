"""The one offset tracker: the stored next offsets of a view, the high-water marks seen, and waits on them.

A stored next offset n for a partition means the view holds every record of it below n; a target is a next
offset too, reached when the stored one is at least as big (a partition never stored counts as 0). Every
wait here takes `timeout` in seconds (None: no limit) and returns False, never raises, on timeout, when
`cancel()` returns True, or when what it waits on has ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, select

from desktop_app.query.schema import PartitionOffset, open_engine

Offsets = dict[int, int]  # partition -> next offset
ProgressListener = Callable[[Offsets], None]

WAIT_STEP_S = 0.1  # a wait looks at its cancel predicate, its deadline and its source at least this often
POLL_S = 0.02  # how often a wait on a file (written by another process's projector) reads it

_OFFSETS = PartitionOffset.__table__


# -- the stored next offsets -----------------------------------------------------------------------------------
def read_stored_offsets(connection: Connection, topic: str | None) -> Offsets:
    """The next offset per partition of `topic` (None: the only topic projected into the file), read in the
    connection's transaction, so a read of the view beside it sees the same snapshot."""
    statement = select(_OFFSETS.c.partition, _OFFSETS.c.next_offset)
    if topic is not None:
        statement = statement.where(_OFFSETS.c.topic == topic)
    return {partition: next_offset for partition, next_offset in connection.execute(statement)}


def offsets_of_engine(engine: Engine, topic: str) -> Offsets:
    with engine.connect() as connection:
        return read_stored_offsets(connection, topic)


def offsets_in_file(db_path: Path, topic: str, *, busy_timeout_ms: int = 5000) -> Offsets:
    """The next offsets stored in a read-model file, on a connection of its own; empty for a missing file.
    A file without tables, or a damaged one, raises the store's error (view_health.STORE_ERRORS)."""
    if not Path(db_path).exists():
        return {}
    engine = open_engine(db_path, create=False, busy_timeout_ms=busy_timeout_ms)
    try:
        return offsets_of_engine(engine, topic)
    finally:
        engine.dispose()


# -- comparing ---------------------------------------------------------------------------------------------------
def reached(offsets: Mapping[int, int], targets: Mapping[int, int]) -> bool:
    return all(offsets.get(partition, 0) >= target for partition, target in targets.items())


def visible_target(partition: int, offset: int) -> Offsets:
    """The target at which the record at (partition, offset) is in the view."""
    return {partition: offset + 1}


# -- waiting -------------------------------------------------------------------------------------------------------
class OffsetSource(Protocol):
    def offsets_now(self) -> Offsets: ...

    def next_offsets(self, seen: Mapping[int, int], wait_s: float) -> Offsets | None:
        """The offsets once they differ from `seen`, or after at most `wait_s`; None once the source ended."""
        ...


def wait_for(
    source: OffsetSource,
    targets: Mapping[int, int],
    timeout: float | None,
    *,
    on_progress: ProgressListener | None = None,
    cancel: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Wait until `source` reaches `targets`, calling on_progress(offsets) at each step. False on timeout,
    on cancel, or when the source ends short of the targets."""
    deadline = None if timeout is None else clock() + timeout
    offsets = source.offsets_now()
    while True:
        if on_progress is not None:
            on_progress(offsets)
        if reached(offsets, targets):
            return True
        if cancel is not None and cancel():
            return False
        remaining = WAIT_STEP_S if deadline is None else deadline - clock()
        if remaining <= 0:
            return False
        moved = source.next_offsets(offsets, min(WAIT_STEP_S, remaining))
        if moved is None:  # ended: what it stored last is final
            final = source.offsets_now()
            if on_progress is not None and final != offsets:
                on_progress(final)
            return reached(final, targets)
        offsets = moved


class OffsetTracker:
    """What one projector has stored and seen, for other threads to read and wait on (an OffsetSource).

    `alive` says whether the projector still runs: a wait on one that stopped ends. `condition` and `clock`
    are for tests.
    """

    def __init__(
        self,
        alive: Callable[[], bool] = lambda: True,
        *,
        condition: threading.Condition | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._alive = alive
        self._changed = condition if condition is not None else threading.Condition()
        self._clock = clock
        self._offsets: Offsets = {}
        self._highwaters: Offsets = {}

    def stored(self) -> Offsets:
        """The next offsets committed so far (as of the latest batch)."""
        with self._changed:
            return dict(self._offsets)

    def highwaters(self) -> Offsets:
        """End offsets as of the latest fetch responses: no broker round trip, maybe a little stale."""
        with self._changed:
            return dict(self._highwaters)

    def reset(self, offsets: Mapping[int, int]) -> None:
        """The offsets as read from the file the projector (re)opened."""
        with self._changed:
            self._offsets = dict(offsets)
            self._changed.notify_all()

    def advance(self, offsets: Mapping[int, int]) -> Offsets:
        """Take newly committed offsets (each partition only moves forward); all stored offsets after it."""
        with self._changed:
            for partition, next_offset in offsets.items():
                if next_offset > self._offsets.get(partition, -1):
                    self._offsets[partition] = next_offset
            self._changed.notify_all()
            return dict(self._offsets)

    def saw_highwaters(self, highwaters: Mapping[int, int]) -> None:
        with self._changed:
            self._highwaters = dict(highwaters)

    def wake(self) -> None:
        """Make waiters look again now (the projector stopped)."""
        with self._changed:
            self._changed.notify_all()

    # OffsetSource
    def offsets_now(self) -> Offsets:
        return self.stored()

    def next_offsets(self, seen: Mapping[int, int], wait_s: float) -> Offsets | None:
        with self._changed:
            if self._offsets == seen:
                if not self._alive():
                    return None
                self._changed.wait(wait_s)
            return dict(self._offsets)

    def wait_for(
        self,
        targets: Mapping[int, int],
        timeout: float | None,
        *,
        on_progress: ProgressListener | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait until every partition's stored next offset reaches its target (see `wait_for`)."""
        return wait_for(self, targets, timeout, on_progress=on_progress, cancel=cancel, clock=self._clock)

    def wait_until_visible(self, partition: int, offset: int, timeout: float | None) -> bool:
        """True once the record at (partition, offset) is in the view."""
        return self.wait_for(visible_target(partition, offset), timeout)


class PolledOffsets:
    """An OffsetSource over reads of a view another process writes: `read()` every POLL_S. It never ends."""

    def __init__(self, read: Callable[[], Offsets], *, sleep: Callable[[float], None] = time.sleep,
                 every_s: float = POLL_S) -> None:
        self._read = read
        self._sleep = sleep
        self._every_s = every_s

    def offsets_now(self) -> Offsets:
        return self._read()

    def next_offsets(self, seen: Mapping[int, int], wait_s: float) -> Offsets | None:
        self._sleep(min(self._every_s, wait_s))
        return self._read()


class FollowedOffsets:
    """An OffsetSource asking `pick()` at each step which source to wait on: a service's live projector
    while it runs, else its view's file. Across a rebuild's swap the new view holds at least what the old
    one did, so a wait carries on on the new source. It never ends."""

    def __init__(self, pick: Callable[[], OffsetSource]) -> None:
        self._pick = pick

    def offsets_now(self) -> Offsets:
        return self._pick().offsets_now()

    def next_offsets(self, seen: Mapping[int, int], wait_s: float) -> Offsets | None:
        moved = self._pick().next_offsets(seen, wait_s)
        return moved if moved is not None else self._pick().offsets_now()
