"""The projection engine's control flow without a broker: fake projectors (a fake consumer: they apply a list
of records with the real Projector into their file), the real files, lock, healer and rebuild job.

What is checked is the order of the steps a rebuild takes through its narrow live handle (pause, swap,
resume), and what a heal does when a read finds the view damaged.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from query_unit_helpers import TOPIC, RecordFactory, order

from desktop_app.query import rebuild
from desktop_app.query.engine import NotProjectingError, ProjectionEngine
from desktop_app.query.projector import Projector, Record
from desktop_app.query.rebuild import LiveHandle, RebuildJob
from desktop_app.query.runner import BackgroundProjector, ViewChange
from desktop_app.query.schema import open_engine
from desktop_app.query.tracking import offsets_of_engine
from desktop_app.query.view_files import ViewFiles
from desktop_app.query.views import ReadModel

WAIT_S = 30.0  # only a hang ever takes this long


class Journal:
    """The steps taken, in order, by the fakes and the listeners, with a way to wait for one."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, ...]] = []
        self._changed = threading.Condition()

    def add(self, *step: str) -> None:
        with self._changed:
            self.steps.append(step)
            self._changed.notify_all()

    def wait_for(self, *step: str) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: step in self.steps, WAIT_S)


class FakeProjector(BackgroundProjector):
    """Applies the whole fake log on start (unless `stalled`), in one batch, as the real one would."""

    def __init__(self, db_path: Path, client_kwargs: Mapping[str, Any], topic: str, *,
                 log: list[Record], journal: Journal, stalled: bool = False, **kwargs: Any) -> None:
        super().__init__(db_path, client_kwargs, topic, **kwargs)
        self._log, self._journal, self._stalled = log, journal, stalled
        self._running = False

    def start(self) -> None:
        self._journal.add("start", self.role, self.db_path.name)
        self._running = True
        engine = open_engine(self.db_path, writer=True)
        try:
            stored = offsets_of_engine(engine, self.topic)
            self.offsets.reset(stored)
            fresh = [record for record in self._log if record.offset >= stored.get(record.partition, 0)]
            if fresh and not self._stalled:
                Projector(engine, self.topic).apply(fresh)
                offsets = self.offsets.advance(offsets_of_engine(engine, self.topic))
                if self._on_change is not None:
                    self._on_change(ViewChange(keys=frozenset(), offsets=offsets))
        finally:
            engine.dispose()

    def stop(self, timeout: float = 15.0) -> None:
        if self._running:
            self._journal.add("stop", self.role, self.db_path.name)
        self._running = False
        self.offsets.wake()

    @property
    def running(self) -> bool:
        return self._running

    def end_offsets(self, timeout: float = 5.0) -> dict[int, int]:
        return log_end(self._log)


