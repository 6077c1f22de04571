"""How the CLI writes what it read: aligned tables, money (pounds in a table; a "12.50" string AND integer
pence in JSON, never a float) and times (local in a table, ISO 8601 UTC in JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from desktop_app.query.pounds import pence_to_decimal


def format_table(table: list[tuple[str, ...]], right_aligned: set[int]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for row in table:
        cells = [cell.rjust(w) if i in right_aligned else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def pounds(pence: int) -> str:
    """Pence as pounds with two decimals, no sign: 1250 -> "12.50"."""
    return str(pence_to_decimal(pence))


def money_json(name: str, pence: int) -> dict[str, Any]:
    """{name: "12.50", name_pence: 1250}: exact for people and for programs alike."""
    return {name: pounds(pence), f"{name}_pence": pence}


def table_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def json_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """"1 row", "3 rows"."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
