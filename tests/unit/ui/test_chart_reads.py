"""What the Chart tab reads and writes, without a window: which day's hours it shows, its captions, and the
CSV rows (pounds from integer pence). On a real read model built by the Projector; no broker."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from desktop_app import contracts
from desktop_app.query.bands import Band
from desktop_app.query.day_values import DayValues, Unit
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel
from desktop_app.ui.chart_tab import describe, read_values
from desktop_app.ui.day_chart import csv_rows

NOW = datetime.now(timezone.utc)


def placed(customer: str, pence: int, quantity: int, at: datetime) -> contracts.EventEnvelope:
    return contracts.new_order_placed(
        customer_id=customer, command_id=f"unit-{customer}-{at.timestamp()}", source="unit-test", occurred_at=at,
        lines=[contracts.OrderLine(item="Thing", unit_price_pence=pence, quantity=quantity)])


@pytest.fixture
def view(tmp_path):
    def build(*events: contracts.EventEnvelope) -> ReadModel:
        engine = open_engine(tmp_path / "readmodel.db", writer=True)
        ensure_schema(engine)
        wires = [contracts.encode(e) for e in events]
        Projector(engine, "t").apply([Record("t", 0, n, w.value, w.key, w.headers) for n, w in enumerate(wires)])
        engine.dispose()
        return ReadModel(tmp_path / "readmodel.db")

    return build


def test_hours_are_todays_when_today_has_orders(view) -> None:
    model = view(placed("ann", 350, 2, NOW), placed("bob", 6000, 1, NOW - timedelta(days=3)))
    hours = read_values(model, Unit.HOUR, None)
    assert hours.day == NOW.astimezone().date() and len(hours.buckets) == 24
    assert hours.total() == 700
    model.close()


def test_hours_are_the_last_days_with_orders_when_the_views_day_has_none(view) -> None:
    earlier = NOW - timedelta(days=3)
    model = view(placed("bob", 6000, 1, earlier - timedelta(days=1)), placed("ann", 350, 2, earlier))
    hours = read_values(model, Unit.HOUR, None)
    assert hours.day == earlier.astimezone().date() and hours.total() == 700
    moment = earlier + timedelta(days=1)
    assert read_values(model, Unit.HOUR, moment).day == earlier.astimezone().date()
    assert describe(Unit.HOUR, hours, moment) == (f"As of {moment.astimezone():%a %d %b %Y %H:%M}: £ ordered per "
                                                  f"hour of {hours.day:%a %d %b %Y}")
    days = read_values(model, Unit.DAY, None)
    assert len(days.buckets) == 2 and days.total() == 6700
    assert describe(Unit.DAY, days, None) == "Live: £ ordered per day"
    model.close()


def test_an_empty_view_gives_24_empty_hours_of_today(view) -> None:
    model = view()
    hours = read_values(model, Unit.HOUR, None)
    assert (hours.day, len(hours.buckets), hours.total()) == (NOW.astimezone().date(), 24, 0)
    assert read_values(model, Unit.DAY, None).buckets == ()
    model.close()


def test_csv_rows_are_pounds_with_two_decimals_from_integer_pence() -> None:
    day = date(2026, 11, 27)
    values = DayValues(Unit.HOUR, (datetime(2026, 11, 27, 9), datetime(2026, 11, 27, 10)),
                       {Band.CHEAP: (1, 499), Band.AFFORDABLE: (0, 123_456_789), Band.EXPENSIVE: (5001, 0)}, day)
    assert csv_rows(values) == [
        ["Hour", "Cheap (£)", "Affordable (£)", "Expensive (£)", "Total (£)"],
        ["2026-11-27 09:00", "0.01", "0.00", "50.01", "50.02"],
        ["2026-11-27 10:00", "4.99", "1234567.89", "0.00", "1234572.88"],
    ]
