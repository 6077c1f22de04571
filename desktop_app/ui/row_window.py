"""Plain-Python pieces of a tab's sorted, paged rows: sort keys, row identities, and a window re-read."""

from __future__ import annotations

from typing import Any

from desktop_app.query.views import ItemRow


class Descending:
    """Wraps a sort key so that bisect works on a descending list."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key

    def __lt__(self, other: Descending) -> bool:
        return self.key > other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Descending) and self.key == other.key

    __hash__ = None  # type: ignore[assignment]


def identity(row: ItemRow) -> tuple[str, str, int]:
    return (row.customer_id, row.item, row.unit_price_pence)


def ranges(positions: list[int]) -> list[tuple[int, int]]:
    """Sorted positions as (first, last) runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for position in positions:
        if runs and runs[-1][1] == position - 1:
            runs[-1] = (runs[-1][0], position)
        else:
            runs.append((position, position))
    return runs


class WindowRefresh:
    """A re-read of a tab's loaded window, applied a slice per turn of the event loop."""

    __slots__ = ("generation", "rows", "total", "identities", "removed", "next")

    def __init__(self, generation: int, rows: list[ItemRow], total: int) -> None:
        self.generation, self.rows, self.total = generation, rows, total
        self.identities = frozenset(identity(row) for row in rows)
        self.removed = False
        self.next = 0
