"""Another client producing events, as a separate process (so it does not share our GIL).

    python -m bench.produce SERVERS TOPIC COUNT [--seed N] [--skew 1.1|none] [--start N] [--rate EVENTS_PER_S]
                            [--kind orders|rows] [--cancel-share 0.05]

--cancel-share makes about that share of the COUNT events OrderCancelled of earlier orders of this run
(see bench.events); the rest are OrderPlaced.

--rate 0 (the default) sends as fast as it can, generating while it sends. A positive rate first encodes
every record and connects, prints {"ready": true} (then, with --wait-for-go, waits for a line on stdin),
then paces the sends in 5 ms steps. Prints a last JSON
line: produced, seconds, rate, and the monotonic clock (comparable across processes on one machine) at
the first and last send and at the last acknowledgement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable

from bench.events import HEADERS, OrderGenerator, Record, distinct_rows_orders, encode_order
from bench.kafka_io import SEND_WINDOW, fast_producer
from desktop_app.settings import Settings

PACE_STEP_S = 0.005


async def paced_send(servers: str, topic: str, records: list[Record], rate: float,
                     wait_for_go: bool = False) -> dict[str, float]:
    producer = fast_producer(Settings().kafka_client_kwargs(servers))
    await producer.start()
    try:
        await producer.partitions_for(topic)
        print(json.dumps({"ready": True}), flush=True)  # generated and connected
        if wait_for_go:
            await asyncio.to_thread(sys.stdin.readline)
        futures = []
        started = time.monotonic()
        sent = 0
        while sent < len(records):
            due = min(len(records), int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                key, value, headers = records[sent]
                futures.append(await producer.send(topic, value, key=key, headers=headers))
                sent += 1
            if sent < len(records):
                await asyncio.sleep(PACE_STEP_S)
        last_send = time.monotonic()
        await asyncio.gather(*futures)
        acked = time.monotonic()
    finally:
        await producer.stop()
    return {"first_send": started, "last_send": last_send, "acked": acked}


async def bulk_send(servers: str, topic: str, records: Iterable[Record]) -> dict[str, float]:
    producer = fast_producer(Settings().kafka_client_kwargs(servers))
    await producer.start()
    try:
        started = time.monotonic()
        pending: list[asyncio.Future[object]] = []
        for key, value, headers in records:
            pending.append(await producer.send(topic, value, key=key, headers=headers))
            if len(pending) >= SEND_WINDOW:
                await asyncio.gather(*pending)
                pending = []
        last_send = time.monotonic()
        await asyncio.gather(*pending)
        acked = time.monotonic()
    finally:
        await producer.stop()
    return {"first_send": started, "last_send": last_send, "acked": acked}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.produce")
    parser.add_argument("servers")
    parser.add_argument("topic")
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skew", default="1.1", help="Zipf exponent of item popularity, or 'none' for uniform")
    parser.add_argument("--start", type=int, default=0, help="index of the first order of the seeded stream")
    parser.add_argument("--rate", type=float, default=0.0, help="events per second; 0: as fast as possible")
    parser.add_argument("--wait-for-go", action="store_true",
                        help="paced: after the ready line, wait for a line on stdin before sending")
    parser.add_argument("--kind", choices=("orders", "rows"), default="orders",
                        help="rows: orders that make COUNT distinct view rows (4 lines an order)")
    parser.add_argument("--cancel-share", type=float, default=0.0,
                        help="orders: about this share of the events cancel an earlier order (default 0)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.cancel_share < 1.0:
        parser.error("--cancel-share must be at least 0 and below 1")
    skew = None if args.skew.lower() == "none" else float(args.skew)

    if args.kind == "rows":
        records: Iterable[Record] = [(*encode_order(o), HEADERS) for o in distinct_rows_orders(args.count, args.seed)]
    else:
        stream = OrderGenerator(args.seed, skew=skew).event_records(args.count, args.start, args.cancel_share)
        records = list(stream) if args.rate > 0 else stream
    if args.rate > 0:
        assert isinstance(records, list)
        times = asyncio.run(paced_send(args.servers, args.topic, records, args.rate, args.wait_for_go))
        produced = len(records)
    else:
        counted = _Counted(records)
        times = asyncio.run(bulk_send(args.servers, args.topic, counted))
        produced = counted.count
    seconds = times["acked"] - times["first_send"]
    sending = max(times["last_send"] - times["first_send"], 1e-9)
    print(json.dumps({"produced": produced, "seconds": seconds, "rate": produced / seconds if seconds else 0.0,
                      "send_rate": produced / sending, **times}), flush=True)
    return 0


class _Counted:
    def __init__(self, records: Iterable[Record]) -> None:
        self.records = records
        self.count = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for record in self.records:
            self.count += 1
            yield record


if __name__ == "__main__":
    raise SystemExit(main())
