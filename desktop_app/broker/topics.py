"""Metadata probes and provisioning of the events topic, on any Kafka cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

FOREVER = -1
START_GRACE_S = 1.0  # how long a cancelled admin start may still finish, so that nothing leaks


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    replication_factor: int
    retention_ms: int
    retention_bytes: int
    min_insync_replicas: int

    @property
    def kept_forever(self) -> bool:
        return self.retention_ms == FOREVER and self.retention_bytes == FOREVER

    def retention_warning(self) -> str | None:
        if self.kept_forever:
            return None
        return (
            f"WARNING: topic {self.name!r} has a finite retention (retention.ms={self.retention_ms}, "
            f"retention.bytes={self.retention_bytes}). The event log is the source of truth: events "
            "will be deleted by the broker. Set both to -1."
        )


@contextlib.asynccontextmanager
async def _admin(client_kwargs: dict[str, Any], timeout_ms: int) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed on the way out, however the caller leaves (cancelled included)."""
    admin = AIOKafkaAdminClient(**client_kwargs, request_timeout_ms=timeout_ms)
    starting = asyncio.ensure_future(admin.start())
    try:
        await asyncio.shield(starting)
        yield admin
    finally:
        try:
            if not starting.done():
                # cancelled mid-start: aiokafka 0.14 then leaks its bootstrap connection, so let start() end
                # (a live broker answers in milliseconds) and close() below closes every connection it opened
                await asyncio.wait({starting}, timeout=START_GRACE_S)
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
        finally:
            await admin.close()


async def probe_metadata(client_kwargs: dict[str, Any], timeout_ms: int = 3000) -> int:
    """One real metadata round trip. Returns the number of brokers; raises if the cluster is unreachable."""
    async with _admin(client_kwargs, timeout_ms) as admin:
        cluster = await admin.describe_cluster()
        return len(cluster.get("brokers", ()))


async def describe_topic(client_kwargs: dict[str, Any], topic: str) -> TopicInfo | None:
    async with _admin(client_kwargs, 10_000) as admin:
        return await _describe(admin, topic)


async def ensure_topic(
    client_kwargs: dict[str, Any],
    topic: str,
    partitions: int,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
) -> TopicInfo:
    """Create the events topic if missing (kept forever); warn loudly if it exists with finite retention."""
    async with _admin(client_kwargs, 15_000) as admin:
        info = await _describe(admin, topic)
        if info is None:
            new_topic = NewTopic(
                topic,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs={
                    "retention.ms": str(FOREVER),
                    "retention.bytes": str(FOREVER),
                    "min.insync.replicas": str(min_insync_replicas),
                },
            )
            try:
                response = await admin.create_topics([new_topic])
                _raise_on_topic_errors(response)
                log.info("created topic %s (%d partitions, rf=%d)", topic, partitions, replication_factor)
            except TopicAlreadyExistsError:
                pass
            info = await _wait_for_topic(admin, topic)
        warning = info.retention_warning()
        if warning:
            log.warning(warning)
        return info


def _raise_on_topic_errors(response: Any) -> None:
    for topic_error in getattr(response, "topic_errors", ()):
        code = topic_error[1]
        if code == TopicAlreadyExistsError.errno:
            continue
        if code:
            message = topic_error[2] if len(topic_error) > 2 else ""
            raise RuntimeError(f"could not create topic {topic_error[0]!r}: error {code} {message}")


async def _wait_for_topic(admin: AIOKafkaAdminClient, topic: str, attempts: int = 50) -> TopicInfo:
    import asyncio

    for _ in range(attempts):
        info = await _describe(admin, topic)
        if info is not None and info.partitions > 0:
            return info
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic!r} was created but its metadata never appeared")


async def _describe(admin: AIOKafkaAdminClient, topic: str) -> TopicInfo | None:
    described = await admin.describe_topics([topic])
    entry = next((t for t in described if t["topic"] == topic), None)
    if entry is None or entry.get("error_code", 0) != 0 or not entry.get("partitions"):
        return None
    replicas = len(entry["partitions"][0].get("replicas", ())) or 1
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    configs: dict[str, str] = {}
    for response in responses:
        for error_code, _message, _type, _name, entries in response.resources:
            if error_code:  # the broker that answered has not seen the topic yet (another one did)
                return None
            for entry_config in entries:
                configs[entry_config[0]] = entry_config[1]
    if not {"retention.ms", "retention.bytes", "min.insync.replicas"} <= configs.keys():
        return None  # a broker lists every config of a topic it knows, defaults included
    return TopicInfo(
        name=topic,
        partitions=len(entry["partitions"]),
        replication_factor=replicas,
        retention_ms=int(configs["retention.ms"]),
        retention_bytes=int(configs["retention.bytes"]),
        min_insync_replicas=int(configs["min.insync.replicas"]),
    )
