"""Cluster fault: a 3-node KRaft cluster (RF=3, min.insync.replicas=2, idempotent producer) loses a
broker to SIGKILL while orders stream through the desk.

Promise tested: on a replicated cluster, a node crash loses no acknowledged order. Every order the
broker acknowledged is in the log at the (partition, offset) of its receipt, and in the view exactly once.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from desktop_app.bootstrap import DeskRuntime
from desktop_app.broker.topics import ensure_topic
from desktop_app.command.outbox import Receipt
from desktop_app.settings import Settings
from support.cluster import KafkaCluster, partition_leaders
from support.log_audit import audit, expected_view, read_log, view_totals
from support.order_stream import order_fields, place_order_command, unique_topic

RECOVERY_S = 240.0


@pytest.mark.parametrize(
    "count",
    [pytest.param(1000, id="short"), pytest.param(10_000, id="full", marks=[pytest.mark.slow, pytest.mark.timeout(1800)])],
)
def test_a_broker_crash_in_a_three_node_cluster_loses_no_acknowledged_order(
    healthy_cluster: KafkaCluster, tmp_path: Path, count: int, report
) -> None:
    cluster = healthy_cluster
    settings = Settings(
        data_dir=tmp_path / "desk", bootstrap_servers=cluster.bootstrap_servers, topic=unique_topic(),
        partitions=3, replication_factor=3, min_insync_replicas=2, client_id="cluster-desk",
    )
    rng = random.Random(f"cluster-{count}")
    commands = [place_order_command(order_fields(rng, f"cluster-{n}")) for n in range(count)]

    async def scenario() -> tuple[list[str], int, int, list]:
        topic = await ensure_topic(settings.kafka_client_kwargs(), settings.topic, 3, 3, 2)
        assert (topic.replication_factor, topic.min_insync_replicas) == (3, 2)
        leaders = await partition_leaders(settings.kafka_client_kwargs(), settings.topic)
        victim = leaders[0]
        runtime = DeskRuntime(settings)
        await runtime.start()
        try:
            for cmd in commands[: count // 3]:
                await runtime.command.place_order(cmd)
            deadline = time.monotonic() + RECOVERY_S
            while runtime.command.pending_count() > count // 3 - count // 6:  # the relay is streaming
                assert time.monotonic() < deadline, f"nothing acknowledged: {runtime.command.last_error}"
                await asyncio.sleep(0.01)
            published_before = count // 3 - runtime.command.pending_count()
            crash = asyncio.create_task(asyncio.to_thread(cluster.kill, victim))
            for cmd in commands[count // 3:]:  # orders keep streaming through the crash
                await runtime.command.place_order(cmd)
            await crash
            assert victim not in cluster.running_nodes()
            deadline = time.monotonic() + RECOVERY_S
            while runtime.command.pending_count():
                assert time.monotonic() < deadline, f"not all acknowledged: {runtime.command.last_error}"
                await asyncio.sleep(0.1)
            assert await asyncio.to_thread(runtime.query.catch_up, RECOVERY_S), "the view did not catch up"
            receipts = [runtime.command.receipt(cmd.command_id) for cmd in commands]
            return receipts, victim, published_before, runtime.query.items()
        finally:
            await runtime.stop()

    receipts, victim, published_before, rows = asyncio.run(scenario())

    acknowledged: list[Receipt] = [r for r in receipts if r is not None and r.status == "published"]
    assert len(acknowledged) == count, "with 2 of 3 replicas alive every order must be acknowledged"
    log = audit(asyncio.run(read_log(cluster.client_kwargs(), settings.topic)))
    assert not log.malformed
    at_receipt = [r for r in acknowledged if r.offset is not None]
    misplaced = [r.command_id for r in at_receipt if (r.partition, r.offset) not in log.positions[r.event_id]]
    assert not misplaced, f"acknowledged orders missing at their receipt's offset: {misplaced[:5]}"
    assert {c: ids for c, ids in log.event_ids_by_command.items()} == {r.command_id: {r.event_id} for r in acknowledged}
    assert view_totals(rows) == expected_view(log.events.values())
    report(f"{count} orders, node {victim} (leader of partition 0) SIGKILLed after {published_before} were "
           f"acknowledged; {len(acknowledged) - len(at_receipt)} receipts without offset; "
           f"{log.duplicate_records} duplicate records in the log (counted once)")
