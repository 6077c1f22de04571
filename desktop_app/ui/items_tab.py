"""One price-band tab: ItemsTableModel (paged, sorted in SQL, updated row by row) and its view."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from desktop_app.query.bands import Band
from desktop_app.query.view_health import ViewUnavailable
from desktop_app.query.views import ItemRow, pence_to_decimal
from desktop_app.ui.row_window import identity, plan

log = logging.getLogger(__name__)

PAGE_SIZE = 500
RETRY_MS = 500  # wait before re-reading after a read failed
FLASH_SECONDS = 1.5
FLASH_COLOUR = QColor(255, 236, 153)

COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_id", "Customer"),
    ("item", "Item"),
    ("unit_price_pence", "Unit price"),
    ("quantity", "Quantity"),
    ("orders", "Orders"),
    ("last_ordered", "Last ordered"),
)
PRIMARY_KEY = ("customer_id", "item", "unit_price_pence")
NUMERIC = {"unit_price_pence", "quantity", "orders"}

Index = QModelIndex | QPersistentModelIndex


class ItemsSource(Protocol):
    """The reads the model needs (query.views.ReadModel provides them)."""

    def items(self, band: Band | str | None = None, customer: str | None = None, search: str | None = None,
              order_by: Sequence[str] = ..., descending: bool = False, limit: int | None = None,
              offset: int = 0) -> list[ItemRow]: ...

    def count_items(self, band: Band | str | None = None, customer: str | None = None,
                    search: str | None = None) -> int: ...

    def rows_for_keys(self, keys: Iterable[tuple[str, Band | str]]) -> list[ItemRow]: ...


def format_pounds(pence: int) -> str:
    return f"£{pence_to_decimal(pence):,}"


def format_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def display_text(row: ItemRow, name: str) -> str:
    """A cell as the tab shows it; copy and CSV export use the same text."""
    if name == "unit_price_pence":
        return format_pounds(row.unit_price_pence)
    if name == "last_ordered":
        return format_time(row.last_ordered)
    value = getattr(row, name)
    return f"{value:,}" if isinstance(value, int) else value


class ItemsTableModel(QAbstractTableModel):
    """Rows of one band. Loads pages as the view scrolls; applies changed keys without a reset."""

    totalChanged = Signal(int)
    _rowsRead = Signal(int, object, int)  # generation, the loaded window re-read (None: not read), total (-1: failed)

    def __init__(self, source: ItemsSource, band: Band, parent: Any = None,
                 reader: ThreadPoolExecutor | None = None) -> None:
        """`reader`: the thread that re-reads changed rows (tabs may share one); by default the model's own."""
        super().__init__(parent)
        self.source = source
        self.band = band
        self.customer: str | None = None
        self.search: str | None = None
        self.sort_column = 0
        self.descending = False
        self._rows: list[ItemRow] = []
        self._total = 0
        self._flash: dict[tuple[str, str, int], float] = {}
        self._flash_timer = QTimer(self)
        self._flash_timer.setInterval(250)
        self._flash_timer.timeout.connect(self._expire_flashes)
        self._window_stale = False  # rows changed within (or maybe within) the loaded pages: re-read them
        self._count_stale = False  # rows changed beyond the loaded pages: only the total needs reading
        self._generation = 0  # bumped by every reload: reads started before it are dropped
        self._reading = False  # from submitting a re-read until its rows are all applied
        self._own_reader = reader is None
        self._reader = reader or ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rows-{band.value}")
        self._rowsRead.connect(self._apply_read)  # queued: emitted from the reader thread
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.timeout.connect(self._drain)
        self.resets = 0
        self._closed = False  # after close(), late queued changes are dropped (the reader may be shut down)

    # -- loading ---------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return self._total

    def _order_by(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([COLUMNS[self.sort_column][0], *PRIMARY_KEY]))

    def _sort_key(self, row: ItemRow) -> tuple[Any, ...]:
        """Compared for equality only: a row whose sort key changed moves."""
        return tuple(getattr(row, name) for name in self._order_by())

    def reload(self) -> None:
        """A full reset: only for a filter or sort change, or a rebuilt read model."""
        self.beginResetModel()
        self._window_stale = False
        self._count_stale = False
        self._generation += 1
        self._rows = []
        try:
            self._total = self.source.count_items(self.band, self.customer, self.search)
            self._fetch_page()
        except ViewUnavailable:  # being rebuilt after damage (the status bar says so): the swap reloads
            self._total = 0
        self.resets += 1
        self.endResetModel()
        self.totalChanged.emit(self._total)

    def set_filter(self, customer: str | None, search: str | None) -> None:
        customer = customer or None
        search = (search or "").strip() or None
        if (customer, search) != (self.customer, self.search):
            self.customer, self.search = customer, search
            self.reload()

    def _fetch_page(self) -> list[ItemRow]:
        page = self.source.items(
            self.band, self.customer, self.search, order_by=self._order_by(),
            descending=self.descending, limit=PAGE_SIZE, offset=len(self._rows),
        )
        self._remember(page)
        return page

    def _remember(self, page: list[ItemRow]) -> None:
        self._rows.extend(page)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and len(self._rows) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008, N802
        if parent.isValid():
            return
        start = len(self._rows)
        page = self.source.items(
            self.band, self.customer, self.search, order_by=self._order_by(),
            descending=self.descending, limit=PAGE_SIZE, offset=start,
        )
        if not page:
            self._total = start
            return
        self.beginInsertRows(QModelIndex(), start, start + len(page) - 1)
        self._remember(page)
        self.endInsertRows()

    # -- incremental updates ---------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while changes are still waiting to be applied."""
        return self._window_stale or self._count_stale or self._reading

    def apply_changed_keys(self, keys: Iterable[tuple[str, Band | str]]) -> None:
        """Note changed (customer, band) keys. However many there are, the tab then re-reads its loaded
        window (the rows it shows, in its order) once, on a reader thread, and applies the difference in
        place: the cost of catching up is bounded by the rows shown, not by the keys a burst touched.
        Changes beyond the loaded pages (sorted by customer) only move the total; fetchMore brings them."""
        if self._closed:
            return
        band = self.band
        for customer, key_band in keys:
            if key_band != band or (self.customer is not None and customer != self.customer):
                continue
            if self._beyond_loaded_pages(customer):
                self._count_stale = True
            else:
                self._window_stale = True
                break  # one re-read covers every other key
        if (self._window_stale or self._count_stale) and not self._drain_timer.isActive():
            self._drain_timer.start(0)

    def _drain(self) -> None:
        if self._reading or not (self._window_stale or self._count_stale):
            return
        window = self._window_stale
        self._window_stale = self._count_stale = False
        generation, customer, search = self._generation, self.customer, self.search
        order_by, descending, limit = self._order_by(), self.descending, max(len(self._rows), PAGE_SIZE)
        self._reading = True

        def read() -> None:
            rows: list[ItemRow] | None = None
            try:
                if window:
                    rows = self.source.items(self.band, customer, search, order_by=order_by,
                                             descending=descending, limit=limit)
                total = self.source.count_items(self.band, customer, search)
            except Exception:  # noqa: BLE001 - reported; read again after a pause
                log.exception("re-reading the %s tab failed; retrying", self.band.value)
                rows, total = ([] if window else None), -1
            try:
                self._rowsRead.emit(generation, rows, total)
            except RuntimeError:  # the model was deleted meanwhile (window closed)
                pass

        self._reader.submit(read)

    def close(self) -> None:
        """Stop the reader thread if it is the model's own (pending reads are dropped)."""
        self._closed = True
        self._drain_timer.stop()
        self._window_stale = self._count_stale = False
        if self._own_reader:
            self._reader.shutdown(wait=False, cancel_futures=True)

    @Slot(int, object, int)
    def _apply_read(self, generation: int, rows: list[ItemRow] | None, total: int) -> None:
        if self._closed:
            return
        if generation != self._generation:  # a reload came in between: the rows are stale
            self._read_done(failed=False)
            return
        if total < 0:
            self._window_stale = self._window_stale or rows is not None
            self._count_stale = self._count_stale or rows is None
            self._read_done(failed=True)
            return
        if rows is None:
            self._set_total(total)
            self._read_done(failed=False)
            return
        self._apply_window(rows)
        self._set_total(total)
        self._read_done(failed=False)

    def _apply_window(self, fresh: list[ItemRow]) -> None:
        """Turn the rows shown into the re-read window in a few range signals: never a reset."""
        now = time.monotonic()
        for step in plan(self._rows, fresh, self._sort_key):
            if step.kind == "remove":
                self.beginRemoveRows(QModelIndex(), step.first, step.last)
                del self._rows[step.first:step.last + 1]
                self.endRemoveRows()
                continue
            for row in step.rows:
                self._flash[identity(row)] = now + FLASH_SECONDS
            if step.kind == "insert":
                self.beginInsertRows(QModelIndex(), step.first, step.first + len(step.rows) - 1)
                self._rows[step.first:step.first] = step.rows
                self.endInsertRows()
            else:
                self._rows[step.first] = step.rows[0]
                self.dataChanged.emit(self.index(step.first, 0), self.index(step.first, len(COLUMNS) - 1))
        if self._flash:
            self._flash_timer.start()

    def _read_done(self, *, failed: bool) -> None:
        self._reading = False
        if failed:
            self._drain_timer.start(RETRY_MS)
        elif self._window_stale or self._count_stale:
            self._drain_timer.start(0)

    def _set_total(self, total: int) -> None:
        if total != self._total:
            self._total = total
        self.totalChanged.emit(self._total)

    def _beyond_loaded_pages(self, customer: str) -> bool:
        """True if every row of this customer sorts after the loaded pages (sorted by customer only):
        such rows need no re-read now; fetchMore brings them when the view scrolls there."""
        if self.sort_column != 0 or not self._rows or len(self._rows) >= self._total:
            return False
        last = self._rows[-1].customer_id
        return customer < last if self.descending else customer > last

    def _expire_flashes(self) -> None:
        now = time.monotonic()
        expired = {identity for identity, until in self._flash.items() if until <= now}
        for identity in expired:
            del self._flash[identity]
        if expired and self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1),
                                  [Qt.ItemDataRole.BackgroundRole])
        if not self._flash:
            self._flash_timer.stop()

    # -- for copy and export --------------------------------------------------------------------
    def all_rows(self) -> list[ItemRow]:
        """Every row the tab shows (its filter and sort), loaded pages or not: read afresh."""
        return self.source.items(self.band, self.customer, self.search, order_by=self._order_by(),
                                 descending=self.descending)

    # -- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def row_at(self, index: int) -> ItemRow:
        return self._rows[index]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        name = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return display_text(row, name)
        if role == Qt.ItemDataRole.TextAlignmentRole and name in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            if identity(row) in self._flash:
                return FLASH_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole and name == "last_ordered":
            return f"first ordered {format_time(row.first_ordered)}"
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.TextAlignmentRole and orientation == Qt.Orientation.Horizontal:
            if COLUMNS[section][0] in NUMERIC:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        descending = order == Qt.SortOrder.DescendingOrder
        if (column, descending) != (self.sort_column, self.descending):
            self.sort_column, self.descending = column, descending
            self.reload()


class ItemsView(QTableView):
    def __init__(self, model: ItemsTableModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)  # the model's own order
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(24)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((160, 240, 100, 90, 80, 140)):
            self.setColumnWidth(column, width)
