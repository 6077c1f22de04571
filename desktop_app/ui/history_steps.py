"""The steps of a "Why this row?" window as a table model: texts made when a cell is drawn, so a row with
thousands of steps shows at once (items for each cell took seconds on the GUI thread for 15,000 steps)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from desktop_app.query.row_history import HistoryStep
from desktop_app.ui.items_tab import format_pounds

ROW_COLUMNS = ("Time", "Event", "Order", "Desk", "Partition", "Offset", "Item", "Unit price", "Change",
               "Quantity", "Line value", "Outcome")
ORDER_COLUMNS = ("Time", "Event", "Order", "Desk", "Partition", "Offset", "Change", "Quantity", "Value", "Outcome")
NUMERIC = frozenset({"Partition", "Offset", "Unit price", "Change", "Quantity", "Line value", "Value"})
IGNORED_COLOUR = QColor(120, 120, 120)

Index = QModelIndex | QPersistentModelIndex


def step_text(step: HistoryStep, name: str) -> str:
    """One cell of a step as the window shows it (and Ctrl+C copies it)."""
    if name == "Time":
        return step.occurred_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if name in ("Line value", "Value"):
        return "" if step.value_pence is None else format_pounds(step.value_pence)
    if name == "Unit price":
        return "" if step.unit_price_pence is None else format_pounds(step.unit_price_pence)
    if name == "Change":
        return f"{step.change:+d}" if step.change else "0"
    if name == "Quantity":
        return "" if step.quantity is None else str(step.quantity)
    if name == "Outcome":
        return step.outcome + (f" ({step.note})" if step.note else "")
    value = {"Event": step.event_type, "Order": step.order_id, "Desk": step.source, "Partition": step.partition,
             "Offset": step.offset, "Item": step.item}[name]
    return "" if value is None else str(value)


def step_texts(step: HistoryStep, columns: tuple[str, ...]) -> list[str]:
    return [step_text(step, name) for name in columns]


class StepsModel(QAbstractTableModel):
    def __init__(self, columns: tuple[str, ...], parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self.steps: tuple[HistoryStep, ...] = ()

    def set_steps(self, steps: tuple[HistoryStep, ...]) -> None:
        self.beginResetModel()
        self.steps = steps
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.steps)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.steps):
            return None
        step, name = self.steps[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return step_text(step, name)
        if role == Qt.ItemDataRole.TextAlignmentRole and name in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and not step.applied:
            return IGNORED_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{step.event_type} {step.event_id}\n{step_text(step, 'Outcome')}"
        return None
