"""Topics on a real 3-node cluster: what ensure_topic reports is what the topic was created with.

Right after a creation, the broker that answers DescribeConfigs may not know the topic yet. The code once
read that as "all defaults" (min.insync.replicas=1, retention forever), about 2 times in 60 here.
"""

from __future__ import annotations

import asyncio

from support.order_stream import unique_topic

from desktop_app.broker.topics import FOREVER, ensure_topic

CREATIONS = 60


def test_a_new_topic_reports_the_configs_it_was_created_with(healthy_cluster) -> None:
    client_kwargs = {"bootstrap_servers": healthy_cluster.bootstrap_servers}

    async def create_many() -> list[tuple[int, int, int, int, int]]:
        described = []
        for _ in range(CREATIONS):
            info = await ensure_topic(client_kwargs, unique_topic("configs"), 3, 3, 2)
            described.append((info.partitions, info.replication_factor, info.min_insync_replicas,
                              info.retention_ms, info.retention_bytes))
        return described

    assert set(asyncio.run(create_many())) == {(3, 3, 2, FOREVER, FOREVER)}
