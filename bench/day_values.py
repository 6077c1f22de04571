"""How long the chart's reads take: `python -m bench.day_values [--orders N]` (no broker needed).

Projects N orders (1-3 lines, prices across the bands, over 30 days, 10% cancelled) into a temp read model
with the real Projector, then times `day_values()` and `hour_values(last day)` against a same-run baseline:
`value_totals()`, the band tabs' own £ sums over ordered_items, and the
same sums done inside SQLite (json_each). Prints a small table; judges nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from desktop_app import contracts
from desktop_app.query.bands import Band, price_band
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel

TOPIC = "bench-day-values"
BATCH = 5_000


def _orders(count: int, rng: random.Random) -> list[contracts.EventEnvelope]:
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    return [contracts.new_order_placed(
        customer_id=f"c{rng.randrange(5_000)}", command_id=f"bench-{n}",
        lines=[contracts.OrderLine(item=f"item-{rng.randrange(300)}", unit_price_pence=rng.randrange(1, 20_000),
                                   quantity=rng.randint(1, 5)) for _ in range(rng.randint(1, 3))],
        source="bench", occurred_at=start + timedelta(seconds=rng.randrange(30 * 86_400)))
        for n in range(count)]


def build(path: Path, count: int) -> None:
    rng = random.Random(7)
    engine = open_engine(path, writer=True)
    ensure_schema(engine)
    projector = Projector(engine, TOPIC)
    events: list = _orders(count, rng)
    events += [contracts.new_order_cancelled(order_id=e.payload.order_id, customer_id=e.payload.customer_id,
                                             command_id=f"cancel-{n}", reason="", source="bench",
                                             occurred_at=e.occurred_at + timedelta(hours=1))
               for n, e in enumerate(rng.sample(events, count // 10))]
    for start in range(0, len(events), BATCH):  # one partition: every cancellation comes after its order
        projector.apply([Record(TOPIC, 0, start + i, contracts.encode(e).value,
                                headers=list(contracts.encode(e).headers))
                         for i, e in enumerate(events[start:start + BATCH])])
    engine.dispose()


# The other way measured: SQLite sums per (local day, unit price) over json_each of the lines, then each
# unit price is banded in Python (the band must come from bands.price_band). Kept to compare, not used.
_IN_SQL = """
WITH placed AS MATERIALIZED (SELECT strftime('%Y-%m-%d', placed_at, 'localtime') AS day, lines FROM orders
                             WHERE status = 'placed')
SELECT placed.day, line.value ->> 1, SUM((line.value ->> 1) * (line.value ->> 2))
FROM placed, json_each(placed.lines) AS line GROUP BY placed.day, line.value ->> 1
"""


def summed_in_sql(model: ReadModel) -> dict[tuple[str, Band], int]:
    sums: dict[tuple[str, Band], int] = {}
    with model.engine.connect() as connection:
        for day, price, pence in connection.exec_driver_sql(_IN_SQL):
            key = (day, price_band(price))
            sums[key] = sums.get(key, 0) + pence
    return sums


def timed(work, repeats: int) -> float:
    work()  # warm the page cache
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.day_values", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "readmodel.db"
        began = time.perf_counter()
        build(path, args.orders)
        print(f"built {args.orders:,} orders in {time.perf_counter() - began:.1f} s")
        model = ReadModel(path)
        last_day = model.last_order_day()
        assert last_day is not None
        rows = [("value_totals() (baseline: the tabs' £ sums)", timed(model.value_totals, args.repeats)),
                ("day_values()", timed(model.day_values, args.repeats)),
                ("the same summed in SQL (json_each), banded after", timed(lambda: summed_in_sql(model), args.repeats)),
                (f"hour_values({last_day})", timed(lambda: model.hour_values(last_day), args.repeats)),
                ("last_order_day()", timed(model.last_order_day, args.repeats))]
        totals = model.day_values()
        assert sum(model.value_totals().values()) == totals.total()  # the chart's sum is the tabs' sum
        assert sum(summed_in_sql(model).values()) == totals.total()
        model.close()
    print("| read | median ms |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.0f} |")


if __name__ == "__main__":
    main()
