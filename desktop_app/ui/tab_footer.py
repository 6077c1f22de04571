"""The line under the tabs: how many rows the current tab shows and, for a band tab, what they are worth."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from desktop_app.ui.items_tab import format_pounds
from desktop_app.ui.paged_model import NO_VALUE, PagedRowsModel


def footer_text(count: int, singular: str, plural: str, value_pence: int | None, filtered: bool) -> str:
    """'3 rows shown (filtered), total £12.50'. The total is of every row the filters select, not only the
    rows scrolled into view ("…" while it is being read); with no money value (NO_VALUE) it is left out."""
    noun = singular if count == 1 else plural
    text = f"{count:,} {noun} shown" + (" (filtered)" if filtered else "")
    if value_pence is None:
        text += ", total …"
    elif value_pence != NO_VALUE:
        text += f", total {format_pounds(value_pence)}"
    return text


class TabFooter(QLabel):
    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setContentsMargins(4, 2, 4, 2)

    def show_model(self, model: PagedRowsModel, singular: str, plural: str) -> None:
        self.setText(footer_text(model.total, singular, plural, model.value_pence, model.filtered))
