"""The messages between the window's process and its projector child (process_runner.py, child.py): one frozen
dataclass per kind, pickled over the pipe and matched by type on the other side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from desktop_app.query.runner import ViewChange

# -- parent -> child ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stop:
    """Finish (or roll back) the batch being applied, report the last state, and exit."""


@dataclass(frozen=True, slots=True)
class AskEndOffsets:
    """Ask the broker for the log's end offsets through the child's consumer; answered by `Answer`."""

    request: int
    timeout: float


ParentCommand = Stop | AskEndOffsets

# -- child -> parent ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectorState:
    """The child projector's counters and what it last saw of the log."""

    highwaters: Mapping[int, int]
    batches: int
    batches_since_start: int
    error_count: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class StateReport:
    """Sent when the state changed while no batch committed (and once more when stopping)."""

    offsets: Mapping[int, int]
    state: ProjectorState


@dataclass(frozen=True, slots=True)
class BatchCommitted:
    change: ViewChange
    state: ProjectorState


@dataclass(frozen=True, slots=True)
class Answer:
    request: int
    value: Any  # what was asked: the end offsets, or None if the child could not say


@dataclass(frozen=True, slots=True)
class LogLine:
    logger: str
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Damaged:
    """The child found its file damaged and stopped projecting."""

    reason: str


@dataclass(frozen=True, slots=True)
class Stopped:
    """The child's last message."""


ChildMessage = StateReport | BatchCommitted | Answer | LogLine | Damaged | Stopped
