"""Wires Settings -> broker -> command service + query service. Used by the GUI and the CLI."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from aiokafka.errors import KafkaError

from desktop_app.broker import BrokerError, EmbeddedBroker, MissingPrerequisite, ensure_jars
from desktop_app import contracts
from desktop_app.broker.topics import TopicInfo, ensure_topic
from desktop_app.command.order_lookup import KnownOrder, LookupUnavailable, OrderLookup
from desktop_app.command.service import CommandService
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.service import QueryService
from desktop_app.query.view_health import ViewUnavailable
from desktop_app.settings import Settings

UNREACHABLE = (BrokerError, MissingPrerequisite, KafkaError, OSError, asyncio.TimeoutError)

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
    log.info("settings: %s", settings.describe())
    started = False
    if settings.embedded:
        broker = await asyncio.to_thread(embedded_broker, settings)
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


# -- the two sides -------------------------------------------------------------------------------------


class QueryOrderLookup:
    """The command side's OrderLookup port, answered by the query side's public API (`QueryService.order`):
    the command side learns of other desks' orders and cancellations without opening the read model."""

    def __init__(self, query: QueryService) -> None:
        self._query = query

    def known_order(self, order_id: uuid.UUID) -> KnownOrder | None:
        try:
            detail = self._query.order(order_id)
        except ViewUnavailable as exc:
            raise LookupUnavailable(str(exc)) from exc
        if detail is None:
            return None
        return KnownOrder(
            order_id=detail.order.order_id,
            customer_id=detail.order.customer_id,
            standing=detail.order.status == "placed",  # not cancelled, not replaced by an amendment
            replaced_by=detail.order.replaced_by,
            lines=tuple(contracts.OrderLine(item=line.item, unit_price_pence=line.unit_price_pence,
                                            quantity=line.quantity) for line in detail.lines),
        )


def command_service(settings: Settings, bootstrap_servers: str, *, stop_flush_s: float = 2.0,
                    order_lookup: OrderLookup | None = None) -> CommandService:
    """`stop_flush_s`: how long stopping may still try to publish what is pending. `order_lookup`: what is
    known of orders placed elsewhere (e.g. `QueryOrderLookup(query)`), for cancel and amend."""
    client_kwargs = settings.kafka_client_kwargs(bootstrap_servers)

    async def provision(topic: str) -> TopicInfo:  # for orders queued earlier for another topic
        return await ensure_topic(client_kwargs, topic, settings.partitions, settings.replication_factor,
                                  settings.min_insync_replicas)

    return CommandService(settings.command_db_path, client_kwargs, settings.topic, settings.client_id,
                          provision_topic=provision, stop_flush_s=stop_flush_s, order_lookup=order_lookup)


def query_service(settings: Settings, bootstrap_servers: str, *, rebuild_outdated: bool = True,
                  isolation: Literal["thread", "process"] = "thread", broker_starting: bool = False) -> QueryService:
    """`rebuild_outdated`: rebuild a view built by another projection version when this one projects.
    `isolation`: project in a thread (the CLI: it only waits meanwhile) or a child process (the window).
    `broker_starting`: our own broker is being started meanwhile: waiting for it is no failure."""
    grace = settings.broker_start_timeout_s if broker_starting else 0.0
    return QueryService(
        settings.readmodel_db_path, settings.kafka_client_kwargs(bootstrap_servers), settings.topic,
        options=ProjectorOptions(isolation=isolation, broker_start_grace_s=grace), rebuild_outdated=rebuild_outdated,
    )


@asynccontextmanager
async def open_command_service(settings: Settings, *, stop_flush_s: float = 2.0,
                               order_lookup: OrderLookup | None = None) -> AsyncIterator[CommandService]:
    """The outbox and its relay, without contacting the broker: accepting an order never waits for Kafka.
    The relay publishes as soon as the broker answers (see `connect_broker` for starting it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    service = command_service(settings, known_bootstrap_servers(settings), stop_flush_s=stop_flush_s,
                              order_lookup=order_lookup)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


class DeskRuntime:
    """Everything one desktop runs: the command service and relay, the projector, and the broker link.

    The services start at once, before the broker answers: orders queue in the outbox and the
    projector retries until Kafka is reachable. The embedded broker is started in the background and
    supervised: if its process dies, it is started again, unless `order-desk broker stop` stopped it.
    Its JVM, when started here, is reaped here as soon as it ends (see EmbeddedBroker._spawn).
    """

    SUPERVISE_EVERY_S = 5.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.bootstrap_servers = known_bootstrap_servers(settings)
        self.query = query_service(settings, self.bootstrap_servers, isolation=settings.projector_isolation,
                                   broker_starting=settings.embedded)
        self.command = command_service(settings, self.bootstrap_servers, order_lookup=QueryOrderLookup(self.query))
        self.connection: BrokerConnection | None = None
        self.broker_error: str | None = None
        self._started_broker = False
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def embedded(self) -> bool:
        return self.settings.embedded

    @property
    def retention_warning(self) -> str | None:
        return self.connection.topic.retention_warning() if self.connection else None

    async def start(self) -> None:
        await self.command.start()
        await asyncio.to_thread(self.query.start)
        self._supervisor = asyncio.create_task(self._supervise(), name="broker-supervisor")

    async def connect(self) -> None:
        try:
            self.connection = await connect_broker(self.settings)
        except UNREACHABLE as exc:
            self.broker_error = str(exc) or type(exc).__name__
            log.warning("Kafka is not reachable: %s", self.broker_error)
            return
        self.broker_error = None
        self._started_broker = self._started_broker or self.connection.started_here
        warning = self.connection.topic.retention_warning()
        if warning:
            log.warning(warning)

    async def _supervise(self) -> None:
        await self.connect()
        while True:
            await asyncio.sleep(self.SUPERVISE_EVERY_S)
            broker = embedded_broker(self.settings, fetch_jars=False) if self.embedded else None
            if broker is not None and not broker.is_running():
                if broker.stop_requested:  # `order-desk broker stop`: keep it stopped until started again
                    self._started_broker = False  # the broker started next is not this desk's to stop on quit
                    self.broker_error = ("the embedded Kafka broker was stopped (order-desk broker stop); "
                                         "orders wait in the outbox until `order-desk broker start`")
                    self.connection = None
                    continue
                log.warning("the embedded Kafka broker is not running; starting it again")
                await self.connect()
            elif self.connection is None:
                await self.connect()

    async def stop(self) -> None:
        """Stop the relay and the projector; stop the embedded broker too if this desktop started it."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass
        await asyncio.to_thread(self.query.close)
        await self.command.stop()
        if self.embedded and self._started_broker:
            await embedded_broker(self.settings, fetch_jars=False).stop()
