"""The offset tracker's control flow (query/tracking.py) with a fake clock and condition: no broker, no threads.

The real-broker tests (tests/integration/query) wait on live projectors through the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from query_unit_helpers import TOPIC

from desktop_app.query.projector import Projector
from desktop_app.query.schema import open_engine
from desktop_app.query.tracking import (
    WAIT_STEP_S,
    FollowedOffsets,
    OffsetTracker,
    PolledOffsets,
    offsets_in_file,
    reached,
    visible_target,
    wait_for,
)
from desktop_app.query.view_health import STORE_ERRORS


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeCondition:
    """A condition whose wait() lets fake time pass and runs what 'another thread' does meanwhile."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []
        self.notified = 0
        self.meanwhile: list[Callable[[], None]] = []  # one action per wait, then nothing happens

    def __enter__(self) -> FakeCondition:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        self.clock.now += timeout
        if self.meanwhile:
            self.meanwhile.pop(0)()
        return True

    def notify_all(self) -> None:
        self.notified += 1


class ScriptedSource:
    """An OffsetSource that moves as scripted, one step per wait, and may end."""

    def __init__(self, clock: FakeClock, steps: list[dict[int, int] | None], start: dict[int, int] | None = None):
        self.clock = clock
        self.steps = steps
        self.current = dict(start or {})
        self.waits: list[float] = []

    def offsets_now(self) -> dict[int, int]:
        return dict(self.current)

    def next_offsets(self, seen: Mapping[int, int], wait_s: float) -> dict[int, int] | None:
        self.waits.append(wait_s)
        self.clock.now += wait_s
        if not self.steps:
            return dict(self.current)
        step = self.steps.pop(0)
        if step is None:
            return None
        self.current.update(step)
        return dict(self.current)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- comparing --------------------------------------------------------------------------------------------------
def test_targets_are_next_offsets_and_an_unstored_partition_counts_as_zero() -> None:
    assert reached({0: 5, 1: 3}, {0: 5, 1: 2})
    assert not reached({0: 5}, {0: 6})
    assert not reached({0: 5}, {1: 1})
    assert reached({}, {1: 0})
    assert reached({0: 1}, {})
    assert visible_target(2, 41) == {2: 42}


# -- wait_for -----------------------------------------------------------------------------------------------------
def test_a_wait_already_reached_returns_at_once(clock) -> None:
    source = ScriptedSource(clock, [], start={0: 3})
    assert wait_for(source, {0: 3}, 5.0, clock=clock)
    assert source.waits == []


def test_a_wait_follows_the_source_until_the_targets_are_reached(clock) -> None:
    source = ScriptedSource(clock, [{0: 1}, {1: 2}, {0: 4}])
    seen: list[dict[int, int]] = []
    assert wait_for(source, {0: 4, 1: 2}, None, on_progress=seen.append, clock=clock)
    assert seen == [{}, {0: 1}, {0: 1, 1: 2}, {0: 4, 1: 2}]


def test_a_wait_times_out_in_steps_that_never_pass_the_deadline(clock) -> None:
    source = ScriptedSource(clock, [])
    started = clock.now
    assert not wait_for(source, {0: 1}, 0.25, clock=clock)
    assert clock.now - started == pytest.approx(0.25)
    assert all(wait <= WAIT_STEP_S for wait in source.waits) and len(source.waits) == 3


def test_a_zero_timeout_looks_once_and_does_not_wait(clock) -> None:
    source = ScriptedSource(clock, [{0: 1}])
    assert not wait_for(source, {0: 1}, 0.0, clock=clock)
    assert source.waits == []


def test_cancel_ends_a_wait_without_a_deadline(clock) -> None:
    source = ScriptedSource(clock, [])
    asked = []

    def cancel() -> bool:
        asked.append(clock.now)
        return len(asked) > 2

    assert not wait_for(source, {0: 1}, None, cancel=cancel, clock=clock)
    assert len(source.waits) == 2


def test_a_source_that_ends_is_judged_by_what_it_stored_last(clock) -> None:
    ended_short = ScriptedSource(clock, [None], start={0: 1})
    assert not wait_for(ended_short, {0: 2}, None, clock=clock)

    class StoredThenEnded(ScriptedSource):  # its last batch landed just before it ended
        def next_offsets(self, seen, wait_s):
            self.current = {0: 2}
            return None

    seen: list[dict[int, int]] = []
    assert wait_for(StoredThenEnded(clock, []), {0: 2}, None, on_progress=seen.append, clock=clock)
    assert seen == [{}, {0: 2}]


