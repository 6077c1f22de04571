"""Shadow rebuild: replay the whole log into a new generation beside the live view, then swap it in.

1. Take the log's end offsets (the total to replay) and start a second projector on a new generation file
   (`readmodel-<n>.db`): its own consumer (no group, every partition assigned, from offset 0) and the same
   Projector code. The live projector keeps serving and updating the current view meanwhile. (When the
   live view was damaged and moved aside there is none: the rebuild heals it and swaps without a pause.)
2. Once the shadow has reached those offsets, and then the live projector's latest offsets, pause the live
   projector (it finishes its batch) and let the shadow catch up with the offsets the live view stopped at,
   so the new view holds everything the old one showed.
3. Swap: stop the shadow, point `readmodel.current` at it (one atomic file replace: the commit point), tell
   the readers, resume the live projector on the new generation, delete the old one.

Until the pointer moves, the live view is untouched: cancel, failure or a crash leave only a shadow file,
deleted at once or at the next start. Readers only ever open the generation the pointer names.
The job reaches the live side only through the `LiveHandle` its engine (engine.py) hands in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

# ProgressCallback and RebuildProgress are background_job.py's; importers of them from here keep working
from desktop_app.query.background_job import BackgroundJob, ProgressCallback, RebuildProgress  # noqa: F401
from desktop_app.query.partition_replay import ParallelReplay, ReplayEnd
from desktop_app.query.runner import BackgroundProjector
from desktop_app.query.schema import create_read_indexes, ensure_schema, ensure_shadow_schema, open_engine
from desktop_app.query.tracking import offsets_in_file
from desktop_app.query.view_files import ViewFiles
from desktop_app.query.view_health import STORE_ERRORS, corruption_of
from desktop_app.query.views import ReadModel

log = logging.getLogger(__name__)

SWAP_CATCH_UP_S = 15.0  # longest pause of the live projector while the shadow takes its last records
SWAP_ATTEMPTS = 3  # pauses tried before the rebuild gives up (each resumes the live projector on failure)
BROKER_RETRY_S = 2.0  # an automatic rebuild waits this long between tries to reach the broker
END_OFFSETS_TIMEOUT_S = 10.0


class RebuildError(RuntimeError):
    pass


class RebuildPhase(str, Enum):
    STARTING = "starting"  # asking the broker where the log ends
    REPLAYING = "replaying"  # the shadow replays the log up to that end
    CATCHING_UP = "catching up"  # the shadow follows the live view to the swap
    SWAPPING = "swapping"  # the live projector is paused for the swap
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RebuildStatus:
    """A running rebuild, for the status bar."""

    reason: str
    phase: RebuildPhase
    progress: RebuildProgress
    problem: str | None  # the shadow projector's latest failure while it retries


@dataclass(frozen=True, slots=True)
class RebuildOutcome:
    completed: bool  # True: the new view was swapped in. False: cancelled (or timed out); the view is unchanged
    done: int  # records replayed of `total`
    total: int  # records in the log when the rebuild started
    cancelled: bool = False
    seconds: float = 0.0
    events: int = 0  # records replayed into the new view by the swap (events, duplicates, quarantined records)
    rows: int = 0  # view rows of the new view at the swap
    quarantined: int = 0  # quarantined records in the new view at the swap
    generation: int | None = None  # the generation swapped in
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LiveHandle:
    """All a rebuild may do to the live side (the engine hands one in): read where the log ends and what the
    live view holds, pause the live projector, resume it on a view file, and say that a new view is in."""

    end_offsets: Callable[[float], dict[int, int]]  # the log's end offsets (timeout in seconds)
    live_offsets: Callable[[], dict[int, int]]  # the live view's stored next offsets
    # stop the live projector after its current batch; the file of the view it projected into, or None when
    # there is no live view (it was damaged and is being healed by this rebuild)
    pause: Callable[[], Path | None]
    resume: Callable[[Path], None]  # start the live projector on this view file
    swapped: Callable[[Path, Mapping[int, int]], None]  # readers move to the new generation; listeners reset


ShadowFactory = Callable[[Path], BackgroundProjector]  # a projector (not started) for the shadow file


def done_of(offsets: Mapping[int, int], targets: Mapping[int, int]) -> int:
    return sum(min(offsets.get(partition, 0), end) for partition, end in targets.items())


class RebuildJob(BackgroundJob):
    """One shadow rebuild, run in its own thread (background_job.py). Callers follow it (progress, cancel)
    with `follow`."""

    def __init__(
        self,
        files: ViewFiles,
        live: LiveHandle,
        topic: str,
        new_shadow: ShadowFactory,
        *,
        reason: str,
        wait_for_broker: bool = False,
        parallel: ParallelReplay | None = None,
    ) -> None:
        """`parallel`: replays a big log on every core before the shadow projector takes over."""
        super().__init__(f"rebuild:{topic}")
        self.files = files
        self._parallel = parallel
        self._live = live
        self.topic = topic
        self.reason = reason
        self._new_shadow = new_shadow
        self._wait_for_broker = wait_for_broker
        self._phase = RebuildPhase.STARTING
        self._shadow: BackgroundProjector | None = None
        self._swapped = False
        self.outcome: RebuildOutcome | None = None

    # -- control (the rest is BackgroundJob's: cancel, join, watch) ----------------------------------------
    def start(self) -> None:
        self._launch()

    def cancel(self) -> None:
        """Stop the rebuild and delete the shadow; the live view stays as it is. Ignored once swapping."""
        super().cancel()

    @property
    def running(self) -> bool:
        """Until it has finished, from its creation on: the engine hands a rebuild out before it starts it."""
        return not self.finished.is_set()

    def status(self) -> RebuildStatus:
        shadow = self._shadow
        problem = shadow.last_error if shadow is not None else None
        return RebuildStatus(self.reason, self._phase, self.progress(), problem)

    def follow(
        self,
        progress: ProgressCallback | None = None,
        cancel: Callable[[], bool] | None = None,
        timeout: float | None = None,
    ) -> RebuildOutcome:
        """Wait for the rebuild's outcome, watching it meanwhile (see watch). `timeout` passing cancels it.
        A failure of the rebuild is raised here."""
        self._follow(progress, cancel, timeout)
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome

    # -- the rebuild ------------------------------------------------------------------------------------
    def _run(self) -> None:
        self.outcome = self._rebuild()
        self._phase = RebuildPhase.DONE if self.outcome.completed else RebuildPhase.CANCELLED

    def _failed(self, error: BaseException) -> None:
        self._phase = RebuildPhase.FAILED
        log.exception("rebuilding the read model failed (%s); the current view stays", self.reason)

    def _log_end(self) -> dict[int, int] | None:
        while True:
            try:
                return self._live.end_offsets(END_OFFSETS_TIMEOUT_S)
            except Exception as exc:
                if not self._wait_for_broker:
                    raise RebuildError(f"cannot read where the log ends: {exc}") from exc
                log.warning("rebuild waits for the broker: %s", exc)
            if self._cancel.wait(BROKER_RETRY_S) or self._cancel_requested():
                return None

    def _rebuild(self) -> RebuildOutcome:
        log.info("rebuilding the read model in a shadow (%s)", self.reason)
        targets = self._log_end()
        if targets is None:
            return self._outcome_cancelled(0)
        self._start_counting(sum(targets.values()))
        generation = self.files.next_generation()
        shadow_path = self.files.generation_path(generation)
        self.files.remove_generation(generation)  # a leftover of an earlier attempt, if any
        _new_shadow_file(shadow_path)
        shadow = self._new_shadow(shadow_path)
        self._shadow = shadow
        self._swapped = False
        swapped: RebuildOutcome | None = None
        try:
            self._phase = RebuildPhase.REPLAYING
            if not self._replay_in_parallel(generation, targets):
                return self._outcome_cancelled(self._done)
            shadow.start()
            report = lambda offsets: self._set_progress(done_of(offsets, targets))  # noqa: E731
            if not shadow.offsets.wait_for(targets, None, on_progress=report, cancel=self._cancel_requested):
                return self._outcome_cancelled(done_of(shadow.offsets.stored(), targets))
            for attempt in range(1, SWAP_ATTEMPTS + 1):
                self._phase = RebuildPhase.CATCHING_UP  # close behind the live view, so the pause is short
                if not shadow.offsets.wait_for(self._live.live_offsets(), None, cancel=self._cancel_requested):
                    return self._outcome_cancelled(done_of(shadow.offsets.stored(), targets))
                swapped = self._swap(shadow, generation, targets)
                if swapped is not None or self._cancel_requested():
                    break
                log.warning("the shadow did not catch up within %.0fs of pausing the live view (try %d of %d)",
                            SWAP_CATCH_UP_S, attempt, SWAP_ATTEMPTS)
            if swapped is None:
                if self._cancel_requested():
                    return self._outcome_cancelled(done_of(shadow.offsets.stored(), targets))
                raise RebuildError("the new view could not catch up with the live one; the current view stays")
            return swapped
        finally:
            shadow.stop()
            if not self._swapped:
                kept = self.files.remove_generation(generation)
                if kept:
                    log.warning("could not delete the shadow %s now; it is deleted at the next start", kept)

    def _replay_in_parallel(self, generation: int, targets: Mapping[int, int]) -> bool:
        """Replay the log up to `targets` into the new shadow file on every core (partition_replay), when the
        log is big enough to gain from it; the shadow projector goes on from there. False: cancelled."""
        parallel = self._parallel
        if parallel is None or not parallel.worth_it(targets):
            return True
        shadow_path = self.files.generation_path(generation)
        try:
            end = parallel.run(shadow_path, targets, progress=self._set_progress, cancelled=self._cancel_requested)
        except Exception as exc:  # noqa: BLE001 - the one-process replay below does the same, with retries
            log.warning("the parallel replay failed (%s); replaying in one process", exc)
            end = None
        if end is ReplayEnd.CANCELLED:
            return False
        if end is not ReplayEnd.DONE:  # start the shadow over, empty
            self.files.remove_generation(generation)
            _new_shadow_file(shadow_path)
        return True

    def _swap(self, shadow: BackgroundProjector, generation: int, targets: Mapping[int, int]) -> RebuildOutcome | None:
        """Pause the live projector, let the shadow take the records the live view has, swap. None: not now."""
        self._phase = RebuildPhase.SWAPPING
        paused_at = time.monotonic()
        live_path = self._live.pause()
        resume_on = live_path
        try:
            # no live view (healing a damaged one), or a damaged one: the new view need not catch up with it
            live_offsets = _live_offsets(live_path, self.topic)
            if not shadow.offsets.wait_for(live_offsets, SWAP_CATCH_UP_S, cancel=self._cancel_requested):
                return None
            shadow.stop()
            new_path = self.files.generation_path(generation)
            events, rows, quarantined, offsets = _finished_view(new_path, self.topic)
            self.files.point_to(generation)  # the commit point: from here on the new view is the live one
            self._swapped = True
            resume_on = new_path
            try:
                self._live.swapped(new_path, offsets)
            except Exception:  # noqa: BLE001 - readers follow the pointer by themselves anyway
                log.exception("telling the readers about the new view failed")
        finally:
            if resume_on is not None:
                self._live.resume(resume_on)
        log.info("swapped in the rebuilt read model %s (live projector paused %.2fs)",
                 new_path.name, time.monotonic() - paused_at)
        old_generation = self.files.generation_of(live_path.name) if live_path is not None else None
        if old_generation is not None and old_generation != generation:
            kept = self.files.remove_generation(old_generation)
            if kept:
                log.info("the old view %s is still open elsewhere; it is deleted at the next start", kept)
        seconds = time.monotonic() - self._started
        self._set_progress(done_of(offsets, targets))
        log.info("rebuilt the read model from %d records in %.1fs: %d rows, %d quarantined (%s)",
                 events, seconds, rows, quarantined, self.reason)
        return RebuildOutcome(
            completed=True,
            done=done_of(offsets, targets),
            total=sum(targets.values()),
            seconds=seconds,
            events=events,
            rows=rows,
            quarantined=quarantined,
            generation=generation,
            reason=self.reason,
        )

    def _outcome_cancelled(self, done: int) -> RebuildOutcome:
        log.info("rebuild cancelled at %d of %s records; the current view stays (%s)", done, self._total, self.reason)
        return RebuildOutcome(
            completed=False, done=done, total=self._total or 0, cancelled=True,
            seconds=time.monotonic() - self._started, reason=self.reason,
        )


def _live_offsets(live_path: Path | None, topic: str) -> dict[int, int]:
    if live_path is None:
        return {}
    try:
        return offsets_in_file(live_path, topic)
    except STORE_ERRORS as exc:
        if corruption_of(exc) is None:
            raise
        log.warning("the live view %s is damaged (%s); swapping in the rebuilt one", live_path.name, corruption_of(exc))
        return {}


def _new_shadow_file(db_path: Path) -> None:
    """The shadow's tables, without the indexes only readers use: nobody reads it before the swap."""
    engine = open_engine(db_path, writer=True)
    try:
        ensure_shadow_schema(engine)
    finally:
        engine.dispose()


def _finished_view(db_path: Path, topic: str) -> tuple[int, int, int, dict[int, int]]:
    """Make sure the shadow has its tables, version and read indexes (even for an empty log); (records, rows,
    quarantined, offsets) of it."""
    engine = open_engine(db_path, writer=True)
    try:
        ensure_schema(engine)
        started = time.monotonic()
        create_read_indexes(engine)
        log.info("created the read indexes of %s in %.2fs", db_path.name, time.monotonic() - started)
        view = ReadModel(db_path, engine=engine)
        offsets = view.stored_offsets(topic)
        return sum(offsets.values()), view.count_items(), view.quarantined_count(), offsets
    finally:
        engine.dispose()