def log_end(log: list[Record]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for record in log:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


@pytest.fixture
def log() -> list[Record]:
    records = RecordFactory()
    return [records.event(order("una", ("Tea", 350, 2)), partition=0),
            records.event(order("bo", ("Cake", 1200, 1)), partition=1),
            records.event(order("una", ("Jam", 500, 3)), partition=0)]


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def engine(tmp_path: Path, log: list[Record], journal: Journal):
    read_model = ReadModel(tmp_path / "readmodel.db")

    def new_projector(*args: Any, **kwargs: Any) -> FakeProjector:
        return FakeProjector(*args, log=log, journal=journal, **kwargs)

    def on_change(change: ViewChange) -> None:
        if change.reset:
            journal.add("reset", read_model.view_path.name)

    engine = ProjectionEngine(read_model, {}, TOPIC, tmp_path / "readmodel.db.lock", on_change=on_change,
                              new_projector=new_projector, log_end=lambda timeout: log_end(log))
    yield engine
    engine.stop()
    read_model.close()


def test_a_rebuild_pauses_the_live_projector_swaps_and_resumes_it_on_the_new_view_in_that_order(
    engine: ProjectionEngine, journal: Journal
) -> None:
    assert engine.start() is True
    assert engine.read_model.count_items() == 3

    job, _ = engine.start_rebuild("requested")
    outcome = job.follow(timeout=WAIT_S)

    assert journal.steps == [
        ("start", "projector", "readmodel.db"),
        ("start", "shadow", "readmodel-1.db"),
        ("stop", "projector", "readmodel.db"),  # paused
        ("stop", "shadow", "readmodel-1.db"),
        ("reset", "readmodel-1.db"),  # the readers are on the new view before the live projector resumes
        ("start", "projector", "readmodel-1.db"),  # resumed on it
    ]
    assert (outcome.completed, outcome.generation, outcome.done, outcome.total) == (True, 1, 3, 3)
    assert engine.runner is not None and engine.runner.db_path.name == "readmodel-1.db"
    assert engine.read_model.count_items() == 3
    assert not (engine.db_path.parent / "readmodel.db").exists()  # the old generation is deleted


def test_a_read_finding_the_view_damaged_heals_it_without_pausing_a_live_view(
    engine: ProjectionEngine, journal: Journal
) -> None:
    engine.start()

    assert engine.damage_found("database disk image is malformed") is True
    assert engine.damage_found("database disk image is malformed") is False  # one heal at a time
    assert journal.wait_for("start", "projector", "readmodel-1.db")

    assert journal.steps == [
        ("start", "projector", "readmodel.db"),
        ("stop", "projector", "readmodel.db"),  # stopped by the damage, not paused by the rebuild
        ("start", "shadow", "readmodel-1.db"),
        ("stop", "shadow", "readmodel-1.db"),
        ("reset", "readmodel-1.db"),
        ("start", "projector", "readmodel-1.db"),
    ]
    assert engine.job is not None and engine.job.join(WAIT_S) and engine.job.outcome.completed
    assert engine.healer.health is None
    assert [path.name for path in engine.db_path.parent.glob("readmodel.damaged-*.db")] != []
    assert engine.read_model.count_items() == 3


def test_a_reading_engine_cannot_rebuild(tmp_path: Path, engine: ProjectionEngine) -> None:
    engine.start()
    other = ProjectionEngine(ReadModel(tmp_path / "readmodel.db"), {}, TOPIC, tmp_path / "readmodel.db.lock",
                             on_change=lambda change: None, new_projector=lambda *a, **k: pytest.fail("projected"))
    try:
        assert other.start() is False
        with pytest.raises(NotProjectingError):
            other.start_rebuild("requested")
    finally:
        other.stop()
        other.read_model.close()


def test_a_rebuild_needs_only_its_live_handle_and_a_cancel_before_the_swap_never_pauses(
    tmp_path: Path, log: list[Record], journal: Journal
) -> None:
    files = ViewFiles(tmp_path / "readmodel.db")
    live = LiveHandle(
        end_offsets=lambda timeout: log_end(log),
        live_offsets=lambda: log_end(log),
        pause=lambda: journal.add("pause") or None,
        resume=lambda path: journal.add("resume", path.name),
        swapped=lambda path, offsets: journal.add("swapped", path.name),
    )
    stalled = RebuildJob(files, live, TOPIC, lambda path: FakeProjector(path, {}, TOPIC, log=log, journal=journal,
                                                                         role="shadow", stalled=True),
                         reason="requested")
    stalled.start()

    outcome = stalled.follow(cancel=lambda: ("start", "shadow", "readmodel-1.db") in journal.steps, timeout=WAIT_S)

    assert (outcome.completed, outcome.cancelled) == (False, True)
    assert journal.steps == [("start", "shadow", "readmodel-1.db"), ("stop", "shadow", "readmodel-1.db")]
    assert not files.generation_path(1).exists()

    journal.steps.clear()
    job = RebuildJob(files, live, TOPIC, lambda path: FakeProjector(path, {}, TOPIC, log=log, journal=journal,
                                                                     role="shadow"), reason="requested")
    job.start()

    assert job.follow(timeout=WAIT_S).completed
    assert [step[0] for step in journal.steps] == ["start", "pause", "stop", "swapped", "resume"]
    assert journal.steps[-1] == ("resume", "readmodel-1.db")


def test_the_rebuild_knows_nothing_of_its_engine_or_the_service() -> None:
    """The walk goes one way: the engine starts rebuilds, a rebuild reaches back only through its LiveHandle."""
    tree = ast.parse(Path(rebuild.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "desktop_app.query.view_files" in imported  # the scan sees its imports
    assert imported.isdisjoint({"desktop_app.query.engine", "desktop_app.query.service",
                                "desktop_app.query.process_runner"})
