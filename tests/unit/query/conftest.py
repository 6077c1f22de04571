"""Fixtures for the read side's unit tests: a temp read model and a record factory. No broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from query_unit_helpers import TOPIC, RecordFactory

from desktop_app.query.projector import Projector
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "readmodel.db"


@pytest.fixture
def projector(db_path: Path):
    engine = open_engine(db_path, writer=True)
    ensure_schema(engine)
    yield Projector(engine, TOPIC)
    engine.dispose()


@pytest.fixture
def read_model(db_path: Path, projector: Projector):
    model = ReadModel(db_path)
    yield model
    model.close()


@pytest.fixture
def records() -> RecordFactory:
    return RecordFactory()
