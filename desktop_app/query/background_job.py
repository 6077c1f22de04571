"""One background job's control: its thread, Cancel, progress (done of a total) and callers following it.

A `BackgroundJob` runs its work (`_run`) on a daemon thread of its own. The work counts its progress with
`_start_counting(total)` and `_set_progress(done)`; listeners hear each step in order, one at a time. It
looks at `_cancel_requested()` (or waits on `_cancel`) to stop early: a cancel is `cancel()` or any predicate
a watcher handed in. `_follow` waits for the end, cancels on a deadline or a predicate, and on anything that
ends the wait (Ctrl-C in the CLI) cancels and waits for the work to stop, so nothing is left half done.
A broken listener or predicate is logged and never breaks the job. The shadow rebuild (rebuild.py) and the
view as of a moment (as_of.py) are the two jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (done, total) log records the job has taken so far
CancelPredicate = Callable[[], bool]  # True: cancel the job

FOLLOW_POLL_S = 0.05  # how often a caller following a job looks at its cancel predicate and deadline


@dataclass(frozen=True, slots=True)
class RebuildProgress:
    """Records replayed out of the total the log held when the job started, with a rate and an ETA."""

    done: int
    total: int
    elapsed_s: float

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 1.0

    @property
    def rate(self) -> float:
        """Records per second, over the whole job so far."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None while no rate is known."""
        if self.done >= self.total:
            return 0.0
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


class BackgroundJob:
    """The control every background job shares. A subclass does its work in `_run` (an exception escaping it
    becomes `error`) and may clean up after a failure in `_failed`; `finished` is set once `_run` is over."""

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._cancel = threading.Event()
        self._cancel_predicates: list[CancelPredicate] = []
        self._listeners: list[ProgressCallback] = []
        self._progress_lock = threading.RLock()  # reports go out one at a time, in order
        self._started = time.monotonic()
        self._done = 0
        self._total: int | None = None  # None until the work knows what it has to do
        self._thread: threading.Thread | None = None
        self.finished = threading.Event()
        self.error: BaseException | None = None

    # -- the work (a subclass's) ------------------------------------------------------------------------
    def _run(self) -> None:
        raise NotImplementedError

    def _failed(self, error: BaseException) -> None:
        """Called on the job's thread, inside the handler, when `_run` raised `error`."""
        log.exception("%s failed", self._thread_name)

    # -- control ----------------------------------------------------------------------------------------
    def _launch(self) -> None:
        self._thread = threading.Thread(target=self._thread_main, name=self._thread_name, daemon=True)
        self._thread.start()

    def _thread_main(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever follows the job
            self.error = exc
            self._failed(exc)
        finally:
            self.finished.set()

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job to finish; False if `timeout` passed first."""
        return self.finished.wait(timeout)

    @property
    def running(self) -> bool:
        """Started and not finished yet."""
        return self._thread is not None and not self.finished.is_set()

    def watch(
        self, progress: ProgressCallback | None = None, cancel: CancelPredicate | None = None
    ) -> Callable[[], None]:
        """Report progress(done, total) at each step (from the job's thread; at once if it is counting
        already) and cancel when `cancel()` returns True. Returns the function that stops both."""
        if cancel is not None:
            self._cancel_predicates.append(cancel)
        if progress is not None:
            with self._progress_lock:
                self._listeners.append(progress)
                if self._total is not None:
                    self._call(progress, self._done, self._total)

        def unwatch() -> None:
            with self._progress_lock:
                if progress is not None and progress in self._listeners:
                    self._listeners.remove(progress)
            if cancel is not None and cancel in self._cancel_predicates:
                self._cancel_predicates.remove(cancel)

        return unwatch

    def _follow(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelPredicate | None = None,
        timeout: float | None = None,
    ) -> None:
        """Wait until the job has finished, watching it meanwhile (see watch); `timeout` passing cancels it.
        Anything that ends the wait early (Ctrl-C) cancels the job and waits for it to stop, then goes on."""
        unwatch = self.watch(progress, cancel)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self.finished.wait(FOLLOW_POLL_S):
                if self._cancel_requested() or (deadline is not None and time.monotonic() >= deadline):
                    self.cancel()
        except BaseException:  # e.g. Ctrl-C in the CLI: leave nothing half done behind
            self.cancel()
            self.finished.wait()
            raise
        finally:
            unwatch()

    def _cancel_requested(self) -> bool:
        if self._cancel.is_set():
            return True
        for predicate in list(self._cancel_predicates):
            try:
                if predicate():
                    self._cancel.set()
                    return True
            except Exception:  # noqa: BLE001 - a broken predicate must not break the job
                log.exception("a cancel predicate of %s failed", self._thread_name)
        return False

    # -- progress ---------------------------------------------------------------------------------------
    def progress(self) -> RebuildProgress:
        with self._progress_lock:
            return RebuildProgress(self._done, self._total or 0, time.monotonic() - self._started)

    def _start_counting(self, total: int) -> None:
        with self._progress_lock:
            self._total, self._done, self._started = total, 0, time.monotonic()
            for listener in list(self._listeners):
                self._call(listener, 0, total)

    def _set_progress(self, done: int) -> None:
        with self._progress_lock:
            if done == self._done or self._total is None:
                return
            self._done = done
            for listener in list(self._listeners):
                self._call(listener, done, self._total)

    def _call(self, listener: ProgressCallback, done: int, total: int) -> None:
        try:
            listener(done, total)
        except Exception:  # noqa: BLE001 - a broken progress display must not break the job
            log.exception("a progress listener of %s failed", self._thread_name)
