"""Why this row? A non-modal window listing the events behind a band row (or an order), in log order, with the
row's running quantity and £ value after each; below, the selected step's raw event as the log holds it.

The steps come from the view the tabs show (the read model: `row_history` / `order_history`); the raw event
from the log (`QueryService.raw_event`). Both are read on the dialog's own reader thread, never on the GUI
thread; a broker that cannot be reached leaves one line in place of the raw event.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.query.pounds import pence_to_decimal
from desktop_app.query.raw_event import RawEvent
from desktop_app.query.row_history import HistoryStep, OrderHistory, RowHistory
from desktop_app.ui.history_steps import ORDER_COLUMNS, ROW_COLUMNS, StepsModel, step_texts
from desktop_app.ui.items_tab import format_pounds

log = logging.getLogger(__name__)

RAW_EVENT_TIMEOUT_S = 10.0
REFRESH_AFTER_MS = 300
PROBLEM_COLOUR = "#b00020"


@dataclass(frozen=True, slots=True)
class HistoryOf:
    """What a history is asked about: a band row (customer, item, unit price), or an order."""

    customer_id: str | None = None
    item: str | None = None
    unit_price_pence: int | None = None
    order_id: Any = None  # uuid.UUID

    @property
    def title(self) -> str:
        if self.order_id is not None:
            return f"order {self.order_id}"
        name = str(self.customer_id)
        if self.item is not None:
            name += f" · {self.item}"
        if self.unit_price_pence is not None:
            name += f" at £{pence_to_decimal(self.unit_price_pence)}"
        return name


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if text:
        return text.splitlines()[0]
    return "no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__


class HistoryDialog(QDialog):
    """`steps_source` answers row_history / order_history (the view the tabs show); `log_source` answers
    raw_event (the live QueryService). `moment`: the moment of a view as of then (None: live)."""

    _stepsRead = Signal(int, object)  # generation, RowHistory | OrderHistory | None | Exception
    _rawRead = Signal(int, object)  # generation, RawEvent | Exception

    def __init__(self, parent: QWidget | None, target: HistoryOf, steps_source: Any, log_source: Any,
                 moment: datetime | None = None) -> None:
        super().__init__(parent)
        self.target, self.steps_source, self.log_source, self.moment = target, steps_source, log_source, moment
        self.setWindowTitle(f"Why this {'order' if target.order_id is not None else 'row'}? {target.title}")
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.columns = ORDER_COLUMNS if target.order_id is not None else ROW_COLUMNS
        self.history: RowHistory | OrderHistory | None = None
        self.raw: RawEvent | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._steps_generation = self._raw_generation = 0
        self._closed = False

        self.summary = QLabel("Reading the history from the read model…")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._refresh_timer = QTimer(self)  # live changes come in bursts: one re-read for each burst
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_AFTER_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self.steps_model = StepsModel(self.columns, self)
        self.table = QTableView()
        self.table.setModel(self.steps_model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setResizeContentsPrecision(50)  # widths from the first rows, not all
        self._sized = False
        self.table.horizontalHeader().setStretchLastSection(True)
        self.copy_action = QAction("&Copy steps", self.table, shortcut=QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(self.copy_selected_steps)
        self.table.addAction(self.copy_action)
        self.table.selectionModel().currentRowChanged.connect(self._read_current_raw_event)

        self.step_label = QLabel()  # the current step's whole outcome (the table may cut it short)
        self.step_label.setWordWrap(True)
        self.step_label.setTextFormat(Qt.TextFormat.PlainText)
        self.step_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.raw_label = QLabel("Select a step to see its raw event, read from the log.")
        self.raw_label.setWordWrap(True)
        self.raw_label.setTextFormat(Qt.TextFormat.PlainText)
        self.exact = QCheckBox("E&xact bytes")
        self.exact.setToolTip("The record's value exactly as the log holds it, instead of indented JSON")
        self.exact.toggled.connect(self._show_raw)
        self.raw_value = self._text_box()
        self.raw_headers = self._text_box()
        self.raw_headers.setMaximumHeight(70)  # three headers
        raw_top = QHBoxLayout()
        raw_top.addWidget(self.raw_label, 1)
        raw_top.addWidget(self.exact)
        raw_panel = QWidget()
        raw_layout = QVBoxLayout(raw_panel)
        raw_layout.setContentsMargins(0, 0, 0, 0)
        raw_layout.addWidget(self.step_label)
        raw_layout.addLayout(raw_top)
        raw_layout.addWidget(self.raw_value, 1)
        raw_layout.addWidget(QLabel("Headers"))
        raw_layout.addWidget(self.raw_headers)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(raw_panel)
        self.splitter.setSizes([260, 300])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.refresh_button = buttons.addButton("&Refresh", QDialogButtonBox.ButtonRole.ActionRole)
        self.refresh_button.setToolTip("Read the history again (F5)")
        self.refresh_button.clicked.connect(self.refresh)
        refresh = QAction(self, shortcut=QKeySequence.StandardKey.Refresh, triggered=self.refresh)
        self.addAction(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(buttons)
        self._stepsRead.connect(self._apply_steps)
        self._rawRead.connect(self._apply_raw)
        self.resize(1100, 640)
        self.refresh()

    @staticmethod
    def _text_box() -> QPlainTextEdit:
        box = QPlainTextEdit()
        box.setReadOnly(True)
        box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        box.setFont(font)
        return box

    # -- the steps (from the read model) ------------------------------------------------------------
    def refresh(self) -> None:
        """Read the steps again, on the reader thread."""
        if self._closed:
            return
        self._steps_generation += 1
        generation, target, source = self._steps_generation, self.target, self.steps_source

        def read() -> None:
            try:
                if target.order_id is not None:
                    result: Any = source.order_history(target.order_id)
                else:
                    result = source.row_history(target.customer_id, target.item, target.unit_price_pence)
            except Exception as exc:  # noqa: BLE001 - shown in the dialog, in one line
                log.warning("reading the history of %s failed", target.title, exc_info=True)
                result = exc
            try:
                self._stepsRead.emit(generation, result)
            except RuntimeError:  # the dialog was deleted meanwhile
                pass

        self._reader.submit(read)

    @Slot(int, object)
    def _apply_steps(self, generation: int, result: Any) -> None:
        if self._closed or generation != self._steps_generation:
            return
        if isinstance(result, Exception):
            self._say(self.summary, f"The history could not be read from the read model: {_html(one_line(result))}",
                      problem=True)
            return
        if result is None or (isinstance(result, RowHistory) and not result.known):
            self._say(self.summary, f"The read model knows nothing of {_html(self.target.title)}.")
            self.history = None
            self.steps_model.set_steps(())
            return
        current = self.current_step()
        self.history = result
        self.steps_model.set_steps(result.steps)
        if not self._sized:  # once, from the first rows (the outcome takes what is left; all of it in the tooltip)
            header = self.table.horizontalHeader()
            header.resizeSections(QHeaderView.ResizeMode.ResizeToContents)
            self._sized = True
            screen = self.screen().availableGeometry().width() if self.screen() is not None else self.width()
            wanted = header.length() + 60  # every column, with the margins and a scroll bar
            if wanted > self.width():
                self.resize(min(wanted, int(screen * 0.95)), self.height())
        self._say(self.summary, self._summary_text(result), problem=self._disagrees(result))
        again = [row for row, step in enumerate(result.steps) if current is not None and step == current]
        if result.steps:
            self.table.selectRow(again[0] if again else len(result.steps) - 1)  # its raw event is read next

    @staticmethod
    def _disagrees(history: RowHistory | OrderHistory) -> bool:
        return isinstance(history, RowHistory) and bool(history.disagreements())

    def _summary_text(self, history: RowHistory | OrderHistory) -> str:
        when = "" if self.moment is None else f" as of {self.moment.astimezone():%a %d %b %Y %H:%M}"
        count = f"{len(history.steps)} step{'s' if len(history.steps) != 1 else ''}"
        text = f"<b>{_html(self.target.title)}</b>: {count} in log order, from the {history.source}{when}."
        if isinstance(history, OrderHistory):
            order = history.detail.order
            return text + f" Status: {order.status.value}; total {format_pounds(order.total_pence)}."
        disagreements = history.disagreements()
        for (item, price), (steps, view) in disagreements.items():
            text += (f"<br>{_html(item)} at £{pence_to_decimal(price)}: the steps add up to {steps}, the view holds "
                     f"{view} (a view built before orders were kept: rebuild it, Tools → Rebuild read model…)")
        if not disagreements:
            held = ", ".join(f"{_html(item)} at £{pence_to_decimal(price)}: {quantity}" for (item, price), quantity
                             in sorted(history.view_quantities.items())) or "no row (all cancelled)"
            text += f" The view holds {held}, as the steps add up to."
        return text

    def selected_steps(self) -> list[HistoryStep]:
        if self.history is None:
            return []
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.history.steps[row] for row in rows if row < len(self.history.steps)]

    def copy_selected_steps(self) -> None:
        steps = self.selected_steps()
        if steps:
            lines = ["\t".join(self.columns)] + ["\t".join(step_texts(step, self.columns)) for step in steps]
            QApplication.clipboard().setText("\n".join(lines) + "\n")

    # -- the raw event (from the log) ---------------------------------------------------------------
    def current_step(self) -> HistoryStep | None:
        row = self.table.currentIndex().row()
        if self.history is None or not 0 <= row < len(self.history.steps):
            return None
        return self.history.steps[row]

    def _read_current_raw_event(self, *_cells: int) -> None:
        step = self.current_step()
        if self._closed or step is None:
            return
        self.step_label.setText(f"{step.event_type} {step.event_id} of order {step.order_id}: "
                                + step.outcome + (f" ({step.note})" if step.note else ""))
        if self.raw is not None and (self.raw.record.partition, self.raw.record.offset) == step.position:
            return
        self._raw_generation += 1
        generation, source = self._raw_generation, self.log_source
        self.raw = None
        self.raw_label.setStyleSheet("")
        self.raw_label.setText(f"Reading partition {step.partition}, offset {step.offset} from the log…")
        self.raw_value.setPlainText("")
        self.raw_headers.setPlainText("")

        def read() -> None:
            try:
                result: Any = source.raw_event(step.partition, step.offset, RAW_EVENT_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - the broker away, say: one line in the dialog
                result = exc
            try:
                self._rawRead.emit(generation, result)
            except RuntimeError:
                pass

        self._reader.submit(read)

    @Slot(int, object)
    def _apply_raw(self, generation: int, result: Any) -> None:
        if self._closed or generation != self._raw_generation:
            return
        if isinstance(result, Exception):
            self._say(self.raw_label, f"The raw event could not be read from the log: {one_line(result)}",
                      problem=True)
            return
        self.raw = result
        self._show_raw()

    def _show_raw(self, *_args: object) -> None:
        raw = self.raw
        if raw is None:
            return
        self.raw_label.setStyleSheet("")
        self.raw_label.setText(f"Raw event, read from the {raw.source}: {raw.describe()}; key {raw.key_text!r}; "
                               f"record time {raw.time.astimezone():%Y-%m-%d %H:%M:%S}")
        self.raw_value.setPlainText(raw.exact_text if self.exact.isChecked() else raw.pretty_value)
        self.raw_headers.setPlainText("\n".join(f"{name}: {value}" for name, value in raw.headers))

    # -- plumbing -----------------------------------------------------------------------------------
    @staticmethod
    def _say(label: QLabel, text: str, problem: bool = False) -> None:
        label.setStyleSheet(f"color: {PROBLEM_COLOUR}" if problem else "")
        label.setText(text)

    def schedule_refresh(self) -> None:
        """Read the steps again shortly (the rows may have changed)."""
        if not self._closed:
            self._refresh_timer.start()

    def concerns(self, customer: str) -> bool:
        """True if a change of this customer's rows may change the history shown."""
        history = self.history
        if isinstance(history, OrderHistory):
            return history.detail.order.customer_id == customer
        return self.target.customer_id == customer

    def done(self, result: int) -> None:  # noqa: D102 - Esc, Close and the window's frame all end here
        self._stop()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._stop()
        super().closeEvent(event)

    def _stop(self) -> None:
        self._closed = True
        self._refresh_timer.stop()
        self._reader.shutdown(wait=False, cancel_futures=True)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
