"""BackgroundJob's control on a job of counted steps (no broker): progress, watchers, cancel, follow.

RebuildJob and AsOfJob are BackgroundJobs; their own control flow is in test_query_engine.py and
test_query_as_of_job.py."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from desktop_app.query.background_job import BackgroundJob

WAIT_S = 10.0


class StepJob(BackgroundJob):
    """Counts to `total`, one step each time the test releases one; stops at a cancel. With `hold` set, a
    cancelled job takes until `hold` is set to stop (it cleans up, say)."""

    def __init__(self, total: int = 3, hold: threading.Event | None = None) -> None:
        super().__init__("step-job")
        self.total = total
        self.hold = hold
        self.steps = threading.Semaphore(0)
        self.outcome: str | None = None
        self.failures: list[BaseException] = []
        self.fail_with: BaseException | None = None

    def release(self, steps: int = 1) -> None:
        for _ in range(steps):
            self.steps.release()

    def _run(self) -> None:
        self._start_counting(self.total)
        done = 0
        while done < self.total:
            if self._cancel_requested():
                if self.hold is not None:
                    self.hold.wait(WAIT_S)
                self.outcome = f"cancelled at {done}"
                return
            if self.steps.acquire(timeout=0.01):
                done += 1
                self._set_progress(done)
                if self.fail_with is not None:
                    raise self.fail_with
        self.outcome = "done"

    def _failed(self, error: BaseException) -> None:
        self.failures.append(error)


def wait_until(condition, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the job did not get there"
        time.sleep(0.005)


def test_listeners_hear_every_step_in_order_and_a_late_one_hears_the_count_at_once():
    first: list[tuple[int, int]] = []
    job = StepJob(total=3)
    job.watch(lambda done, total: first.append((done, total)))
    job._launch()
    job.release()
    wait_until(lambda: (1, 3) in first)
    late: list[tuple[int, int]] = []
    job.watch(lambda done, total: late.append((done, total)))
    assert late == [(1, 3)]  # where it stands, before the next step
    job.release(2)
    job._follow()
    assert job.outcome == "done"
    assert first == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert late == [(1, 3), (2, 3), (3, 3)]
    progress = job.progress()
    assert (progress.done, progress.total) == (3, 3)


def test_a_broken_listener_is_logged_and_the_job_and_the_other_listeners_go_on(caplog):
    heard: list[tuple[int, int]] = []

    def broken(done: int, total: int) -> None:
        raise RuntimeError("the progress bar is gone")

    job = StepJob(total=2)
    job.watch(broken)
    job.watch(lambda done, total: heard.append((done, total)))
    job._launch()
    job.release(2)
    with caplog.at_level(logging.ERROR, logger="desktop_app.query.background_job"):
        job._follow()
    assert job.outcome == "done" and job.error is None
    assert heard == [(0, 2), (1, 2), (2, 2)]
    assert "a progress listener of step-job failed" in caplog.text


def test_a_broken_cancel_predicate_is_logged_and_does_not_cancel_or_break_the_job(caplog):
    def broken() -> bool:
        raise RuntimeError("the cancel button is gone")

    job = StepJob(total=2)
    job._launch()
    job.release(2)
    with caplog.at_level(logging.ERROR, logger="desktop_app.query.background_job"):
        job._follow(cancel=broken)
    assert job.outcome == "done" and job.error is None
    assert "a cancel predicate of step-job failed" in caplog.text


def test_follow_cancels_the_job_when_its_timeout_passes():
    job = StepJob(total=3)
    job._launch()
    job.release()
    finish_late = threading.Timer(WAIT_S, job.release, args=(3,))  # long after the timeout
    finish_late.start()
    try:
        job._follow(timeout=0.3)
    finally:
        finish_late.cancel()
    assert job.finished.is_set() and job.outcome in ("cancelled at 0", "cancelled at 1")


def test_follow_cancels_the_job_when_its_predicate_says_so():
    heard: list[tuple[int, int]] = []
    job = StepJob(total=3)
    job._launch()
    job.release()
    job._follow(lambda done, total: heard.append((done, total)), cancel=lambda: (1, 3) in heard)
    assert job.outcome == "cancelled at 1"


def test_an_interrupt_while_following_cancels_the_job_and_waits_for_it_to_stop():
    """Ctrl-C in the CLI: the interrupt goes on only once the job has stopped (cleaned up after itself)."""
    hold = threading.Event()
    job = StepJob(total=3, hold=hold)
    job._launch()

    follower = threading.current_thread()

    def interrupt() -> bool:
        if threading.current_thread() is not follower:  # the job's own look at its predicates
            return False
        threading.Timer(0.2, hold.set).start()  # the job's clean-up takes a while
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        job._follow(cancel=interrupt)
    assert job.finished.is_set() and job.outcome == "cancelled at 0"
    assert job._cancel_requested()


def test_unwatch_stops_the_reports_and_the_cancel_predicate():
    heard: list[tuple[int, int]] = []
    wants_cancel = threading.Event()
    job = StepJob(total=3)
    unwatch = job.watch(lambda done, total: heard.append((done, total)), cancel=wants_cancel.is_set)
    job._launch()
    wait_until(lambda: heard == [(0, 3)])
    unwatch()
    wants_cancel.set()
    job.release(3)
    job._follow()
    assert job.outcome == "done" and heard == [(0, 3)]


def test_a_failure_of_the_work_becomes_the_error_and_the_job_finishes():
    job = StepJob(total=2)
    job.fail_with = RuntimeError("the broker went away")
    assert not job.running  # not started yet
    job._launch()
    assert job.running
    job.release()
    assert job.join(WAIT_S)
    assert not job.running
    assert job.error is job.fail_with and job.failures == [job.fail_with] and job.outcome is None


def test_cancel_stops_the_job():
    job = StepJob(total=3)
    job._launch()
    job.cancel()
    assert job.join(WAIT_S) and job.outcome == "cancelled at 0"
