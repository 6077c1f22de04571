"""Plain Python for a tab's loaded window of rows: how to turn the rows shown into a fresh re-read of them.

The plan is a short list of range operations (remove, insert, update) in the order they must be applied,
so that the model signals a few ranges instead of one insert and one remove per changed row.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from desktop_app.query.views import ItemRow

Identity = tuple[str, str, int]


def identity(row: ItemRow) -> Identity:
    """A band row's identity (the default); other row kinds pass their own to `plan`."""
    return (row.customer_id, row.item, row.unit_price_pence)


def ranges(positions: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted positions as (first, last) runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for position in positions:
        if runs and runs[-1][1] == position - 1:
            runs[-1] = (runs[-1][0], position)
        else:
            runs.append((position, position))
    return runs


@dataclass(frozen=True, slots=True)
class Step:
    kind: Literal["remove", "insert", "update"]
    first: int  # position at the time the step is applied
    last: int = -1  # remove: the last position of the range
    rows: tuple[Any, ...] = ()  # insert: rows placed at `first`; update: the one new row at `first`


def plan(shown: Sequence[Any], fresh: Sequence[Any], sort_key: Callable[[Any], Any],
         identity: Callable[[Any], Hashable] = identity) -> list[Step]:
    """Steps that turn `shown` into `fresh` (both in the tab's order; `fresh` is the re-read window).

    Rows that left the window or whose sort key changed are removed first (back to front); the rows left
    are then in `fresh`'s order, and the new or moved rows are inserted between them, run by run.
    """
    fresh_by_id = {identity(row): row for row in fresh}
    gone = []
    for position, row in enumerate(shown):
        new = fresh_by_id.get(identity(row))
        if new is None or sort_key(new) != sort_key(row):
            gone.append(position)
    steps = [Step("remove", first, last) for first, last in reversed(ranges(gone))]
    gone_set = set(gone)
    kept = [row for position, row in enumerate(shown) if position not in gone_set]
    at = 0  # position in the model as the steps so far leave it
    k = 0
    while k < len(fresh):
        row = fresh[k]
        if at < len(kept) and identity(kept[at]) == identity(row):
            if kept[at] != row:
                steps.append(Step("update", at, rows=(row,)))
            at += 1
            k += 1
            continue
        wanted = identity(kept[at]) if at < len(kept) else None
        end = k
        while end < len(fresh) and identity(fresh[end]) != wanted:
            end += 1
        if end == len(fresh) and wanted is not None:  # orders disagree (never expected): drop the rest shown
            steps.append(Step("remove", at, len(kept) - 1))
            kept = kept[:at]
        steps.append(Step("insert", at, rows=tuple(fresh[k:end])))
        kept[at:at] = fresh[k:end]
        at += end - k
        k = end
    return steps
