"""Wires Settings -> broker -> command service + query service. Used by the GUI and the CLI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from desktop_app.broker import EmbeddedBroker, ensure_jars
from desktop_app.broker.topics import TopicInfo, ensure_topic
from desktop_app.settings import Settings

log = logging.getLogger(__name__)


def embedded_broker(settings: Settings, *, fetch_jars: bool = True) -> EmbeddedBroker:
    from desktop_app.broker.jars import libs_dir

    libs = ensure_jars(settings.cache_dir) if fetch_jars else libs_dir(settings.cache_dir)
    return EmbeddedBroker(
        settings.kafka_dir,
        libs,
        settings.log_dir,
        heap=settings.broker_heap,
        start_timeout_s=settings.broker_start_timeout_s,
        partitions=settings.partitions,
    )


@dataclass(frozen=True)
class BrokerConnection:
    bootstrap_servers: str
    embedded: bool
    started_here: bool
    topic: TopicInfo


async def connect_broker(settings: Settings) -> BrokerConnection:
    """Start (or reuse) the embedded broker, or use the configured cluster; then ensure the topic."""
    started = False
    if settings.embedded:
        broker = embedded_broker(settings)
        started = await broker.start()
        servers = broker.bootstrap_servers
    else:
        servers = settings.bootstrap_servers
    topic = await ensure_topic(
        settings.kafka_client_kwargs(servers),
        settings.topic,
        settings.partitions,
        settings.replication_factor,
        settings.min_insync_replicas,
    )
    return BrokerConnection(servers, settings.embedded, started, topic)


def known_bootstrap_servers(settings: Settings) -> str:
    """The broker address without contacting it (used when the broker is down and orders must queue)."""
    if not settings.embedded:
        return settings.bootstrap_servers
    return embedded_broker(settings, fetch_jars=False).bootstrap_servers


@asynccontextmanager
async def open_broker(settings: Settings) -> AsyncIterator[str]:
    """Yield the bootstrap servers of a reachable broker with the topic in place.

    The embedded broker is a shared service of the data dir: it keeps running afterwards, for the GUI
    and later CLI calls, until `order-desk broker stop`.
    """
    connection = await connect_broker(settings)
    if connection.started_here:
        log.warning(
            "started the embedded Kafka broker on %s; it keeps running (stop it with 'order-desk broker stop')",
            connection.bootstrap_servers,
        )
    yield connection.bootstrap_servers
