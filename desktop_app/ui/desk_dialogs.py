"""The window's information boxes: Tools → Show quarantined records and Help → About."""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

import PySide6
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QMessageBox, QVBoxLayout, QWidget

from desktop_app import __version__


class QuarantineList(QDialog):
    """The most recent quarantined records; "Show in event log" opens the event log at the one selected."""

    def __init__(self, parent: QWidget, rows: list[Any], show_in_log: Callable[[int, int], Any] | None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quarantined records")
        self.rows = rows
        self._show_in_log = show_in_log
        layout = QVBoxLayout(self)
        if not rows:
            layout.addWidget(QLabel("No records are quarantined: every record on the topic was a valid event."))
        else:
            layout.addWidget(QLabel(f"{len(rows)} most recent quarantined records "
                                    "(they were skipped, nothing else changed):"))
        self.list = QListWidget()
        self.list.addItems([f"{r.quarantined_at:%Y-%m-%d %H:%M:%S}  partition {r.partition} offset {r.offset}: "
                            f"{r.reason}" for r in rows])
        self.list.setVisible(bool(rows))
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.show_button = buttons.addButton("Show in event &log", QDialogButtonBox.ButtonRole.ActionRole)
        self.show_button.setEnabled(False)
        self.show_button.setVisible(show_in_log is not None and bool(rows))
        self.show_button.clicked.connect(self.show_selected)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.list.currentRowChanged.connect(lambda row: self.show_button.setEnabled(row >= 0))
        self.list.itemActivated.connect(lambda _item: self.show_selected())
        if rows:
            self.resize(720, 360)

    def show_selected(self) -> None:
        row = self.list.currentRow()
        if self._show_in_log is not None and 0 <= row < len(self.rows):
            self._show_in_log(self.rows[row].partition, self.rows[row].offset)


def show_quarantine(parent: QWidget, query: Any,
                    show_in_log: Callable[[int, int], Any] | None = None) -> QuarantineList:
    box = QuarantineList(parent, query.quarantined(200), show_in_log)
    box.open()
    return box


def show_about(parent: QWidget, runtime: Any) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle("About Order Desk")
    box.setText(
        f"<b>Order Desk {__version__}</b><br>Orders as events in Apache Kafka; a live local view per desk.<br><br>"
        f"Python {platform.python_version()} · PySide6 {PySide6.__version__}<br>"
        f"Data dir: {runtime.settings.data_dir}<br>"
        f"Kafka: {runtime.bootstrap_servers} ({'embedded' if runtime.embedded else 'external'})<br>"
        f"Topic: {runtime.settings.topic}"
    )
    box.open()
    return box
