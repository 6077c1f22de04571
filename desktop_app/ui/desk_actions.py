"""Window actions around the form and the tabs: the quit warning and File → Export tab as CSV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from desktop_app.ui.order_form import OrderForm
from desktop_app.ui.paged_model import PagedRowsModel
from desktop_app.ui.table_text import write_csv


class QuitGuard:
    """Asks before the window closes while the form holds an order typed but not placed."""

    def __init__(self, window: QMainWindow, form: OrderForm) -> None:
        self.window = window
        self.form = form
        self.confirmed = False
        self.box: QMessageBox | None = None

    def may_close(self) -> bool:
        """True if the window may close now; otherwise the question is shown (and the close comes after)."""
        if self.confirmed or not self.form.has_unplaced_input():
            return True
        if self.box is None or not self.box.isVisible():
            self._ask()
        return False

    def _ask(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Quit Order Desk",
                          "An order is typed but not placed. Quit and lose it?",
                          QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, self.window)
        box.button(QMessageBox.StandardButton.Discard).setText("&Quit without placing")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(self._answered)
        self.box = box
        box.open()  # not exec(): no nested event loop under qasync

    def _answered(self, result: int) -> None:
        if result == QMessageBox.StandardButton.Discard:
            self.confirmed = True
            self.window.close()


class TabExport:
    """File → Export tab as CSV…: a save dialog, then the tab as shown (filter and sort) to the file."""

    def __init__(self, window: QMainWindow, report: Callable[[str], None]) -> None:
        self.window = window
        self.report = report
        self.dialog: QFileDialog | None = None

    def start(self, model: PagedRowsModel, title: str, file_name: str) -> None:
        dialog = QFileDialog(self.window, f"Export {title} tab as CSV")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.selectFile(file_name)
        dialog.fileSelected.connect(lambda path: self.export(model, title, Path(path)))
        self.dialog = dialog
        dialog.open()

    def export(self, model: PagedRowsModel, title: str, path: Path) -> None:
        try:
            count = write_csv(model, path)
        except OSError as exc:
            QMessageBox.warning(self.window, "Export failed", f"Could not write {path}: {exc.strerror or exc}")
            return
        self.report(f"Exported {count:,} {title.lower()} rows to {path}")
