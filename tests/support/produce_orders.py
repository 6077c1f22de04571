"""Another client writing OrderPlaced events, as a separate process: `python produce_orders.py SERVERS TOPIC N`.

Used by tests that need a burst from outside the process under test.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer

from desktop_app import contracts


def burst_event(i: int) -> contracts.EventEnvelope:
    return contracts.new_order_placed(
        customer_id=f"cust-{i % 500}",
        command_id=f"burst-{i}",
        lines=[contracts.OrderLine(item=f"item-{i % 900}", unit_price_pence=50 + (i * 37) % 9000,
                                   quantity=1 + i % 3)],
        source="other-desk",
        occurred_at=datetime.now(timezone.utc),
    )


async def produce(servers: str, topic: str, count: int) -> None:
    records = [contracts.encode(burst_event(i)) for i in range(count)]
    producer = AIOKafkaProducer(bootstrap_servers=servers, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, r.value, key=r.key, headers=list(r.headers)) for r in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(produce(sys.argv[1], sys.argv[2], int(sys.argv[3])))
