"""Progress of a read-model rebuild: events done out of the total, a rate, an ETA, and Cancel."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget


class RebuildDialog(QDialog):
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rebuilding the read model")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(420)
        self.heading = QLabel("Replaying the event log from the beginning …")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.detail = QLabel("Starting …")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self._cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.bar)
        layout.addWidget(self.detail)
        layout.addWidget(self.buttons)
        self._started = time.monotonic()
        self.cancelled = False

    def show_progress(self, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, max(total, 1)) if total else 1)
        eta = f", about {max(total - done, 0) / rate:.0f} s left" if rate > 0 and done < total else ""
        self.detail.setText(f"{done:,} of {total:,} events · {rate:,.0f} events/s{eta}")

    def _cancel(self) -> None:
        self.cancelled = True
        self.detail.setText("Cancelling …")
        self.buttons.setEnabled(False)
        self.cancelRequested.emit()

    def reject(self) -> None:  # Esc or the window's close button also cancel
        if not self.cancelled:
            self._cancel()
