"""The projection engine: the live projector and the rebuild together, under the read model's projector lock.

One process projects into a data dir's read model: whoever takes the file lock. That engine runs the live
projector (a thread or a child process, runner.py / process_runner.py), heals a damaged view (healing.py:
the file is moved aside and the view rebuilt from the log), and runs the shadow rebuilds (rebuild.py), each
given a `LiveHandle` (pause, resume, swapped) and nothing else of the engine. An engine that finds the lock
taken reads the other process's view: it reports that view's progress as `reset` changes and takes over the
projecting once the other process stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from desktop_app.query import as_of_files, schema
from desktop_app.query.healing import ViewHealer
from desktop_app.query.log_end import end_offsets_blocking
from desktop_app.query.partition_replay import ParallelReplay
from desktop_app.query.process_runner import projector_class
from desktop_app.query.rebuild import LiveHandle, ProgressCallback, RebuildJob
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.runner import BackgroundProjector, ChangeListener, ViewChange
from desktop_app.query.tracking import FollowedOffsets, OffsetSource, PolledOffsets
from desktop_app.query.view_health import STORE_ERRORS, ViewUnavailable
from desktop_app.query.views import ReadModel

log = logging.getLogger(__name__)

READ_ONLY_WATCH_S = 0.5  # how often a reading engine reports the other projector's progress / tries the lock
HEAL_RETRY_S = 2.0  # pause before a heal whose rebuild was cancelled or failed starts again

# BackgroundProjector's constructor: (db_path, client_kwargs, topic, *, on_change, options, role, on_damage)
ProjectorFactory = Callable[..., BackgroundProjector]
LogEnd = Callable[[float], dict[int, int]]  # the log's end offsets, asked of the broker (timeout in seconds)


class NotProjectingError(RuntimeError):
    """The operation needs this service to be the projector of its read model, and it is not."""


def default_lock_path(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".lock")


class ProjectionEngine:
    """Projector or reader of one read model; `on_change` gets every ViewChange (see QueryService)."""

    def __init__(
        self,
        read_model: ReadModel,
        client_kwargs: Mapping[str, Any],
        topic: str,
        lock_path: Path,
        *,
        on_change: ChangeListener,
        options: ProjectorOptions | None = None,
        rebuild_outdated: bool = True,
        new_projector: ProjectorFactory | None = None,
        log_end: LogEnd | None = None,
    ) -> None:
        """`new_projector` and `log_end` default to the real projector (thread or process, as `options`
        say) and a short-lived consumer asking the broker; unit tests pass fakes."""
        self.read_model = read_model
        self.files = read_model.files
        self.db_path = read_model.files.base
        self.topic = topic
        self.healer = ViewHealer(self.files)
        self._client_kwargs = dict(client_kwargs)
        self._options = options or ProjectorOptions()
        self._rebuild_outdated = rebuild_outdated
        self._on_change = on_change
        self._new_projector = new_projector or projector_class(self._options)
        # rebuilds replay big logs on every core first; not with a fake projector (unit tests: no log to read)
        self._parallel = None if new_projector is not None else ParallelReplay(
            self._client_kwargs, topic, processes=self._options.replay_processes,
            min_records=self._options.parallel_replay_min_records)
        self._log_end = log_end or (lambda timeout: end_offsets_blocking(self._client_kwargs, self.topic, timeout))
        self._lock = FileLock(str(lock_path), thread_local=False)
        self.runner: BackgroundProjector | None = None  # the live projector, while one runs
        self._projecting = False  # this engine holds the projector lock (its runner may be healing)
        self._state_lock = threading.RLock()
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._stopped = threading.Event()  # set by stop(): ends a heal's retries
        self.job: RebuildJob | None = None  # the running or latest rebuild
        self._job_lock = threading.Lock()
        self._offsets_in_file = PolledOffsets(self._offsets_in_view)
        self.offsets: OffsetSource = FollowedOffsets(self._offsets_source)

    # -- projector or reader ------------------------------------------------------------------------------
    def start(self) -> bool:
        """Project if no other process projects into this read model; True if so. Otherwise watch it."""
        with self._state_lock:
            if self.runner is not None:
                return True
            as_of_files.remove_leftovers(self.db_path.parent)  # views as of a moment of processes now gone
            if self._try_to_project():
                self._watch_stop.set()  # a watcher of the other projector, if any, has nothing left to do
                self._watcher = None
                return True
            log.info("another process projects into %s; reading its live view", self.db_path)
            self.healer.check_as_reader()
            if self._watcher is None:
                self._watch_stop.clear()
                self._watcher = threading.Thread(
                    target=self._watch_other_projector, name="query-read-only-watch", daemon=True
                )
                self._watcher.start()
            return False

    def _try_to_project(self) -> bool:
        if self.runner is not None:  # already projecting: the file lock is reentrant, so never take it twice
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
            damage = self.healer.damage_at_start(path)
            if damage is None:
                self._start_live(path)
            else:
                self._heal(damage, path)
        except BaseException:
            self._projecting = False
            self._lock.release()
            raise
        if self.runner is not None:
            self._rebuild_if_outdated()
        return True

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
                self._on_change(ViewChange(keys=frozenset(), offsets=offsets, reset=True))

    def stop(self) -> None:
        """Stop projecting (a running rebuild is cancelled first: its shadow is deleted) or watching."""
        self._watch_stop.set()
        self._stopped.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join()
        with self._job_lock:  # no rebuild starts after this
            job = self.job
        if job is not None and job.running:
            job.cancel()
            job.join()
        with self._state_lock:
            runner, self.runner = self.runner, None
            projecting, self._projecting = self._projecting, False
            try:
                if runner is not None:
                    runner.stop()
            finally:
                if projecting:
                    self._lock.release()

    @property
    def is_projecting(self) -> bool:
        return self._projecting

    # -- the live projector ---------------------------------------------------------------------------------
    def _start_live(self, view_path: Path) -> None:
        runner = self._new_projector(view_path, self._client_kwargs, self.topic, on_change=self._on_change,
                                     options=self._options, on_damage=self._on_damage)
        self.runner = runner
        runner.start()

    def stored_offsets(self) -> dict[int, int]:
        runner = self.runner
        if runner is not None:
            return runner.offsets.stored()
        if self._projecting:
            return {}  # healing: no live view until the rebuilt one is swapped in
        return self.read_model.stored_offsets(self.topic)

    def end_offsets(self, timeout: float = 10.0) -> dict[int, int]:
        """The log's end offsets now: through the running projector, else with a short-lived consumer."""
        runner = self.runner
        if runner is not None:
            ends = runner.end_offsets(timeout)
            if ends is not None:
                return ends
        return self._log_end(timeout)

    def _offsets_source(self) -> OffsetSource:
        runner = self.runner
        if runner is not None and runner.running:
            return runner.offsets
        return self._offsets_in_file  # another process projects, or this one is paused for a swap or heals

    def _offsets_in_view(self) -> dict[int, int]:
        try:  # a file found damaged still holds offsets, but not rows a reader can trust
            return {} if self.healer.health else self.read_model.stored_offsets(self.topic)
        except (ViewUnavailable, *STORE_ERRORS):
            return {}  # no view yet, or being rebuilt: wait for it

    # -- healing a damaged view -----------------------------------------------------------------------------
    def damage_found(self, reason: str) -> bool:
        """A read found the live view damaged: start the heal, if this engine projects and is not healing
        already. True if it did."""
        runner = self.runner
        if runner is None or not self._projecting or runner.damage is not None:
            return False
        runner.damage = reason
        self._on_damage(reason)
        return True

    def _on_damage(self, reason: str) -> None:  # from the projector, which has stopped: heal on another thread
        threading.Thread(target=self._heal_damaged_runner, args=(reason,), name="query-heal", daemon=True).start()

    def _heal_damaged_runner(self, reason: str) -> None:
        with self._state_lock:
            runner = self.runner
            if runner is None or not self._projecting or runner.damage is None:
                return  # stopped, or already healing
            self.runner = None
            runner.stop()
            self._heal(reason, runner.db_path)

    def _heal(self, reason: str, path: Path) -> None:
        """Move the damaged (or vanished) `path` aside, say so once, and rebuild the view from the log."""
        with self._state_lock:
            self.healer.set_aside(reason, path)
            self.read_model.refresh()  # readers drop their connections to the damaged file
        reason = f"the view was damaged: {reason}"
        job, _ = self.start_rebuild(reason, wait_for_broker=True)
        threading.Thread(target=self._keep_healing, args=(reason, job), name="query-heal", daemon=True).start()

    def _keep_healing(self, reason: str, job: RebuildJob) -> None:
        """Until a view is swapped in, a heal whose rebuild was cancelled (or failed) starts again."""
        while job.join() and self.runner is None and not self._stopped.wait(HEAL_RETRY_S) and self.runner is None:
            log.warning("the rebuild of the damaged read model did not finish; starting it again")
            try:
                job, _ = self.start_rebuild(reason, wait_for_broker=True)
            except NotProjectingError:
                return  # stopped meanwhile

    # -- rebuilds -----------------------------------------------------------------------------------------------
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
        self.start_rebuild(reason, wait_for_broker=True)

    def start_rebuild(
        self,
        reason: str,
        *,
        wait_for_broker: bool = False,
        progress: ProgressCallback | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> tuple[RebuildJob, Callable[[], None]]:
        """Start a rebuild (or join the running one), watched by progress/cancel from its first step; the job
        and the function that stops watching it."""
        with self._job_lock:
            job = self.job
            if job is not None and job.running:
                return job, job.watch(progress, cancel)
            if self._stopped.is_set() or not self._projecting:
                raise NotProjectingError("the query service stopped projecting")
            job = RebuildJob(self.files, self._live_handle(), self.topic, self._new_shadow, reason=reason,
                             wait_for_broker=wait_for_broker, parallel=self._parallel)
            unwatch = job.watch(progress, cancel)
            self.job = job
            job.start()
            return job, unwatch

    def _new_shadow(self, shadow_path: Path) -> BackgroundProjector:
        return self._new_projector(shadow_path, self._client_kwargs, self.topic, options=self._options, role="shadow")

    def _live_handle(self) -> LiveHandle:
        return LiveHandle(end_offsets=self.end_offsets, live_offsets=self.stored_offsets,
                          pause=self._pause_live, resume=self._start_live_locked, swapped=self._view_swapped)

    # what a rebuild may do to the live side (through its LiveHandle)
    def _pause_live(self) -> Path | None:
        with self._state_lock:
            runner = self.runner
            if not self._projecting:
                raise NotProjectingError("the query service stopped projecting")
            if runner is None:
                return None  # healing: there is no live view to pause
            runner.stop()
            return runner.db_path

    def _start_live_locked(self, view_path: Path) -> None:
        with self._state_lock:
            self._start_live(view_path)

    def _view_swapped(self, view_path: Path, offsets: Mapping[int, int]) -> None:
        self.healer.healed(view_path)
        now_reading = self.read_model.refresh()
        if now_reading != view_path:
            log.error("the read model reads %s after the swap to %s", now_reading, view_path)
        self._on_change(ViewChange(keys=frozenset(), offsets=dict(offsets), reset=True))
