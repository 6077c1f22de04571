"""Shared fixtures: one real Kafka broker per test session, and per-test settings on their own topic."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never read the user's settings file or touch the user's data dir.
os.environ["ORDER_DESK_CONFIG"] = str(Path(__file__).parent / "no-such-settings.toml")
os.environ.pop("ORDER_DESK_BOOTSTRAP_SERVERS", None)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from desktop_app.broker import EmbeddedBroker, ensure_jars  # noqa: E402
from desktop_app.broker.topics import ensure_topic  # noqa: E402
from desktop_app.settings import Settings  # noqa: E402


class TestBroker:
    """A real single-node KRaft broker in a temp dir, on a free port kept across restarts."""

    def __init__(self, root: Path) -> None:
        libs = ensure_jars(Settings().cache_dir)
        self.broker = EmbeddedBroker(root / "kafka", libs, root / "logs", heap="512m", start_timeout_s=90)

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    @property
    def log_file(self) -> Path:
        return self.broker.log_file

    def start(self) -> None:
        asyncio.run(self.broker.start())

    def stop(self) -> None:
        asyncio.run(self.broker.stop())

    def kill(self) -> None:
        self.broker.kill()
        self.broker.pid_file.unlink(missing_ok=True)

    def is_running(self) -> bool:
        return self.broker.is_running()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBroker]:
    broker = TestBroker(tmp_path_factory.mktemp("broker"))
    broker.start()
    try:
        yield broker
    finally:
        try:
            broker.stop()
        finally:
            if broker.is_running():
                broker.kill()


@pytest.fixture
def running_broker(kafka_broker: TestBroker) -> TestBroker:
    """The session broker, restarted first if an earlier test stopped or killed it."""
    if not kafka_broker.is_running():
        kafka_broker.start()
    return kafka_broker


@pytest.fixture
def settings(tmp_path: Path, running_broker: TestBroker) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        bootstrap_servers=running_broker.bootstrap_servers,
        topic=f"orders-{uuid.uuid4().hex[:12]}",
        partitions=3,
    )


@pytest.fixture
def topic_ready(settings: Settings) -> Settings:
    asyncio.run(
        ensure_topic(
            settings.kafka_client_kwargs(),
            settings.topic,
            settings.partitions,
            settings.replication_factor,
            settings.min_insync_replicas,
        )
    )
    return settings


@pytest.fixture
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir for tests that run their own embedded broker (via the CLI or bootstrap)."""
    data_dir = tmp_path / "desk"
    monkeypatch.setenv("ORDER_DESK_DATA_DIR", str(data_dir))
    return data_dir
