"""A tab's rows as text, exactly as the tab shows them: for Ctrl+C (tab-separated) and CSV export.

Money is £ from Decimal (the models' `display_text`), never a float.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from desktop_app.ui.paged_model import PagedRowsModel

CSV_ENCODING = "utf-8-sig"  # with a byte-order mark, so spreadsheet programs read "£" right


def header(model: PagedRowsModel) -> list[str]:
    return [title for _name, title in model.columns]


def shown_texts(model: PagedRowsModel, row: Any) -> list[str]:
    return [model.display_text(row, name) for name, _title in model.columns]


def rows_as_tsv(model: PagedRowsModel, rows: Iterable[Any]) -> str:
    """Tab-separated, header first. Labels cannot hold tabs or line breaks (the command side refuses them)."""
    lines = ["\t".join(header(model))] + ["\t".join(shown_texts(model, row)) for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(model: PagedRowsModel, path: Path) -> int:
    """The whole tab as shown (its filter and sort) to `path`; returns the number of rows written."""
    rows = model.all_rows()
    with open(path, "w", newline="", encoding=CSV_ENCODING) as file:
        writer = csv.writer(file)
        writer.writerow(header(model))
        writer.writerows(shown_texts(model, row) for row in rows)
    return len(rows)
