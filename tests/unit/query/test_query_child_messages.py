"""The typed messages between the window's process and the projector child: they survive the pipe, and each
side acts on each kind (process_runner.ProjectorProcess._handle in the parent, child.obey in the
child). No broker, no child process: the real-broker tests (test_query_projector_process.py) run the child."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import pickle
from pathlib import Path

import pytest

from desktop_app.query.child_messages import (
    Answer,
    AskEndOffsets,
    BatchCommitted,
    Damaged,
    LogLine,
    ProjectorState,
    StateReport,
    Stop,
    Stopped,
)
from desktop_app.query.child import obey
from desktop_app.query.process_runner import ProjectorProcess
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.runner import ViewChange
from desktop_app.query.bands import Band

STATE = ProjectorState(highwaters={0: 9, 1: 4}, batches=3, batches_since_start=2, error_count=1, last_error="busy")
CHANGE = ViewChange(keys=frozenset({("ann", Band.AFFORDABLE)}), offsets={0: 7}, applied=2, quarantined=1)
EVERY_MESSAGE = [
    Stop(), AskEndOffsets(request=4, timeout=2.5), StateReport({0: 5}, STATE), BatchCommitted(CHANGE, STATE),
    Answer(4, {0: 9, 1: 4}), Answer(5, None), LogLine("desktop_app.query.runner", logging.INFO, "projecting"),
    Damaged("the file is missing"), Stopped(),
]


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda m: type(m).__name__)
def test_every_message_survives_pickling_and_the_pipe(message) -> None:
    assert pickle.loads(pickle.dumps(message)) == message
    sending, receiving = multiprocessing.get_context("spawn").Pipe()
    try:
        sending.send(message)
        received = receiving.recv()
    finally:
        sending.close()
        receiving.close()
    assert received == message and type(received) is type(message)


def test_messages_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AskEndOffsets(1, 1.0).timeout = 2.0  # type: ignore[misc]


# -- the parent's side ----------------------------------------------------------------------------------------
@pytest.fixture
def parent(tmp_path: Path):
    changes: list[ViewChange] = []
    damages: list[str] = []
    runner = ProjectorProcess(tmp_path / "readmodel.db", {}, "orders", on_change=changes.append,
                              on_damage=damages.append, options=ProjectorOptions(isolation="process"))
    return runner, changes, damages


def test_a_committed_batch_moves_the_offsets_and_reaches_the_listeners(parent) -> None:
    runner, changes, _ = parent
    assert runner._handle(BatchCommitted(CHANGE, STATE)) is True
    assert changes == [CHANGE]
    assert runner.offsets.stored() == {0: 7}
    assert runner.offsets.highwaters() == {0: 9, 1: 4}
    assert (runner.batches, runner.batches_since_start, runner.error_count, runner.last_error) == (3, 2, 1, "busy")


def test_a_late_state_report_never_moves_offsets_back(parent) -> None:
    runner, changes, _ = parent
    runner._handle(BatchCommitted(CHANGE, STATE))
    runner._handle(StateReport({0: 5, 1: 2}, dataclasses.replace(STATE, last_error=None)))
    assert runner.offsets.stored() == {0: 7, 1: 2}
    assert runner.last_error is None and changes == [CHANGE]


def test_an_answer_is_kept_only_for_a_request_still_awaited(parent) -> None:
    runner, _, _ = parent
    runner._answers[4] = awaited = object()
    runner._handle(Answer(4, {0: 9}))
    runner._handle(Answer(5, {0: 1}))  # given up on already
    assert runner._answers == {4: {0: 9}} and awaited is not runner._answers[4]


def test_log_lines_are_logged_here_under_the_child_logger(parent, caplog) -> None:
    runner, _, _ = parent
    with caplog.at_level(logging.INFO, logger="desktop_app.query.runner"):
        runner._handle(LogLine("desktop_app.query.runner", logging.WARNING, "retrying in 0.2s"))
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("desktop_app.query.runner", logging.WARNING, "retrying in 0.2s")
    ]


def test_damage_is_reported_to_the_service(parent) -> None:
    runner, _, damages = parent
    runner._handle(Damaged("the file was deleted or replaced"))
    assert damages == ["the file was deleted or replaced"]
    assert runner.damage == "the file was deleted or replaced"
    assert "is damaged: the file was deleted" in (runner.last_error or "")


def test_stopped_ends_the_pump_and_an_unknown_message_is_logged(parent, caplog) -> None:
    runner, _, _ = parent
    assert runner._handle(Stopped()) is False
    with caplog.at_level(logging.ERROR):
        assert runner._handle(("batch", CHANGE)) is True  # type: ignore[arg-type]  # an old tagged tuple
    assert "unknown message" in caplog.text


# -- the child's side -------------------------------------------------------------------------------------------
class FakeChildRunner:
    def __init__(self) -> None:
        self.asked: list[float] = []

    def end_offsets(self, timeout: float = 5.0) -> dict[int, int] | None:
        self.asked.append(timeout)
        return {0: 12}


def test_the_child_answers_an_end_offsets_request_and_stops_on_stop() -> None:
    runner, sent = FakeChildRunner(), []
    assert obey(AskEndOffsets(request=7, timeout=1.5), runner, sent.append) is True  # type: ignore[arg-type]
    assert sent == [Answer(7, {0: 12})] and runner.asked == [1.5]
    assert obey(Stop(), runner, sent.append) is False  # type: ignore[arg-type]
    assert sent == [Answer(7, {0: 12})]
