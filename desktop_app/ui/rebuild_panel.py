"""Progress of a read-model rebuild in the status bar: events done of the total, rate, ETA, and Cancel.

Not a dialog: the tabs and the order form stay usable while the log is replayed (issue 11, point 3).
It is the only place that shows a rebuild's progress, and it hides as soon as the rebuild ends.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

from desktop_app.ui.eliding_label import ElidingLabel

BAR_WIDTH = 140
LABEL_MIN_WIDTH = 100


class RebuildPanel(QWidget):
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = ElidingLabel("Rebuilding the view")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(BAR_WIDTH)
        self.bar.setMaximumHeight(16)
        self.bar.setTextVisible(False)  # the detail says how far it is
        self.detail = ElidingLabel("")
        for label in (self.heading, self.detail):  # cut with "…" rather than widen the window
            label.setMinimumWidth(LABEL_MIN_WIDTH)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the rebuild; the current view stays as it is")
        self.cancel_button.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 8, 0)
        for widget in (self.heading, self.bar, self.detail, self.cancel_button):
            layout.addWidget(widget, 1 if widget is self.detail else 0)
        self.cancelled = False
        self._started = time.monotonic()
        self.hide()

    def begin(self, reason: str | None = None, *, cancellable: bool = True) -> None:
        """Show the panel for a rebuild that starts now (`reason`: why, when it was not asked for)."""
        self.cancelled = False
        self._started = time.monotonic()
        self.heading.setText("Rebuilding the view" + (f" ({reason})" if reason else ""))
        self.heading.setToolTip(self.heading.text())
        self.bar.setRange(0, 0)  # busy until the first progress tells the total
        self.detail.setText("starting …")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setVisible(cancellable)
        self.show()

    def show_progress(self, done: int, total: int, elapsed_s: float | None = None) -> None:
        elapsed = max(elapsed_s if elapsed_s is not None else time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, max(total, 1)) if total else 1)
        counts = f"{done:,} of {total:,} events · {rate:,.0f} events/s"
        # Time left first: the bar is narrow at the default window size and cuts the end of the text
        text = f"about {max(total - done, 0) / rate:.0f} s left · {counts}" if rate > 0 and done < total else counts
        if not self.cancelled:
            self.detail.setText(text)
            self.detail.setToolTip(text)

    def end(self) -> None:
        """The rebuild ended (swapped, cancelled or failed): nothing of it stays on screen."""
        self.hide()
        self.detail.setText("")
        self.detail.setToolTip("")

    def _cancel(self) -> None:
        self.cancelled = True
        self.detail.setText("cancelling …")
        self.cancel_button.setEnabled(False)
        self.cancelRequested.emit()
