"""QueryService: the read side as the GUI and the CLI see it.

It projects into the data dir's read model if no other process does (a file lock decides), or else reads
the view that process keeps live. Either way it answers reads, waits for offsets and reports lag.
The projecting service also rebuilds the view without downtime (rebuild.py): on request, or by itself at
start when the view was built by another projection version or its file is found damaged or gone
(healing.py; readers are then told so in one line: `health`, ViewUnavailable).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from desktop_app.query import as_of_files, schema
from desktop_app.query.log_end import end_offsets_blocking
from desktop_app.query.rebuild import (
    ProgressCallback,
    RebuildJob,
    RebuildOutcome,
    RebuildPhase,
    RebuildProgress,
    RebuildStatus,
)
from desktop_app.query.process_runner import projector_class
from desktop_app.query.runner import BackgroundProjector, ChangeListener, ProjectorOptions, ViewChange
from desktop_app.query.healing import ViewHealer
from desktop_app.query.service_reads import ViewReads
from desktop_app.query.tracking import FollowedOffsets, OffsetSource, PolledOffsets, visible_target, wait_for
from desktop_app.query.view_health import STORE_ERRORS, ViewUnavailable
from desktop_app.query.views import ReadModel

log = logging.getLogger(__name__)

READ_ONLY_WATCH_S = 0.5  # how often a read-only service reports the other projector's progress / tries the lock
REQUESTED = "requested"
HEAL_RETRY_S = 2.0  # pause before a heal whose rebuild was cancelled or failed starts again

__all__ = [
    "NotProjectingError", "ProgressCallback", "QueryService", "RebuildOutcome", "RebuildPhase", "RebuildProgress",
    "RebuildStatus", "ViewUnavailable", "default_lock_path",
]


class NotProjectingError(RuntimeError):
    """The operation needs this service to be the projector of its read model, and it is not."""


def default_lock_path(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".lock")


class QueryService(ViewReads):
    def __init__(
        self,
        db_path: Path,
        client_kwargs: Mapping[str, Any],
        topic: str,
        lock_path: Path | None = None,
        *,
        options: ProjectorOptions | None = None,
        rebuild_outdated: bool = True,
    ) -> None:
        """`db_path` is the read model's base path (see view_files). `rebuild_outdated`: when projecting,
        rebuild (in the background, serving the current view meanwhile) a view built by another
        projection version; short-lived tools that only read pass False."""
        self.db_path = Path(db_path)
        self.topic = topic
        self._rebuild_outdated = rebuild_outdated
        self._client_kwargs = dict(client_kwargs)
        self._options = options or ProjectorOptions()
        self._lock = FileLock(str(lock_path or default_lock_path(self.db_path)), thread_local=False)
        self._runner: BackgroundProjector | None = None
        self._projecting = False  # this service holds the projector lock (its runner may be healing)
        self._listeners: list[ChangeListener] = []
        self._listeners_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._stopped = threading.Event()  # set by stop(): ends a heal's retries
        self._job: RebuildJob | None = None
        self._job_lock = threading.Lock()
        self.read_model = ReadModel(self.db_path)
        self.files = self.read_model.files
        self._healer = ViewHealer(self.files)
        self._offsets = FollowedOffsets(self._offsets_source)
        self._offsets_in_file = PolledOffsets(self._offsets_in_view)

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Project if no other process projects into this read model; True if so.

        Otherwise read that process's live view: listeners then get a `reset` change whenever its stored
        offsets move, and this service takes over the projecting as soon as the other one stops.
        """
        with self._state_lock:
            if self._runner is not None:
                return True
            as_of_files.remove_leftovers(self.db_path.parent)  # views as of a moment of processes now gone
            if self._try_to_project():
                self._watch_stop.set()  # a watcher of the other projector, if any, has nothing left to do
                self._watcher = None
                return True
            log.info("another process projects into %s; reading its live view", self.db_path)
            self._healer.check_as_reader()
            if self._watcher is None:
                self._watch_stop.clear()
                self._watcher = threading.Thread(
                    target=self._watch_other_projector, name="query-read-only-watch", daemon=True
                )
                self._watcher.start()
            return False

    def _try_to_project(self) -> bool:
        if self._runner is not None:  # already projecting: the file lock is reentrant, so never take it twice
            return True
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        try:
            removed = self.files.remove_orphans()
            if removed:
                log.info("deleted leftovers of an earlier rebuild: %s", ", ".join(path.name for path in removed))
            self._projecting = True
            self._stopped.clear()
            path = self.files.current_path()
            damage = self._healer.damage_at_start(path)
            if damage is None:
                self._runner = self._new_runner(path)
                self._runner.start()
            else:
                self._heal(damage, path)
        except BaseException:
            self._projecting = False
            self._lock.release()
            raise
        if self._runner is not None:
            self._rebuild_if_outdated()
        return True

    # -- healing a damaged view ---------------------------------------------------------------------------
    def _heal(self, reason: str, path: Path) -> None:
        """Move the damaged (or vanished) `path` aside, say so once, and rebuild the view from the log."""
        with self._state_lock:
            self._healer.set_aside(reason, path)
            self.read_model.refresh()  # readers drop their connections to the damaged file
        reason = f"the view was damaged: {reason}"
        job, _ = self._start_rebuild(reason, wait_for_broker=True)
        threading.Thread(target=self._keep_healing, args=(reason, job), name="query-heal", daemon=True).start()

    def _keep_healing(self, reason: str, job: RebuildJob) -> None:
        """Until a view is swapped in, a heal whose rebuild was cancelled (or failed) starts again."""
        while job.join() and self._runner is None and not self._stopped.wait(HEAL_RETRY_S) and self._runner is None:
            log.warning("the rebuild of the damaged read model did not finish; starting it again")
            try:
                job, _ = self._start_rebuild(reason, wait_for_broker=True)
            except NotProjectingError:
                return  # stopped meanwhile

    def _on_damage(self, reason: str) -> None:  # from the projector, which has stopped: heal on another thread
        threading.Thread(target=self._heal_damaged_runner, args=(reason,), name="query-heal", daemon=True).start()

    def _heal_damaged_runner(self, reason: str) -> None:
        with self._state_lock:
            runner = self._runner
            if runner is None or not self._projecting or runner.damage is None:
                return  # stopped, or already healing
            self._runner = None
            runner.stop()
            self._heal(reason, runner.db_path)

    def _rebuild_if_outdated(self) -> None:
        """Start a shadow rebuild when the view was built by another projection version than this code's."""
        try:
            built_with, wanted = self.read_model.projection_version(), schema.PROJECTION_VERSION
        except Exception:  # noqa: BLE001 - serving the view matters more; the check comes again next start
            log.exception("could not read the read model's projection version")
            return
        if built_with == wanted:
            return
        reason = f"projection version changed from {built_with} to {wanted}"
        if not self._rebuild_outdated:
            log.warning("the read model is outdated (%s); the desktop app or 'order-desk rebuild' rebuilds it",
                        reason)
            return
        log.warning("rebuilding the read model in the background: %s; the current view is served until then",
                    reason)
        self._start_rebuild(reason, wait_for_broker=True)

    def _watch_other_projector(self) -> None:
        try:
            seen = self.read_model.stored_offsets(self.topic)
        except (ViewUnavailable, *STORE_ERRORS):
            seen = {}
        seen_view = self.read_model.view_path
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
            except ViewUnavailable:
                continue  # no view yet, or being rebuilt: the swap brings one
            except Exception as exc:  # noqa: BLE001 - keep watching
                log.warning("reading the live view's offsets failed: %s", exc)
                continue
            view = self.read_model.view_path
            if offsets != seen or view != seen_view:
                if view != seen_view:
                    log.info("the other process swapped in a rebuilt read model: %s", view.name)
                seen, seen_view = offsets, view
                self._dispatch(ViewChange(keys=frozenset(), offsets=offsets, reset=True))

    def stop(self) -> None:
        """Stop projecting (a running rebuild is cancelled first: its shadow is deleted) or watching."""
        self._watch_stop.set()
        self._stopped.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join()
        with self._job_lock:  # no rebuild starts after this
            job = self._job
        if job is not None and job.running:
            job.cancel()
            job.join()
        with self._state_lock:
            runner, self._runner = self._runner, None
            projecting, self._projecting = self._projecting, False
            try:
                if runner is not None:
                    runner.stop()
            finally:
                if projecting:
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
        return self._projecting

    @property
    def projector_error(self) -> str | None:
        """The projector's latest failure while it retries (broker or database trouble); None when healthy."""
        runner = self._runner
        return runner.last_error if runner is not None else None

    def _new_runner(self, view_path: Path) -> BackgroundProjector:
        return projector_class(self._options)(view_path, self._client_kwargs, self.topic, on_change=self._dispatch,
                                              options=self._options, on_damage=self._on_damage)

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
        if runner is not None:
            return runner.offsets.stored()
        if self._projecting:
            return {}  # healing: no live view until the rebuilt one is swapped in
        return self.read_model.stored_offsets(self.topic)

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
        """Wait until the view holds every record below `targets` (partition -> offset). False on timeout.

        Follows the live projector across a rebuild's swap: the new view holds at least what the old one did.
        """
        return wait_for(self._offsets, targets, timeout, on_progress=on_progress, cancel=cancel)

    def wait_until_visible(self, partition: int, offset: int, timeout: float | None) -> bool:
        """Read-your-writes: True once the record at (partition, offset) is in the view."""
        return self.wait_for_offsets(visible_target(partition, offset), timeout)

    def _offsets_source(self) -> OffsetSource:
        runner = self._runner
        if runner is not None and runner.running:
            return runner.offsets
        return self._offsets_in_file  # another process projects, or this one is paused for a swap or heals

    def _offsets_in_view(self) -> dict[int, int]:
        try:  # a file found damaged still holds offsets, but not rows a reader can trust
            return {} if self.health else self.read_model.stored_offsets(self.topic)
        except (ViewUnavailable, *STORE_ERRORS):
            return {}  # no view yet, or being rebuilt: wait for it

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
        *,
        reason: str = REQUESTED,
    ) -> RebuildOutcome:
        """Rebuild the view without downtime: replay the log into a shadow generation, then swap it in.

        The current view is served and kept live meanwhile. Blocks until the swap, calling progress(done,
        total) as records are replayed (from the rebuild's thread). `cancel` returning True, or `timeout`
        passing, cancels: the shadow is deleted and the view stays as it was. If a rebuild already runs
        (say, the automatic one of a new projection version), this follows that one.
        """
        if not self._projecting:
            raise NotProjectingError(
                f"another process projects into {self.db_path}; rebuild from there (or stop it first)"
            )
        job, unwatch = self._start_rebuild(reason, progress=progress, cancel=cancel)
        try:
            return job.follow(timeout=timeout)
        finally:
            unwatch()

    def wait_for_rebuild(self, timeout: float | None = None) -> RebuildOutcome | None:
        """The outcome of the running (or latest) rebuild once it ends; None if none ran or on timeout."""
        job = self._job
        if job is None or not job.join(timeout):
            return None
        return job.follow()

    @property
    def rebuild_reason(self) -> str | None:
        """Why the view is being rebuilt right now ("requested", "projection version changed ..."), or None."""
        job = self._job
        return job.reason if job is not None and job.running else None

    @property
    def rebuild_status(self) -> RebuildStatus | None:
        """Reason, phase and progress of the running rebuild, for the status bar; None when none runs."""
        job = self._job
        return job.status() if job is not None and job.running else None

    @property
    def last_rebuild(self) -> RebuildOutcome | None:
        job = self._job
        return job.outcome if job is not None and not job.running else None

    def _start_rebuild(
        self,
        reason: str,
        *,
        wait_for_broker: bool = False,
        progress: ProgressCallback | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> tuple[RebuildJob, Callable[[], None]]:
        """Start a rebuild (or join the running one), watched by progress/cancel from its first step."""
        with self._job_lock:
            job = self._job
            if job is not None and job.running:
                return job, job.watch(progress, cancel)
            if self._stopped.is_set():
                raise NotProjectingError("the query service stopped projecting")
            job = RebuildJob(
                self, self._client_kwargs, self.topic, reason=reason, options=self._options,
                wait_for_broker=wait_for_broker,
            )
            unwatch = job.watch(progress, cancel)
            self._job = job
            job.start()
            return job, unwatch

    # what a rebuild asks of the live side (rebuild.LiveProjection)
    def pause_projecting(self) -> Path | None:
        with self._state_lock:
            runner = self._runner
            if not self._projecting:
                raise NotProjectingError("the query service stopped projecting")
            if runner is None:
                return None  # healing: there is no live view to pause
            runner.stop()
            return runner.db_path

    def resume_projecting(self, view_path: Path) -> None:
        with self._state_lock:
            self._runner = self._new_runner(view_path)
            self._runner.start()

    def view_swapped(self, view_path: Path, offsets: Mapping[int, int]) -> None:
        self._healer.healed(view_path)
        now_reading = self.read_model.refresh()
        if now_reading != view_path:
            log.error("the read model reads %s after the swap to %s", now_reading, view_path)
        self._dispatch(ViewChange(keys=frozenset(), offsets=dict(offsets), reset=True))
