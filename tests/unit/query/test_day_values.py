"""Ordered value per band per local day and per hour (day_values): placed orders only, amendments counted once,
each line in the band of bands.price_band, and every band's buckets adding up to its line value. No broker."""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from query_unit_helpers import order

from desktop_app.query.bands import Band
from desktop_app.query.day_values import Unit
from support.order_stream import amendment_events, cancel_event

CHEAP, AFFORDABLE, EXPENSIVE = Band


@pytest.fixture
def local_zone(monkeypatch):
    """Set the desk's local zone (a POSIX TZ text, needing no zone files) for SQLite's and Python's localtime."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def utc(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, tzinfo=timezone.utc)


def by_bucket(values) -> dict[datetime, dict[Band, int]]:
    return {bucket: {band: values.pence[band][i] for band in Band if values.pence[band][i]}
            for i, bucket in enumerate(values.buckets)}


def band_values(read_model) -> dict[Band, int]:
    """What the band tabs' rows are worth, per band, summed from value_totals (customer, band)."""
    totals = dict.fromkeys(Band, 0)
    for (_customer, band), pence in read_model.value_totals().items():
        totals[band] += pence
    return totals


def test_placed_orders_count_cancelled_ones_do_not_and_an_amendment_counts_once_on_its_day(
        projector, read_model, records, local_zone) -> None:
    local_zone("UTC0")
    kept = order("ann", ("Tea", 499, 2), ("Mug", 500, 1), at=utc(1, 9))
    cancelled = order("bob", ("Lamp", 5001, 1), at=utc(1, 10))
    amended = order("cy", ("Rug", 9000, 1), at=utc(1, 11))
    cancel, replacement = amendment_events(amended, ("Rug", 5000, 2), ("Pen", 120, 3), at=utc(3, 8))
    projector.apply([records.event(kept), records.event(cancelled), records.event(amended)])
    projector.apply([records.event(cancel_event(cancelled, at=utc(2))), records.event(cancel),
                     records.event(replacement)])

    values = read_model.day_values()

    assert values.unit is Unit.DAY
    assert by_bucket(values) == {
        datetime(2025, 1, 1): {CHEAP: 998, AFFORDABLE: 500},  # bob's lamp cancelled, cy's rug replaced
        datetime(2025, 1, 3): {CHEAP: 360, AFFORDABLE: 10000},  # the amendment's lines, on its day
    }
    assert {band: values.total(band) for band in Band} == band_values(read_model)
    assert {band: values.total(band) for band in Band} == {band: read_model.value_of_items(band) for band in Band}
    assert values.total() == 11858


def test_days_are_the_desks_local_days(projector, read_model, records, local_zone) -> None:
    late_in_london = order("ann", ("Tea", 350, 1), at=utc(1, 20))  # 2 Jan 06:00 at UTC+10
    early = order("bob", ("Lamp", 6000, 1), at=utc(2, 13, 59))  # 2 Jan 23:59 at UTC+10
    next_day = order("cy", ("Pen", 120, 1), at=utc(2, 14))  # 3 Jan 00:00 at UTC+10
    projector.apply([records.event(e) for e in (late_in_london, early, next_day)])

    local_zone("UTC0")
    assert by_bucket(read_model.day_values()) == {datetime(2025, 1, 1): {CHEAP: 350},
                                                  datetime(2025, 1, 2): {EXPENSIVE: 6000, CHEAP: 120}}
    local_zone("AEST-10")
    assert by_bucket(read_model.day_values()) == {datetime(2025, 1, 2): {CHEAP: 350, EXPENSIVE: 6000},
                                                  datetime(2025, 1, 3): {CHEAP: 120}}
    assert by_bucket(read_model.hour_values(date(2025, 1, 2))) == {
        datetime(2025, 1, 2, 6): {CHEAP: 350}, datetime(2025, 1, 2, 23): {EXPENSIVE: 6000}}
    assert read_model.last_order_day() == date(2025, 1, 3)
    local_zone("EST+5")
    assert by_bucket(read_model.hour_values(date(2025, 1, 2))) == {
        datetime(2025, 1, 2, 8, 0): {EXPENSIVE: 6000}, datetime(2025, 1, 2, 9): {CHEAP: 120}}


