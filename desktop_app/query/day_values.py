"""Ordered value per price band per local day (or per hour of one day): what the chart of the day draws.

Read from the `orders` table: the placed orders (status 'placed', what the band tabs count) with their lines
as placed. SQLite picks the placed orders and gives each its local bucket; each line's quantity x unit price
is added to the band `bands.price_band` gives its unit price (the one rule), in Python, while the rows
stream. So the sum over every bucket of a band is the band's line value in `ordered_items`
(`value_of_items`, `value_totals`), to the penny. Summing per band inside SQL (json_each over the lines,
the band from price_band registered as an SQL function, or summed per unit price and banded afterwards)
measured 1.3-2x slower on 100k orders (bench/day_values.py): one Python call per line from SQLite costs more
than decoding the lines with msgspec, and the band must not be written a second time as SQL.

Buckets are local days (hours) of the desk: SQLite's `'localtime'` modifier, which asks the C library, as
Python's `datetime.astimezone()` does (the TZ environment variable, else the system's zone). An order counts
when it was placed; an amended order counts once, at its amendment (the order that replaced it is the
placed one). In the autumn's repeated hour, two hours of orders share one local hour.
Mixed into ReadModel (views.py), which provides `_read`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

import msgspec
from sqlalchemy import DateTime, bindparam, text
from sqlmodel import Session

from desktop_app.query.bands import Band, price_band
from desktop_app.query.event_facts import Line
from desktop_app.query.schema import PLACED


class Unit(str, Enum):
    DAY = "day"
    HOUR = "hour"

    def __str__(self) -> str:
        return self.value


_BUCKET_FORMATS = {Unit.DAY: "%Y-%m-%d", Unit.HOUR: "%Y-%m-%d %H"}
# A local day lies within these bounds in UTC whatever the zone (offsets run from -12 h to +14 h): they let
# the placed_at index narrow an hour chart's scan before the exact local test.
_ZONE_SLACK = timedelta(hours=15)

_ORDERS_SQL = """
SELECT strftime(:bucket_format, placed_at, 'localtime') AS bucket, lines FROM orders
WHERE status = :placed {day_filter}
"""
_DAY_FILTER = ("AND placed_at >= :utc_from AND placed_at < :utc_to "
               "AND strftime('%Y-%m-%d', placed_at, 'localtime') = :local_day")
_DECODE_LINES = msgspec.json.Decoder(list[Line]).decode


@dataclass(frozen=True, slots=True)
class DayValues:
    """Ordered value in pence per band, per bucket (a local day, or an hour of one local day), in time order.

    `buckets` are the naive local starts of the buckets that have placed orders (see `filled` for a
    continuous axis); `pence[band][i]` is the value of `buckets[i]`.
    """

    unit: Unit
    buckets: tuple[datetime, ...]
    pence: Mapping[Band, tuple[int, ...]]
    day: date | None = None  # the day whose hours these are (unit HOUR)

    def total(self, band: Band | None = None) -> int:
        bands = list(Band) if band is None else [band]
        return sum(sum(self.pence[b]) for b in bands)

    def bucket_total(self, index: int) -> int:
        return sum(self.pence[band][index] for band in Band)

    def filled(self) -> DayValues:
        """Every bucket from the first to the last (every hour of the day for HOUR), empty ones at 0."""
        if self.unit is Unit.HOUR:
            assert self.day is not None
            start = datetime.combine(self.day, datetime.min.time())
            wanted = [start + timedelta(hours=hour) for hour in range(24)]
        elif self.buckets:
            first, last = self.buckets[0], self.buckets[-1]
            wanted = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        else:
            wanted = []
        position = {bucket: index for index, bucket in enumerate(self.buckets)}
        pence = {band: tuple(self.pence[band][position[b]] if b in position else 0 for b in wanted) for band in Band}
        return DayValues(self.unit, tuple(wanted), pence, self.day)


def _values(rows: Any, unit: Unit, day: date | None) -> DayValues:
    """Sum each placed order's lines into its bucket, each line in the band of its unit price."""
    sums: dict[str, dict[Band, int]] = {}
    for bucket, lines in rows:
        per_band = sums.get(bucket)
        if per_band is None:
            per_band = sums[bucket] = dict.fromkeys(Band, 0)
        for _item, price, quantity in _DECODE_LINES(lines):
            per_band[price_band(price)] += price * quantity
    texts = sorted(sums)  # fixed-width local times: text order is time order
    buckets = tuple(datetime.strptime(bucket, _BUCKET_FORMATS[unit]) for bucket in texts)
    return DayValues(unit, buckets, {band: tuple(sums[b][band] for b in texts) for band in Band}, day)


class DayValueReads:
    """The chart's reads; `_read(work)` runs work(session) in one read transaction (ReadModel's)."""

    _read: Callable[[Callable[[Session], Any]], Any]

    def day_values(self) -> DayValues:
        """Ordered value in pence per band for every local day with placed orders."""
        statement = text(_ORDERS_SQL.format(day_filter=""))
        parameters = {"bucket_format": _BUCKET_FORMATS[Unit.DAY], "placed": PLACED}
        return self._read(lambda session: _values(session.connection().execute(statement, parameters), Unit.DAY, None))

    def hour_values(self, day: date) -> DayValues:
        """Ordered value in pence per band for each hour of one local day (hours with placed orders)."""
        midnight = datetime.combine(day, datetime.min.time())
        statement = text(_ORDERS_SQL.format(day_filter=_DAY_FILTER)).bindparams(
            bindparam("utc_from", type_=DateTime()), bindparam("utc_to", type_=DateTime()))
        parameters = {"bucket_format": _BUCKET_FORMATS[Unit.HOUR], "placed": PLACED, "local_day": day.isoformat(),
                      "utc_from": midnight - _ZONE_SLACK, "utc_to": midnight + timedelta(days=1) + _ZONE_SLACK}
        return self._read(lambda session: _values(session.connection().execute(statement, parameters), Unit.HOUR, day))

    def last_order_day(self) -> date | None:
        """The local day of the latest placed order, or None when there is none."""
        statement = text("SELECT date(placed_at, 'localtime') FROM orders WHERE status = :placed "
                         "ORDER BY placed_at DESC LIMIT 1")  # the placed_at index, newest first
        found = self._read(lambda session: session.connection().execute(statement, {"placed": PLACED}).scalar())
        return None if found is None else date.fromisoformat(found)


__all__ = ["DayValueReads", "DayValues", "Unit"]
