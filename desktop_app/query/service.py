"""QueryService: the read side as the GUI and the CLI see it, a facade over the projection engine.

It projects into the data dir's read model if no other process does, or else reads the view that process
keeps live (engine.py decides, by a file lock). Either way it answers reads (service_reads.py), tells
listeners what changed, waits for offsets (tracking.py) and reports lag. The projecting service also
rebuilds the view without downtime (rebuild.py): on request, or by itself at start when the view was built
by another projection version or its file is found damaged or gone (healing.py; readers are then told so
in one line: `health`, ViewUnavailable).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from desktop_app.query.engine import READ_ONLY_WATCH_S, NotProjectingError, ProjectionEngine, default_lock_path
from desktop_app.query.healing import ViewHealer
from desktop_app.query.rebuild import ProgressCallback, RebuildOutcome, RebuildPhase, RebuildProgress, RebuildStatus
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.runner import BackgroundProjector, ChangeListener, ViewChange
from desktop_app.query.service_reads import ViewReads
from desktop_app.query.tracking import visible_target, wait_for
from desktop_app.query.view_health import ViewUnavailable
from desktop_app.query.views import ReadModel

log = logging.getLogger(__name__)

REQUESTED = "requested"

__all__ = [
    "NotProjectingError", "ProgressCallback", "QueryService", "READ_ONLY_WATCH_S", "RebuildOutcome",
    "RebuildPhase", "RebuildProgress", "RebuildStatus", "ViewUnavailable", "default_lock_path",
]


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
        self._client_kwargs = dict(client_kwargs)
        self._listeners: list[ChangeListener] = []
        self._listeners_lock = threading.Lock()
        self.read_model = ReadModel(self.db_path)
        self.files = self.read_model.files
        self._engine = ProjectionEngine(
            self.read_model, self._client_kwargs, topic, lock_path or default_lock_path(self.db_path),
            on_change=self._dispatch, options=options, rebuild_outdated=rebuild_outdated,
        )

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Project if no other process projects into this read model; True if so.

        Otherwise read that process's live view: listeners then get a `reset` change whenever its stored
        offsets move, and this service takes over the projecting as soon as the other one stops.
        """
        return self._engine.start()

    def stop(self) -> None:
        """Stop projecting (a running rebuild is cancelled first: its shadow is deleted) or watching."""
        self._engine.stop()

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
        return self._engine.is_projecting

    @property
    def projector_error(self) -> str | None:
        """The projector's latest failure while it retries (broker or database trouble); None when healthy."""
        runner = self._engine.runner
        return runner.last_error if runner is not None else None

    # what the reads (service_reads) and the tests look at: the engine's live projector, lock and healer
    @property
    def _runner(self) -> BackgroundProjector | None:
        return self._engine.runner

    @property
    def _projecting(self) -> bool:
        return self._engine.is_projecting

    @property
    def _healer(self) -> ViewHealer:
        return self._engine.healer

    def _damage_found(self, reason: str) -> bool:
        return self._engine.damage_found(reason)

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
        return self._engine.stored_offsets()

    def end_offsets(self, timeout: float = 10.0) -> dict[int, int]:
        """The log's end offsets now: through the running projector, else with a short-lived consumer."""
        return self._engine.end_offsets(timeout)

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
        return wait_for(self._engine.offsets, targets, timeout, on_progress=on_progress, cancel=cancel)

    def wait_until_visible(self, partition: int, offset: int, timeout: float | None) -> bool:
        """Read-your-writes: True once the record at (partition, offset) is in the view."""
        return self.wait_for_offsets(visible_target(partition, offset), timeout)

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
        if not self.is_projecting:
            raise NotProjectingError(
                f"another process projects into {self.db_path}; rebuild from there (or stop it first)"
            )
        job, unwatch = self._engine.start_rebuild(reason, progress=progress, cancel=cancel)
        try:
            return job.follow(timeout=timeout)
        finally:
            unwatch()

    def wait_for_rebuild(self, timeout: float | None = None) -> RebuildOutcome | None:
        """The outcome of the running (or latest) rebuild once it ends; None if none ran or on timeout."""
        job = self._engine.job
        if job is None or not job.join(timeout):
            return None
        return job.follow()

    @property
    def rebuild_reason(self) -> str | None:
        """Why the view is being rebuilt right now ("requested", "projection version changed ..."), or None."""
        job = self._engine.job
        return job.reason if job is not None and job.running else None

    @property
    def rebuild_status(self) -> RebuildStatus | None:
        """Reason, phase and progress of the running rebuild, for the status bar; None when none runs."""
        job = self._engine.job
        return job.status() if job is not None and job.running else None

    @property
    def last_rebuild(self) -> RebuildOutcome | None:
        job = self._engine.job
        return job.outcome if job is not None and not job.running else None