# -- OffsetTracker --------------------------------------------------------------------------------------------------
def make_tracker(clock: FakeClock, alive: Callable[[], bool] = lambda: True) -> tuple[OffsetTracker, FakeCondition]:
    condition = FakeCondition(clock)
    return OffsetTracker(alive, condition=condition, clock=clock), condition  # type: ignore[arg-type]


def test_offsets_only_move_forward_and_wake_the_waiters(clock) -> None:
    tracker, condition = make_tracker(clock)
    tracker.reset({0: 5})
    assert tracker.advance({0: 3, 1: 2}) == {0: 5, 1: 2}  # a late state message never moves a partition back
    assert tracker.stored() == {0: 5, 1: 2}
    assert condition.notified == 2
    tracker.saw_highwaters({0: 9, 1: 2})
    assert tracker.highwaters() == {0: 9, 1: 2}


def test_a_waiter_sleeps_on_the_condition_until_a_batch_commits(clock) -> None:
    tracker, condition = make_tracker(clock)
    condition.meanwhile = [lambda: None, lambda: tracker.advance({3: 8})]
    assert tracker.wait_until_visible(3, 7, 5.0)
    assert condition.waits == [WAIT_STEP_S, WAIT_STEP_S]


def test_offsets_that_moved_since_the_last_look_are_taken_without_waiting(clock) -> None:
    tracker, condition = make_tracker(clock)
    tracker.advance({0: 1})
    assert tracker.next_offsets({}, WAIT_STEP_S) == {0: 1}  # no lost wake-up between a look and a wait
    assert condition.waits == []


def test_a_wait_on_a_stopped_projector_ends_at_once(clock) -> None:
    running = [True]
    tracker, condition = make_tracker(clock, alive=lambda: running[0])
    condition.meanwhile = [lambda: running.__setitem__(0, False)]
    assert not tracker.wait_for({0: 1}, None)
    assert condition.waits == [WAIT_STEP_S]


def test_a_wait_on_a_tracker_times_out(clock) -> None:
    tracker, condition = make_tracker(clock)
    assert not tracker.wait_for({0: 1}, 0.3)
    assert sum(condition.waits) == pytest.approx(0.3)


# -- PolledOffsets and FollowedOffsets ------------------------------------------------------------------------------
def test_a_polled_file_is_read_every_poll(clock) -> None:
    reads = iter([{}, {}, {0: 2}])
    slept: list[float] = []
    polled = PolledOffsets(lambda: next(reads), sleep=slept.append, every_s=0.02)
    assert wait_for(polled, {0: 2}, 1.0, clock=clock)
    assert slept == [0.02, 0.02]


def test_a_followed_wait_moves_from_a_stopped_projector_to_the_file_and_on_to_the_new_projector(clock) -> None:
    running = [True]
    old, old_condition = make_tracker(clock, alive=lambda: running[0])
    new, _ = make_tracker(clock)
    file_offsets = {0: 1}
    polled = PolledOffsets(lambda: dict(file_offsets), sleep=clock.sleep)
    live: list[OffsetTracker | None] = [old]

    def pick():
        tracker = live[0]
        return tracker if tracker is not None and (tracker is not old or running[0]) else polled

    def swap() -> None:  # the rebuild pauses the live projector, swaps, resumes on the new view
        running[0] = False
        file_offsets[0] = 2
        live[0] = None

    old.advance({0: 1})
    old_condition.meanwhile = [swap]
    seen: list[dict[int, int]] = []
    followed = FollowedOffsets(pick)
    assert not wait_for(followed, {0: 3}, 0.25, on_progress=seen.append, clock=clock)
    assert seen[-1] == {0: 2}  # the file, once the old projector stopped
    new.advance({0: 3})
    live[0] = new
    assert wait_for(followed, {0: 3}, 0.05, clock=clock)


# -- the stored offsets of a file ----------------------------------------------------------------------------------
def test_the_offsets_in_a_file_are_those_the_projector_committed(projector: Projector, db_path: Path,
                                                                  records) -> None:
    assert offsets_in_file(db_path, TOPIC) == {}
    projector.apply([records.raw(b"{}", partition=0), records.raw(b"{}", partition=2), records.raw(b"{}", partition=0)])
    assert offsets_in_file(db_path, TOPIC) == {0: 2, 2: 1}
    assert offsets_in_file(db_path, "another-topic") == {}


def test_a_missing_file_has_no_offsets_and_one_without_tables_raises(tmp_path: Path) -> None:
    assert offsets_in_file(tmp_path / "nothing.db", TOPIC) == {}
    empty = tmp_path / "empty.db"
    open_engine(empty).dispose()
    with open_engine(empty).connect():
        pass
    with pytest.raises(STORE_ERRORS):
        offsets_in_file(empty, TOPIC)
