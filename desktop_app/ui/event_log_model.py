"""The event log window's table (one page of records) and the text of its detail pane."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from desktop_app.query.event_log import LogEntry, Outcome

COLUMNS = ("Time", "Partition", "Offset", "Type", "Customer", "Order", "Result")
NUMERIC = frozenset({1, 2})
OUTCOME_COLOURS = {Outcome.QUARANTINED: QColor(170, 20, 20), Outcome.IGNORED: QColor(140, 95, 0)}
SHORT_ID = 8  # as the Orders tab shows an order id; the detail pane has it all


def local_time(entry: LogEntry) -> str:
    return entry.timestamp.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def cell_text(entry: LogEntry, column: int) -> str:
    if column == 0:
        return local_time(entry)
    if column == 1:
        return str(entry.partition)
    if column == 2:
        return f"{entry.offset:,}"
    if column == 3:
        return entry.event_type or "?"
    if column == 4:
        return entry.customer_id if entry.customer_id is not None else f"(key {entry.key_text!r})"
    if column == 5:
        return (entry.order_id or "")[:SHORT_ID]
    return entry.outcome_text


def detail_text(entry: LogEntry) -> str:
    """What the detail pane shows and Ctrl+C copies: position, time, key, decode result, headers, value."""
    lines = [
        f"Partition {entry.partition}, offset {entry.offset}",
        f"Time: {entry.timestamp.isoformat(timespec='milliseconds')} ({local_time(entry)} local)",
        f"Key: {entry.key_text if entry.key is not None else '(none)'}",
        f"Result: {entry.outcome_text}",
    ]
    if entry.order_id:
        lines.append(f"Order: {entry.order_id}" + (f" (replaces {entry.replaces})" if entry.replaces else ""))
    lines.append("Headers:")
    lines += [f"  {line}" for line in entry.header_lines()] or ["  (none)"]
    lines += ["Value:", entry.value_text()]
    return "\n".join(lines)


class EventLogModel(QAbstractTableModel):
    """One page of entries, in the order the page gives them."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.entries: tuple[LogEntry, ...] = ()

    def set_entries(self, entries: tuple[LogEntry, ...]) -> None:
        self.beginResetModel()  # a whole new page
        self.entries = entries
        self.endResetModel()

    def row_of(self, partition: int, offset: int) -> int | None:
        for row, entry in enumerate(self.entries):
            if (entry.partition, entry.offset) == (partition, offset):
                return row
        return None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.entries):
            return None
        entry = self.entries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return entry.outcome_text if column == 6 else (entry.order_id if column == 5 else None)
        if role == Qt.ItemDataRole.ForegroundRole and entry.outcome in OUTCOME_COLOURS:
            return QBrush(OUTCOME_COLOURS[entry.outcome])
        if role == Qt.ItemDataRole.FontRole and not entry.in_view:
            font = QFont()
            font.setItalic(True)  # the view has not read it yet
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
