"""QueryService: the read side as the GUI and the CLI see it.

It projects into the data dir's read model if no other process does (a file lock decides), or else reads
the view that process keeps live. Either way it answers reads, waits for offsets and reports lag.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from desktop_app.query.bands import Band
from desktop_app.query.log_end import end_offsets_blocking
from desktop_app.query.projector import Projector
from desktop_app.query.runner import ChangeListener, ProjectorOptions, ProjectorThread, ViewChange
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import DEFAULT_ORDER, ItemRow, Lag, QuarantinedRow, ReadModel, Summary, compute_lag

log = logging.getLogger(__name__)

READ_ONLY_POLL_S = 0.02  # how often a read-only service looks at the stored offsets while waiting
READ_ONLY_WATCH_S = 0.5  # how often a read-only service reports the other projector's progress / tries the lock

ProgressCallback = Callable[[int, int], None]  # (done, total) events of the log replayed


class NotProjectingError(RuntimeError):
    """The operation needs this service to be the projector of its read model, and it is not."""


@dataclass(frozen=True, slots=True)
class RebuildOutcome:
    completed: bool  # False: cancelled or timed out; the projector carries on replaying in the background
    done: int
    total: int


def default_lock_path(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".lock")


class QueryService:
    def __init__(
        self,
        db_path: Path,
        client_kwargs: Mapping[str, Any],
        topic: str,
        lock_path: Path | None = None,
        *,
        options: ProjectorOptions | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.topic = topic
        self._client_kwargs = dict(client_kwargs)
        self._options = options or ProjectorOptions()
        self._lock = FileLock(str(lock_path or default_lock_path(self.db_path)), thread_local=False)
        self._runner: ProjectorThread | None = None
        self._listeners: list[ChangeListener] = []
        self._listeners_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self.read_model = ReadModel(self.db_path)

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Project if no other process projects into this read model; True if so.

        Otherwise read that process's live view: listeners then get a `reset` change whenever its stored
        offsets move, and this service takes over the projecting as soon as the other one stops.
        """
        with self._state_lock:
            if self._runner is not None:
                return True
            if self._try_to_project():
                return True
            log.info("another process projects into %s; reading its live view", self.db_path)
            if self._watcher is None:
                self._watch_stop.clear()
                self._watcher = threading.Thread(
                    target=self._watch_other_projector, name="query-read-only-watch", daemon=True
                )
                self._watcher.start()
            return False

    def _try_to_project(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        self._runner = self._new_runner()
        self._runner.start()
        return True

    def _watch_other_projector(self) -> None:
        seen = self.read_model.stored_offsets(self.topic)
        while not self._watch_stop.wait(READ_ONLY_WATCH_S):
            with self._state_lock:
                if self._watch_stop.is_set():
                    return
                if self._try_to_project():
                    log.info("the other projector stopped; now projecting into %s", self.db_path)
                    self._watcher = None
                    return
            try:
                offsets = self.read_model.stored_offsets(self.topic)
            except Exception as exc:  # noqa: BLE001 - keep watching
                log.warning("reading the live view's offsets failed: %s", exc)
                continue
            if offsets != seen:
                seen = offsets
                self._dispatch(ViewChange(keys=frozenset(), offsets=offsets, reset=True))

    def stop(self) -> None:
        self._watch_stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join()
        with self._state_lock:
            runner, self._runner = self._runner, None
            if runner is not None:
                try:
                    runner.stop()
                finally:
                    self._lock.release()

    def close(self) -> None:
        self.stop()
        self.read_model.close()

    def __enter__(self) -> QueryService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_projecting(self) -> bool:
        return self._runner is not None

    @property
    def projector_error(self) -> str | None:
        """The projector's latest failure while it retries (broker or database trouble); None when healthy."""
        runner = self._runner
        return runner.last_error if runner is not None else None

    def _new_runner(self) -> ProjectorThread:
        return ProjectorThread(
            self.db_path, self._client_kwargs, self.topic, on_change=self._dispatch, options=self._options
        )

    # -- change notifications --------------------------------------------------------------------------------
    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener(ViewChange)` after each committed batch (from the projector thread; a `reset`
        change may come from another thread)."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _dispatch(self, change: ViewChange) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # noqa: BLE001 - one listener's bug must not starve the others
                log.exception("view-change listener %r failed", listener)

    # -- offsets: the consistency tokens -----------------------------------------------------------------------
    def stored_offsets(self) -> dict[int, int]:
        runner = self._runner
        return runner.stored_offsets() if runner is not None else self.read_model.stored_offsets(self.topic)

    def end_offsets(self, timeout: float = 10.0) -> dict[int, int]:
        """The log's end offsets now: through the running projector, else with a short-lived consumer."""
        runner = self._runner
        if runner is not None:
            ends = runner.end_offsets(timeout)
            if ends is not None:
                return ends
        return end_offsets_blocking(self._client_kwargs, self.topic, timeout)

    def wait_for_offsets(
        self,
        targets: Mapping[int, int],
        timeout: float | None,
        *,
        on_progress: Callable[[dict[int, int]], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait until the view holds every record below `targets` (partition -> offset). False on timeout."""
        runner = self._runner
        if runner is not None:
            return runner.wait_for_offsets(targets, timeout, on_progress=on_progress, cancel=cancel)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            offsets = self.read_model.stored_offsets(self.topic)
            if on_progress is not None:
                on_progress(offsets)
            if all(offsets.get(p, 0) >= target for p, target in targets.items()):
                return True
            if (cancel and cancel()) or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(READ_ONLY_POLL_S)

    def wait_until_visible(self, partition: int, offset: int, timeout: float) -> bool:
        """Read-your-writes: True once the record at (partition, offset) is in the view."""
        return self.wait_for_offsets({partition: offset + 1}, timeout)

    def catch_up(self, timeout: float = 30.0) -> bool:
        """Wait until the view holds everything that was in the log when called. False on timeout."""
        started = time.monotonic()
        targets = self.end_offsets(timeout)
        return self.wait_for_offsets(targets, max(0.0, timeout - (time.monotonic() - started)))

    # -- rebuild ------------------------------------------------------------------------------------------------
    def rebuild(
        self,
        progress: ProgressCallback | None = None,
        cancel: Callable[[], bool] | None = None,
        timeout: float | None = None,
    ) -> RebuildOutcome:
        """Stop projecting, empty the view, replay the log from the beginning, resume.

        Blocks until the replay reaches the end the log had when called, calling progress(done, total)
        along the way. On cancel or timeout it returns early; the projector keeps replaying regardless.
        """
        with self._state_lock:
            if self._runner is None:
                raise NotProjectingError(
                    f"another process projects into {self.db_path}; rebuild from there (or stop it first)"
                )
            targets = self.end_offsets()
            self._runner.stop()
            try:
                engine = open_engine(self.db_path, writer=True)
                try:
                    ensure_schema(engine)
                    Projector(engine, self.topic).reset()
                finally:
                    engine.dispose()
                self._dispatch(ViewChange(keys=frozenset(), offsets={}, reset=True))
            finally:  # resume projecting, whether the view was emptied or not
                self._runner = self._new_runner()
                self._runner.start()
            runner = self._runner
        total = sum(targets.values())

        def done_of(offsets: Mapping[int, int]) -> int:
            return sum(min(offsets.get(p, 0), end) for p, end in targets.items())

        last_reported = [-1]

        def report(offsets: dict[int, int]) -> None:
            done = done_of(offsets)
            if progress is not None and done != last_reported[0]:
                last_reported[0] = done
                progress(done, total)

        completed = runner.wait_for_offsets(targets, timeout, on_progress=report, cancel=cancel)
        return RebuildOutcome(completed, done_of(runner.stored_offsets()), total)

    # -- reads --------------------------------------------------------------------------------------------------
    def items(
        self,
        band: Band | str | None = None,
        customer: str | None = None,
        search: str | None = None,
        order_by: Sequence[str] = DEFAULT_ORDER,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ItemRow]:
        return self.read_model.items(band, customer, search, order_by, descending, limit, offset)

    def count_items(
        self, band: Band | str | None = None, customer: str | None = None, search: str | None = None
    ) -> int:
        return self.read_model.count_items(band, customer, search)

    def rows_for_keys(self, keys: Iterable[tuple[str, Band | str]]) -> list[ItemRow]:
        return self.read_model.rows_for_keys(keys)

    def customers(self) -> list[str]:
        return self.read_model.customers()

    def quarantined(self, limit: int = 100) -> list[QuarantinedRow]:
        return self.read_model.quarantined(limit)

    def lag(self, *, fresh: bool = True, timeout: float = 5.0) -> Lag:
        """End offsets minus stored next offsets. fresh=False uses the projector's latest fetch responses
        (no broker round trip; for frequent status updates) when it has them for every partition."""
        runner = self._runner
        if not fresh and runner is not None:
            highwaters = runner.known_highwaters()
            stored = runner.stored_offsets()
            if highwaters and set(stored) <= set(highwaters):
                return compute_lag(highwaters, stored)
        return compute_lag(self.end_offsets(timeout), self.stored_offsets())

    def summary(self, *, fresh: bool = True, timeout: float = 5.0) -> Summary:
        """Totals per band, events applied, quarantined count, and lag (None if the broker cannot say)."""
        try:
            ends: dict[int, int] | None = self.end_offsets(timeout) if fresh else None
        except Exception as exc:  # noqa: BLE001 - totals are still worth showing without the lag
            log.warning("lag unknown: %s", exc)
            ends = None
        if ends is None and not fresh and self._runner is not None:
            ends = self._runner.known_highwaters() or None
        return self.read_model.summary(end_offsets=ends, topic=self.topic)
