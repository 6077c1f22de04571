"""Fixtures of the reliability suite: extra real Kafka nodes (a 3-node cluster, a SASL_SSL node) and a
report of what the fault tests observed, printed at the end of the run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop_app.broker import ensure_jars
from desktop_app.settings import Settings
from support.cluster import KafkaCluster

_REPORT: list[str] = []

APP_USER = "order-desk"
APP_PASSWORD = "correct horse battery staple"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _REPORT:
        terminalreporter.write_sep("-", "reliability report")
        for line in _REPORT:
            terminalreporter.write_line(line)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Note an observation (e.g. duplicate records seen in the log); printed after the run."""

    def note(line: str) -> None:
        _REPORT.append(f"{request.node.name}: {line}")

    return note


@pytest.fixture(scope="session")
def libs_dir() -> Path:
    return ensure_jars(Settings().cache_dir)


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory, libs_dir: Path) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(tmp_path_factory.mktemp("cluster"), libs_dir, size=3, heap="256m")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def healthy_cluster(kafka_cluster: KafkaCluster) -> KafkaCluster:
    """The module's cluster with every node running (an earlier test may have killed one)."""
    for node_id in set(kafka_cluster.nodes) - set(kafka_cluster.running_nodes()):
        kafka_cluster.start_node(node_id)
    return kafka_cluster


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory, libs_dir: Path) -> Iterator[Any]:
    """A single node whose only client listener is SASL_SSL (SCRAM-SHA-512), user APP_USER/APP_PASSWORD."""
    from support.secure_broker import SecureBroker  # needs the `cryptography` package

    broker = SecureBroker(tmp_path_factory.mktemp("secure"), libs_dir, APP_USER, APP_PASSWORD)
    try:
        asyncio.run(broker.node.start())
        yield broker
    finally:
        broker.node.kill()
