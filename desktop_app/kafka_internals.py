"""The aiokafka internals this code relies on, fenced in one place.

aiokafka's public API offers none of these; each was read in the aiokafka version below, and
tests/unit/test_kafka_internals.py fails, naming what to re-check here, when the installed version changes
or an attribute is gone. Nothing else in desktop_app may reach into aiokafka's private parts.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.conn import create_conn

CHECKED_WITH_AIOKAFKA = "0.14.0"

# what each function below uses, for the version test to find in a new aiokafka
USED_INTERNALS = (
    "aiokafka.conn.create_conn(host, port, *, client_id, request_timeout_ms, ssl_context, security_protocol, "
    "sasl_mechanism, sasl_plain_username, sasl_plain_password): one connection, with its handshake",
    "AIOKafkaProducer.client.force_metadata_update(): a metadata round trip, True if the broker answered",
    "AIOKafkaProducer._sender.sender_task: the task that sends batches and retries them",
)


async def open_connection(host: str, port: int, *, request_timeout_ms: int, **options: Any) -> Any:
    """One broker connection with its TLS and SASL handshake, so a failure shows its own cause (aiokafka's
    clients report every failed bootstrap alike). The caller closes it (`.close()`)."""
    return await create_conn(host, port, request_timeout_ms=request_timeout_ms, **options)


def refresh_metadata(producer: AIOKafkaProducer) -> Awaitable[bool]:
    """Ask the broker for metadata now; resolves to True if it answered."""
    return producer.client.force_metadata_update()


def abandon_unsent_batches(producer: AIOKafkaProducer) -> bool:
    """End the producer's sender task, so a stop() waiting on batches an unreachable broker will never
    acknowledge can close the connections; True if there was one to end."""
    sender = getattr(producer, "_sender", None)
    sender_task = getattr(sender, "sender_task", None)
    if sender_task is None:
        return False
    sender_task.cancel()
    return True