def test_hours_of_one_day_leave_the_other_days_out_and_fill_to_24_hours(projector, read_model, records,
                                                                        local_zone) -> None:
    local_zone("UTC0")
    events = [order("ann", ("Tea", 350, 2), at=utc(5, 0, 0)), order("ann", ("Tea", 350, 1), at=utc(5, 0, 59)),
              order("bob", ("Kettle", 2499, 1), at=utc(5, 17, 30)), order("cy", ("Lamp", 6000, 1), at=utc(4, 23, 59)),
              order("dee", ("Rug", 9000, 1), at=utc(6, 0, 0))]
    projector.apply([records.event(e) for e in events])

    hours = read_model.hour_values(date(2025, 1, 5))

    assert (hours.unit, hours.day) == (Unit.HOUR, date(2025, 1, 5))
    assert by_bucket(hours) == {datetime(2025, 1, 5, 0): {CHEAP: 1050}, datetime(2025, 1, 5, 17): {AFFORDABLE: 2499}}
    filled = hours.filled()
    assert filled.buckets == tuple(datetime(2025, 1, 5, hour) for hour in range(24))
    assert [filled.bucket_total(i) for i in range(24)] == [1050] + [0] * 16 + [2499] + [0] * 6
    assert hours.total() == read_model.day_values().pence[CHEAP][1] + read_model.day_values().pence[AFFORDABLE][1]
    assert read_model.hour_values(date(2025, 1, 9)).buckets == ()


def test_filled_days_run_from_the_first_to_the_last_with_empty_days_at_zero(projector, read_model, records,
                                                                            local_zone) -> None:
    local_zone("UTC0")
    projector.apply([records.event(order("ann", ("Tea", 350, 1), at=utc(1))),
                     records.event(order("bob", ("Lamp", 6000, 1), at=utc(4)))])

    filled = read_model.day_values().filled()

    assert filled.buckets == tuple(datetime(2025, 1, day) for day in (1, 2, 3, 4))
    assert filled.pence == {CHEAP: (350, 0, 0, 0), AFFORDABLE: (0, 0, 0, 0), EXPENSIVE: (0, 0, 0, 6000)}


def test_an_empty_view_has_no_days(read_model) -> None:
    values = read_model.day_values()
    assert (values.buckets, values.total(), values.filled().buckets) == ((), 0, ())
    assert read_model.last_order_day() is None
    assert read_model.hour_values(date(2025, 1, 1)).filled().buckets[0] == datetime(2025, 1, 1, 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_bands_days_and_hours_add_up_to_its_line_value(projector, read_model, records, local_zone,
                                                             seed) -> None:
    """Random orders at the band edges over several days, some cancelled or amended: to the penny."""
    local_zone("CET-1CEST,M3.5.0,M10.5.0/3")  # a zone with summer time: the autumn's repeated hour included
    rng = random.Random(seed)
    prices = [1, 499, 500, 501, 4999, 5000, 5001, 99_999]
    start = datetime(2025, 10, 24, tzinfo=timezone.utc)
    placed = []
    for number in range(300):
        lines = [(f"item-{rng.randrange(5)}", rng.choice(prices), rng.randint(1, 9)) for _ in range(rng.randint(1, 3))]
        at = start + timedelta(minutes=rng.randrange(6 * 24 * 60))
        placed.append(order(f"c{number % 17}", *lines, at=at))
    def partition(event) -> int:  # a customer's events share a partition, as the key makes them
        return int(event.payload.customer_id[1:]) % 3

    projector.apply([records.event(e, partition(e)) for e in placed])
    changes = []
    for event in rng.sample(placed, 60):
        later = event.occurred_at + timedelta(hours=rng.randint(1, 30))
        if rng.random() < 0.5:
            changes.append(cancel_event(event, at=later))
        else:
            changes.extend(amendment_events(event, ("amended", rng.choice(prices), 2), at=later))
    projector.apply([records.event(e, partition(e)) for e in changes])

    days = read_model.day_values()

    assert {band: days.total(band) for band in Band} == band_values(read_model)
    assert {band: days.total(band) for band in Band} == {band: read_model.value_of_items(band) for band in Band}
    assert all(days.total(band) > 0 for band in Band)
    for index, bucket in enumerate(days.buckets):
        hours = read_model.hour_values(bucket.date())
        assert {band: hours.total(band) for band in Band} == {band: days.pence[band][index] for band in Band}
