"""Fixtures for the read side against the real broker: producing events and running query services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.service import QueryService
from desktop_app.settings import Settings


@pytest.fixture
def start_service(topic_ready: Settings) -> Iterator[Callable[..., QueryService]]:
    """Start a QueryService on the test topic; data_dir defaults to the test's, closed at teardown."""
    started: list[QueryService] = []

    def start(data_dir: Path | None = None, options: ProjectorOptions | None = None) -> QueryService:
        folder = data_dir or topic_ready.data_dir
        service = QueryService(
            folder / "readmodel.db", topic_ready.kafka_client_kwargs(), topic_ready.topic,
            lock_path=folder / "readmodel.db.lock", options=options,
        )
        service.start()
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        service.close()
