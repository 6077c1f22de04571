"""The aiokafka internals fenced in desktop_app/kafka_internals.py still exist, in the version they were read in.

No broker: a producer is built (never started) to find the attributes, as aiokafka sets them in __init__.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
from pathlib import Path

import aiokafka
from aiokafka import AIOKafkaProducer

from desktop_app import kafka_internals

PACKAGE = Path(kafka_internals.__file__).parent
INTERNAL_NAMES = ("_sender", "sender_task", "client", "force_metadata_update", "_client")


def test_the_installed_aiokafka_is_the_one_the_internals_were_checked_with() -> None:
    assert aiokafka.__version__ == kafka_internals.CHECKED_WITH_AIOKAFKA, (
        f"aiokafka is {aiokafka.__version__}, kafka_internals.py was checked with "
        f"{kafka_internals.CHECKED_WITH_AIOKAFKA}: re-read these in the new aiokafka, "
        "fix kafka_internals.py if they changed, then update CHECKED_WITH_AIOKAFKA:\n  - "
        + "\n  - ".join(kafka_internals.USED_INTERNALS)
    )


def test_create_conn_takes_the_arguments_passed_to_it() -> None:
    from aiokafka.conn import create_conn

    from desktop_app.kafka_errors import _CONNECTION_KEYS

    parameters = inspect.signature(create_conn).parameters
    assert list(parameters)[:2] == ["host", "port"]
    assert {"request_timeout_ms", *_CONNECTION_KEYS} <= set(parameters)
    assert inspect.iscoroutinefunction(create_conn)


def test_a_producer_still_has_the_client_and_sender_used() -> None:
    async def inspect_producer() -> None:
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", enable_idempotence=True)
        try:
            assert callable(producer.client.force_metadata_update)
            assert "sender_task" in dir(type(producer._sender))
            assert producer._sender.sender_task is None  # not started: nothing to abandon
            assert kafka_internals.abandon_unsent_batches(producer) is False
        finally:
            await producer.client.close()

    asyncio.run(inspect_producer())


def test_abandoning_cancels_a_running_sender_task() -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
        task = asyncio.ensure_future(asyncio.sleep(60))
        producer._sender._sender_task = task  # as Sender.start() sets it, without a broker
        try:
            assert kafka_internals.abandon_unsent_batches(producer) is True
            await asyncio.sleep(0)
            assert task.cancelled()
        finally:
            await producer.client.close()

    asyncio.run(run())


def test_nothing_else_reaches_into_aiokafka_internals() -> None:
    fenced = {"aiokafka.conn", "aiokafka.client", "aiokafka.producer.sender"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "kafka_internals.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in fenced:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {node.module}")
            elif isinstance(node, ast.Import):
                offenders += [f"{path.relative_to(PACKAGE)} imports {a.name}" for a in node.names if a.name in fenced]
            elif isinstance(node, ast.Attribute) and node.attr in INTERNAL_NAMES:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} uses .{node.attr}")
            elif isinstance(node, ast.Constant) and node.value in INTERNAL_NAMES:  # getattr(producer, "_sender")
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} names {node.value!r}")
    assert offenders == []


def test_a_refused_port_is_named_through_the_fenced_connection() -> None:
    import socket

    from desktop_app.kafka_errors import explain_unreachable

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reason = asyncio.run(explain_unreachable({"bootstrap_servers": f"127.0.0.1:{port}"}, timeout_s=2.0))
    assert reason == "connection refused (is Kafka running there?)"
