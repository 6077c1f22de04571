"""Tools → Event log…: the topic's records page by page, for support staff, in a window beside the desk.

Filters on top, a page of records (newest first unless asked), Newer/Older (PgUp/PgDn), and a detail pane
with the decode result, headers and pretty-printed value (Ctrl+C copies it). Pages are read on a worker
thread through the query service's `event_log()` (the desk's own Kafka settings); the window never sees
a Kafka client, and a broker that is away is one line above the table.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app import contracts
from desktop_app.query.event_log import EventLogError, LogEntry, LogFilter, Outcome, Page, PageRequest
from desktop_app.ui.event_log_model import EventLogModel, detail_text

# Ctrl+Shift+L is the order form's "remove line" (a window shortcut): one key on two actions fires neither
SHORTCUT = "Ctrl+Shift+J"
ANY_TYPE, ANY_RESULT, ALL_PARTITIONS, PARTITION = "Any type", "Any result", "All partitions", "Partition "
TYPES = (contracts.ORDER_PLACED, contracts.ORDER_CANCELLED)
ERROR_STYLE = "color: #b00000;"


class EventLogDialog(QDialog):
    """A non-modal window over one QueryService's event log."""

    _pageRead = Signal(int, object)  # generation, Page or an error line (from the worker thread)

    def __init__(self, query: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Event log")
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.log = query.event_log()
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-log")
        self._generation = 0
        self._pending: Future[None] | None = None
        self.page: Page | None = None
        self.model = EventLogModel(self)
        self._build()
        self._pageRead.connect(self._show_page)
        self.resize(1100, 680)

    # -- building ---------------------------------------------------------------------------------
    def _build(self) -> None:
        self.customer = QLineEdit(placeholderText="exact customer id")
        self.order_id = QLineEdit(placeholderText="the id or its start")
        self.event_type = QComboBox()
        self.event_type.addItems([ANY_TYPE, *TYPES])
        self.outcome = QComboBox()
        self.outcome.addItems([ANY_RESULT, *(o.value for o in Outcome)])
        self.partition = QComboBox()
        self.partition.addItem(ALL_PARTITIONS)
        now = QDateTime.currentDateTime()
        self.use_since, self.since = QCheckBox("From"), QDateTimeEdit(now.addDays(-1), calendarPopup=True)
        self.use_until, self.until = QCheckBox("To"), QDateTimeEdit(now, calendarPopup=True)
        for edit in (self.since, self.until):
            edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.oldest_first = QCheckBox("Oldest first")
        self.apply_button = QPushButton("&Show")
        filters = QGridLayout()
        for column, (label, widget) in enumerate((("Customer:", self.customer), ("Order:", self.order_id))):
            filters.addWidget(QLabel(label), 0, column * 2)
            filters.addWidget(widget, 0, column * 2 + 1)
        filters.addWidget(self.event_type, 0, 4)
        filters.addWidget(self.outcome, 0, 5)
        filters.addWidget(self.partition, 0, 6)
        filters.addWidget(self.use_since, 1, 0)
        filters.addWidget(self.since, 1, 1)
        filters.addWidget(self.use_until, 1, 2)
        filters.addWidget(self.until, 1, 3)
        filters.addWidget(self.oldest_first, 1, 4)
        filters.addWidget(self.apply_button, 1, 6)
        filters.setColumnStretch(1, 1)
        filters.setColumnStretch(3, 1)

        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(False)
        self.error.hide()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((150, 70, 70, 120, 120, 80)):
            self.table.setColumnWidth(column, width)
        self.detail = QPlainTextEdit(readOnly=True)
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.detail.setPlaceholderText("Select a record to see its decode result, headers and value.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setSizes([380, 260])

        self.newer_button = QPushButton("◀ Newer (PgUp)")
        self.older_button = QPushButton("Older (PgDn) ▶")
        self.page_label = QLabel()
        for button in (self.apply_button, self.newer_button, self.older_button):
            button.setAutoDefault(False)  # Return in a filter box applies once (returnPressed), not twice
        paging = QHBoxLayout()
        paging.addWidget(self.newer_button)
        paging.addWidget(self.page_label, 1, Qt.AlignmentFlag.AlignCenter)
        paging.addWidget(self.older_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.error)
        layout.addWidget(splitter, 1)
        layout.addLayout(paging)

        self.copy_action = QAction("&Copy record", self.table, shortcut=QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(self.copy_record)
        self.table.addAction(self.copy_action)
        QShortcut(QKeySequence(Qt.Key.Key_PageUp), self, self.newer, context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence(Qt.Key.Key_PageDown), self, self.older, context=Qt.ShortcutContext.WindowShortcut)
        self.newer_button.clicked.connect(self.newer)
        self.older_button.clicked.connect(self.older)
        self.apply_button.clicked.connect(self.apply_filters)
        for line in (self.customer, self.order_id):
            line.returnPressed.connect(self.apply_filters)
        for combo in (self.event_type, self.outcome, self.partition):
            combo.currentIndexChanged.connect(self.apply_filters)
        for box in (self.use_since, self.use_until, self.oldest_first):
            box.toggled.connect(self.apply_filters)
        self.table.selectionModel().currentRowChanged.connect(lambda current, _previous: self._show_detail())
        self._set_paging(False, False)

    # -- what is asked ----------------------------------------------------------------------------
    def current_filter(self) -> LogFilter:
        """The filters as typed; ValueError (one line) if one is not valid."""
        partition = self.partition.currentText()
        return LogFilter(
            customer=self.customer.text(),
            order_id=self.order_id.text(),
            event_type=None if self.event_type.currentIndex() <= 0 else self.event_type.currentText(),
            outcome=None if self.outcome.currentIndex() <= 0 else Outcome(self.outcome.currentText()),
            partition=None if self.partition.currentIndex() <= 0 else int(partition.removeprefix(PARTITION)),
            since=self.since.dateTime().toPython().astimezone() if self.use_since.isChecked() else None,
            until=self.until.dateTime().toPython().astimezone() if self.use_until.isChecked() else None,
        )

    def apply_filters(self) -> None:
        try:
            wanted = self.current_filter()
        except ValueError as exc:
            self._say(str(exc))
            return
        self.request(PageRequest.first(wanted, newest_first=not self.oldest_first.isChecked()))

    def show_record(self, partition: int, offset: int) -> None:
        """Open at one record (the quarantine list's link): its partition from it downwards, it selected."""
        widgets = (self.customer, self.order_id, self.event_type, self.outcome, self.partition, self.use_since,
                   self.use_until, self.oldest_first)
        for widget in widgets:
            widget.blockSignals(True)
        self.customer.clear()
        self.order_id.clear()
        for combo in (self.event_type, self.outcome):
            combo.setCurrentIndex(0)
        for box in (self.use_since, self.use_until, self.oldest_first):
            box.setChecked(False)
        if self.partition.findText(f"{PARTITION}{partition}") < 0:
            self.partition.addItem(f"{PARTITION}{partition}")
        self.partition.setCurrentIndex(self.partition.findText(f"{PARTITION}{partition}"))
        for widget in widgets:
            widget.blockSignals(False)
        self.request(PageRequest.at(partition, offset))

    def newer(self) -> None:
        if self.page is not None and self.page.has_newer:
            self.request(self.page.newer_page())

    def older(self) -> None:
        if self.page is not None and self.page.has_older:
            self.request(self.page.older_page())

    def request(self, wanted: PageRequest) -> None:
        """Read a page on the worker thread; a later request makes an earlier one's page moot."""
        self._generation += 1
        generation = self._generation
        self.page_label.setText("Reading the log…")

        def read() -> None:
            try:
                outcome: Page | str = self.log.page_blocking(wanted)
            except EventLogError as exc:
                outcome = str(exc)
            except Exception as exc:  # noqa: BLE001 - shown as one line; the window keeps working
                outcome = f"{type(exc).__name__}: {exc}".splitlines()[0]
            try:
                self._pageRead.emit(generation, outcome)
            except RuntimeError:  # the window is gone
                pass

        if self._pending is not None:
            self._pending.cancel()  # still queued behind the read under way: never started
        self._pending = self._reader.submit(read)

    # -- what is shown ----------------------------------------------------------------------------
    def _show_page(self, generation: int, outcome: Page | str) -> None:
        if generation != self._generation:
            return
        if isinstance(outcome, str):
            self._say(f"Cannot read the log: {outcome}")
            self.page_label.setText("")
            return
        self._say(None if outcome.view_problem is None else
                  f"The view cannot be read ({outcome.view_problem}): decode results only, ignored events unknown")
        self.page = outcome
        self._update_partitions(outcome.partitions)
        self.model.set_entries(outcome.entries)
        self._set_paging(outcome.has_newer, outcome.has_older)
        self.page_label.setText(self._page_words(outcome))
        row = 0
        if outcome.request.select is not None:
            row = self.model.row_of(*outcome.request.select) or 0
        if outcome.entries:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
        self._show_detail()

    @staticmethod
    def _page_words(page: Page) -> str:
        order = "newest first" if page.request.newest_first else "oldest first"
        words = f"{len(page.entries):,} records, {order} ({page.scanned:,} looked at)"
        if page.out_of_budget:
            words += " — the page is not full yet: Newer/Older looks further"
        elif not page.entries:
            words = f"No records match ({page.scanned:,} looked at)"
        return words

    def _update_partitions(self, partitions: tuple[int, ...]) -> None:
        wanted = [ALL_PARTITIONS, *(f"{PARTITION}{p}" for p in partitions)]
        if [self.partition.itemText(i) for i in range(self.partition.count())] == wanted:
            return
        chosen = self.partition.currentText()
        self.partition.blockSignals(True)
        self.partition.clear()
        self.partition.addItems(wanted)
        self.partition.setCurrentIndex(max(0, self.partition.findText(chosen)))
        self.partition.blockSignals(False)

    def _set_paging(self, newer: bool, older: bool) -> None:
        self.newer_button.setEnabled(newer)
        self.older_button.setEnabled(older)

    def _say(self, line: str | None) -> None:
        self.error.setText(line or "")
        self.error.setToolTip(line or "")
        self.error.setVisible(bool(line))

    def selected_entry(self) -> LogEntry | None:
        index = self.table.currentIndex()
        if not index.isValid() or index.row() >= len(self.model.entries):
            return None
        return self.model.entries[index.row()]

    def _show_detail(self) -> None:
        entry = self.selected_entry()
        self.detail.setPlainText(detail_text(entry) if entry is not None else "")

    def copy_record(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            QApplication.clipboard().setText(detail_text(entry))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._generation += 1  # a page still being read is not shown
        super().closeEvent(event)

    def shut_down(self) -> None:
        self._reader.shutdown(wait=False, cancel_futures=True)


class EventLogLauncher:
    """Tools → Event log… on a window: one event log window, opened (or raised) on demand."""

    def __init__(self, window: QWidget, query: Any) -> None:
        self.window = window
        self.query = query
        self.dialog: EventLogDialog | None = None
        self.action = QAction("&Event log…", window, shortcut=QKeySequence(SHORTCUT))
        self.action.triggered.connect(lambda _checked=False: self.open())

    def open(self, *, first_page: bool = True) -> EventLogDialog:
        """Show the window; opened (again) it reads the newest page of its filters, as the log has grown."""
        if self.dialog is None:
            self.dialog = EventLogDialog(self.query, self.window)
        was_open = self.dialog.isVisible()
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        if first_page and not was_open:
            self.dialog.apply_filters()
        return self.dialog

    def show_at(self, partition: int, offset: int) -> EventLogDialog:
        dialog = self.open(first_page=False)
        dialog.show_record(partition, offset)
        return dialog
