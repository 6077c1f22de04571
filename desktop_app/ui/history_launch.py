"""Opens "Why this row?" windows: from a band tab's row or an Orders tab's order (row menu, Ctrl+H), one
window per row or order (asking again brings it to the front), re-read when that customer's rows change."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer

from desktop_app.query.orders_view import OrderRow
from desktop_app.query.views import ItemRow
from desktop_app.ui.history_dialog import HistoryDialog, HistoryOf


class HistoryLauncher(QObject):
    """Given the main window: hooks its row actions and its bridge; the dialogs read what the tabs read."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.dialogs: dict[HistoryOf, HistoryDialog] = {}
        for actions in window.row_actions.values():
            actions.show_history = self.show_row
        window.orders_tab.show_history = self.show_order
        window.bridge.keysChanged.connect(self._keys_changed)
        window.installEventFilter(self)

    def show_row(self, row: ItemRow) -> HistoryDialog:
        return self.open(HistoryOf(row.customer_id, row.item, row.unit_price_pence))

    def show_order(self, order: OrderRow) -> HistoryDialog:
        return self.open(HistoryOf(order_id=order.order_id))

    def open(self, target: HistoryOf) -> HistoryDialog:
        dialog = self.dialogs.get(target)
        if dialog is None or dialog.steps_source is not self.window.view_source:
            if dialog is not None:  # the tabs show another view now (as of a moment, or live again)
                dialog.close()
            dialog = HistoryDialog(self.window, target, self.window.view_source, self.window.query,
                                   self.window.view_moment)
            dialog.finished.connect(lambda _result, shown=dialog: self._forget(shown))
            self.dialogs[target] = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _forget(self, dialog: HistoryDialog) -> None:
        if self.dialogs.get(dialog.target) is dialog:
            del self.dialogs[dialog.target]
        dialog.deleteLater()

    def _keys_changed(self, keys: frozenset) -> None:
        customers = {customer for customer, _band in keys}
        for dialog in list(self.dialogs.values()):
            if dialog.steps_source is self.window.query and any(dialog.concerns(c) for c in customers):
                dialog.schedule_refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.window and event.type() == QEvent.Type.Close:
            QTimer.singleShot(0, self._close_if_window_closed)  # the quit guard may still keep it open
        return False

    def _close_if_window_closed(self) -> None:
        if not self.window.isVisible():
            for dialog in list(self.dialogs.values()):
                dialog.close()
