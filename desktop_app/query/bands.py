"""The price-band rule: the one place that says which band a unit price falls in."""

from __future__ import annotations

from enum import Enum

CHEAP_BELOW_PENCE = 500  # cheap: under £5.00
EXPENSIVE_ABOVE_PENCE = 5000  # expensive: over £50.00; affordable: £5.00 to £50.00 inclusive


class Band(str, Enum):
    CHEAP = "cheap"
    AFFORDABLE = "affordable"
    EXPENSIVE = "expensive"

    def __str__(self) -> str:
        return self.value


def price_band(pence: int) -> Band:
    """The band of a unit price in integer pence."""
    if pence < CHEAP_BELOW_PENCE:
        return Band.CHEAP
    if pence <= EXPENSIVE_ABOVE_PENCE:
        return Band.AFFORDABLE
    return Band.EXPENSIVE
