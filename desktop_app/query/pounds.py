"""Money at the query side's edge: integer pence to Decimal pounds, exactly."""

from __future__ import annotations

from decimal import Decimal

PENCE_PER_POUND = Decimal(100)
CENT = Decimal("0.01")


def pence_to_decimal(pence: int) -> Decimal:
    """Integer pence as pounds with two decimal places, exactly."""
    return (Decimal(pence) / PENCE_PER_POUND).quantize(CENT)
