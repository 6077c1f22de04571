"""row_window.plan: the steps turn the rows shown into the re-read window, for any change of rows and order."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from desktop_app.query.bands import Band
from desktop_app.query.views import ItemRow
from desktop_app.ui.row_window import identity, plan

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def row(customer: str, orders: int, minutes: int) -> ItemRow:
    return ItemRow(customer, "Mug", 650, Band.AFFORDABLE, orders, orders, T0, T0 + timedelta(minutes=minutes))


def apply(shown: list[ItemRow], fresh: list[ItemRow], sort_key) -> list[ItemRow]:
    rows = list(shown)
    for step in plan(shown, fresh, sort_key):
        if step.kind == "remove":
            del rows[step.first:step.last + 1]
        elif step.kind == "insert":
            rows[step.first:step.first] = step.rows
        else:
            assert identity(rows[step.first]) == identity(step.rows[0])
            rows[step.first] = step.rows[0]
    return rows


@pytest.mark.parametrize("seed", range(200))
def test_the_steps_give_the_fresh_window(seed: int) -> None:
    rng = random.Random(seed)
    def by_recent(r: ItemRow):
        return (r.last_ordered, r.customer_id)
    every = {f"c{n:03d}": row(f"c{n:03d}", 1, rng.randrange(100)) for n in range(rng.randrange(1, 60))}
    shown = sorted(rng.sample(list(every.values()), rng.randrange(len(every) + 1)), key=by_recent, reverse=True)
    changed = dict(every)
    for customer in rng.sample(list(every), rng.randrange(len(every) + 1)):
        old = every[customer]
        minutes = rng.choice([old.last_ordered.minute, 100 + rng.randrange(50)])  # same place, or to the top
        changed[customer] = row(customer, old.orders + 1, minutes)
    fresh = sorted(changed.values(), key=by_recent, reverse=True)[: max(len(shown), 5)]
    assert apply(shown, fresh, by_recent) == fresh


def test_a_burst_touching_every_row_is_a_few_range_steps() -> None:
    shown = [row(f"c{n:03d}", 1, 500 - n) for n in range(500)]
    fresh = [row(f"n{n:03d}", 1, 1000 - n) for n in range(300)] + shown[:200]
    steps = plan(shown, fresh, lambda r: (r.last_ordered, r.customer_id))
    assert [step.kind for step in steps] == ["remove", "insert"]
