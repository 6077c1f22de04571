"""Real Kafka nodes for fault tests: a 3-node KRaft cluster (and single nodes with extra settings).

Each node is an `EmbeddedBroker` (same jars, java command, pid file, readiness probe and clean/kill
stop) whose properties are the embedded template plus `overrides` appended at the end (in a Java
properties file the last value of a key wins), and whose storage is formatted with `format_args`.

    cluster = KafkaCluster(tmp_path / "cluster", libs_dir)
    cluster.start()                  # 3 combined broker+controller JVMs, -Xmx256m each
    cluster.bootstrap_servers        # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
    cluster.kill(2)                  # SIGKILL node 2 (a crash)
    cluster.start_node(2)            # bring it back (same ports, same data)
    cluster.close()                  # kill every node (test teardown)
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from desktop_app.broker.embedded import BrokerIdentity, EmbeddedBroker, free_port

log = logging.getLogger(__name__)

NODE_HEAP = "256m"
START_TIMEOUT_S = 180.0  # three JVMs starting at once on two busy cores


def kafka_uuid() -> str:
    """A Kafka Uuid in its text form (cluster ids, directory ids). Like Kafka's Uuid.randomUuid(), never
    one starting with "-": command-line parsers would take it for an option."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def render_properties(settings: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in settings.items())


class KafkaNode(EmbeddedBroker):
    """One KRaft node from the embedded broker's jars, with its own ports, settings and format arguments.

    `probe_kwargs`: security arguments of the readiness probe, for a node without a PLAINTEXT listener.
    """

    def __init__(
        self,
        root: Path,
        libs_dir: Path,
        identity: BrokerIdentity,
        *,
        overrides: Mapping[str, str],
        format_args: Sequence[str],
        heap: str = NODE_HEAP,
        partitions: int = 3,
        probe_kwargs: Mapping[str, Any] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        super().__init__(root / "kafka", libs_dir, root / "logs", heap=heap, start_timeout_s=start_timeout_s,
                         partitions=partitions, identity=identity, extra_properties=overrides,
                         format_args=format_args, probe_kwargs=probe_kwargs)

    def kill(self) -> None:
        super().kill()
        self.pid_file.unlink(missing_ok=True)


class KafkaCluster:
    """`size` combined broker+controller nodes forming one KRaft quorum on loopback.

    Internal topics are replicated to every node, and topics default to replication factor `size`
    with min.insync.replicas = size - 1: one node may fail without refusing acks=all writes.
    """

    def __init__(self, root: Path, libs_dir: Path, *, size: int = 3, heap: str = NODE_HEAP, partitions: int = 3) -> None:
        self.root = root
        self.size = size
        cluster_id = kafka_uuid()
        ports = distinct_free_ports(2 * size)
        node_ids = list(range(1, size + 1))
        identities = {
            node_id: BrokerIdentity(port=ports[2 * i], controller_port=ports[2 * i + 1], cluster_id=cluster_id)
            for i, node_id in enumerate(node_ids)
        }
        quorum = ",".join(f"127.0.0.1:{ident.controller_port}" for ident in identities.values())
        initial_controllers = ",".join(
            f"{node_id}@127.0.0.1:{ident.controller_port}:{kafka_uuid()}" for node_id, ident in identities.items()
        )
        min_isr = str(max(1, size - 1))
        self.nodes: dict[int, KafkaNode] = {}
        for node_id, ident in identities.items():
            overrides = {
                "node.id": str(node_id),
                "controller.quorum.bootstrap.servers": quorum,
                "default.replication.factor": str(size),
                "min.insync.replicas": min_isr,
                "offsets.topic.replication.factor": str(size),
                "transaction.state.log.replication.factor": str(size),
                "transaction.state.log.min.isr": min_isr,
                "share.coordinator.state.topic.replication.factor": str(size),
                "share.coordinator.state.topic.min.isr": min_isr,
                "unclean.leader.election.enable": "false",
            }
            self.nodes[node_id] = KafkaNode(
                root / f"node{node_id}", libs_dir, ident,
                overrides=overrides, format_args=["--initial-controllers", initial_controllers],
                heap=heap, partitions=partitions,
            )

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes.values())

    def client_kwargs(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap_servers, "client_id": "cluster-test"}

    def start(self) -> None:
        """Start every node at once (a node is ready only when the quorum has a majority)."""
        async def start_all() -> None:
            await asyncio.gather(*(node.start() for node in self.nodes.values()))

        try:
            asyncio.run(start_all())
        except BaseException:
            self.close()
            raise

    def start_node(self, node_id: int) -> None:
        asyncio.run(self.nodes[node_id].start())

    def kill(self, node_id: int) -> None:
        """SIGKILL one node, as in a crash."""
        self.nodes[node_id].kill()

    def running_nodes(self) -> list[int]:
        return [node_id for node_id, node in self.nodes.items() if node.is_running()]

    def close(self) -> None:
        """Kill every node: a test cluster's data is thrown away, so there is nothing to shut down cleanly."""
        for node in self.nodes.values():
            try:
                node.kill()
            except Exception:  # noqa: BLE001 - teardown goes on to the next node
                log.exception("could not kill %s", node.kafka_dir)

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def partition_leaders(client_kwargs: Mapping[str, Any], topic: str) -> dict[int, int]:
    """Partition -> id of the node leading it now."""
    admin = AIOKafkaAdminClient(**client_kwargs, request_timeout_ms=15_000)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return {p["partition"]: p["leader"] for p in described["partitions"]}
    finally:
        await admin.close()
