"""The Chart tab (Ctrl+5): the picture of the day in the window, fed from whatever view the tabs show.

A tab, not a dock: it gets the whole right-hand side (a dock beside the tabs would squeeze the tables at
1200 px), it sits with the other views under Ctrl+1..5, and the order form stays in reach to watch it grow.
It reads the window's `view_source` (the live QueryService, or a read model as of a moment) on a thread of
its own: after each `viewSourceChanged` at once; while live, after the bridge reports changes or a reset,
at most once a THROTTLE_MS (longer when reads are slow), and only while the tab is shown (a hidden chart
is marked stale and read when shown). The customer filter and search apply to the tabs only: the footer
says so on this tab.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from desktop_app.query.day_values import DayValues, Unit
from desktop_app.query.view_health import ViewUnavailable
from desktop_app.ui.day_chart import DayChart, write_chart_csv
from desktop_app.ui.items_tab import format_pounds

log = logging.getLogger(__name__)

CHART_TITLE = "Chart"
THROTTLE_MS = 1000  # live re-reads at most this often: a read scans every placed order (bench/day_values.py)
READ_SHARE = 4  # and no sooner than this many times the last read's duration after it: at most a quarter of the time


def read_values(source: Any, unit: Unit, moment: datetime | None) -> DayValues:
    """What the chart shows of `source`: every day from the first order to the last, or every hour of the
    view's day (today, or the moment's day) — of the last day with orders when that day has none."""
    if unit is Unit.DAY:
        return source.day_values().filled()
    day = (moment or datetime.now(timezone.utc)).astimezone().date()
    hours = source.hour_values(day)
    if not hours.buckets:
        last = source.last_order_day()
        if last is not None and last != day:
            hours = source.hour_values(last)
    return hours.filled()


def describe(unit: Unit, values: DayValues | None, moment: datetime | None) -> str:
    """'Live: £ ordered per day', 'As of Fri 27 Nov 2026 18:00: £ ordered per hour of Fri 27 Nov'."""
    when = "Live" if moment is None else f"As of {moment.astimezone():%a %d %b %Y %H:%M}"
    if unit is Unit.DAY:
        return f"{when}: £ ordered per day"
    day = f" of {values.day:%a %d %b %Y}" if values is not None and values.day is not None else ""
    return f"{when}: £ ordered per hour{day}"


class ChartTab(QObject):
    """Adds the Chart tab and View → Chart (Ctrl+5) to `window`, and keeps the chart following its view."""

    _read_done = Signal(int, object, object, float)  # generation, DayValues or None, error text or None, seconds

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window: Any = window
        self.chart = DayChart()
        window.tabs.addTab(self.chart, CHART_TITLE)
        self.reads = 0  # reads shown so far (tests wait on it)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="day-chart")
        self._generation = 0  # bumped when what to read changes: older answers are dropped
        self._reading = False
        self._again = False
        self._stale = True
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(lambda: self._read_now() if self.shown else None)  # hidden: stays stale
        self._read_done.connect(self._show_read)
        self._dialog: QFileDialog | None = None

        self._add_view_action()
        window.bridge.keysChanged.connect(self._live_changed)
        window.bridge.viewReset.connect(self._live_changed)
        window.viewSourceChanged.connect(self._source_changed)
        window.tabs.currentChanged.connect(self._tab_changed)
        self.chart.unitChanged.connect(lambda _unit: self._source_changed())
        self.chart.exportPngRequested.connect(lambda: self._ask_path("png"))
        self.chart.exportCsvRequested.connect(lambda: self._ask_path("csv"))
        window.installEventFilter(self)
        self.chart.installEventFilter(self)

    def _add_view_action(self) -> None:
        view_menu = next((m for m in self.window.menuBar().findChildren(QMenu) if m.title() == "&View"), None)
        self.show_action = QAction("Chart", self.window, shortcut=QKeySequence("Ctrl+5"))
        self.show_action.triggered.connect(lambda: self.window.tabs.setCurrentWidget(self.chart))
        if isinstance(view_menu, QMenu):
            separators = [a for a in view_menu.actions() if a.isSeparator()]
            view_menu.insertAction(separators[0] if separators else None, self.show_action)
        else:
            self.window.addAction(self.show_action)

    # -- when to read ---------------------------------------------------------------------------------------
    @property
    def shown(self) -> bool:
        return self.window.tabs.currentWidget() is self.chart and self.chart.isVisible()

    def _live_changed(self, *_args: object) -> None:
        if not self.window.showing_live:  # a view as of a moment does not change
            return
        self._stale = True
        if self.shown and not self._timer.isActive():
            self._timer.start()

    def _source_changed(self, *_args: object) -> None:
        self._generation += 1
        self._stale = True
        if self.shown:
            self._timer.stop()
            self._read_now()

    def _tab_changed(self, _index: int) -> None:
        self._show_footer()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.window and event.type() == QEvent.Type.Close:
            self._closed = True
            self._timer.stop()
            self._executor.shutdown(wait=False, cancel_futures=True)
        elif watched is self.chart and event.type() == QEvent.Type.Show and self._stale:
            self._timer.stop()  # shown (its tab chosen, or the window opened on it): read what was missed
            self._read_now()
        return False

    # -- reading (off the GUI thread) -----------------------------------------------------------------------
    def _read_now(self) -> None:
        if self._closed:
            return
        if self._reading:
            self._again = True
            return
        self._reading, self._stale = True, False
        source, moment, unit = self.window.view_source, self.window.view_moment, self.chart.unit
        self._executor.submit(self._read, self._generation, source, unit, moment)

    def _read(self, generation: int, source: Any, unit: Unit, moment: datetime | None) -> None:
        began = time.monotonic()
        try:
            values, error = read_values(source, unit, moment), None
        except ViewUnavailable as unavailable:
            values, error = None, str(unavailable)
        except Exception as exc:  # noqa: BLE001 - shown on the chart; the next change reads again
            log.exception("reading the chart's values failed")
            values, error = None, f"could not read the chart: {exc}"
        try:
            self._read_done.emit(generation, values, error, time.monotonic() - began)
        except RuntimeError:  # the window is gone
            pass

    def _show_read(self, generation: int, values: DayValues | None, error: str | None, seconds: float) -> None:
        self._reading = False
        self._timer.setInterval(max(THROTTLE_MS, int(READ_SHARE * seconds * 1000)))
        if self._closed:
            return
        if generation == self._generation:
            moment = self.window.view_moment
            if values is not None:
                self.chart.show_values(values, describe(self.chart.unit, values, moment))
            else:
                self.chart.show_message(f"{describe(self.chart.unit, None, moment)} — {error}")
            self.reads += 1
            self._show_footer()
        if generation != self._generation:  # what to show changed meanwhile: read it now
            self._read_now()
        elif self._again:  # live changes arrived meanwhile: after the pause
            self._again = False
            self._stale = True
            if not self._timer.isActive():
                self._timer.start()

    def _show_footer(self) -> None:
        if self.window.tabs.currentWidget() is not self.chart:
            return
        values = self.chart.values
        total = "…" if values is None else format_pounds(values.total())
        self.window.footer.setText(f"Every placed order of the view (the customer filter and search apply to the "
                                   f"tabs): total {total}")

    # -- exports --------------------------------------------------------------------------------------------
    def default_name(self, suffix: str) -> str:
        values = self.chart.values
        if values is not None and values.unit is Unit.HOUR and values.day is not None:
            return f"orders-per-hour-{values.day.isoformat()}.{suffix}"
        return f"orders-per-day.{suffix}"

    def export_csv(self) -> None:
        """File → Export tab as CSV… on this tab."""
        self._ask_path("csv")

    def _ask_path(self, suffix: str) -> None:
        what = "chart as PNG" if suffix == "png" else "chart data as CSV"
        dialog = QFileDialog(self.window, f"Export {what}")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("PNG images (*.png)" if suffix == "png" else "CSV files (*.csv)")
        dialog.setDefaultSuffix(suffix)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.selectFile(self.default_name(suffix))
        dialog.fileSelected.connect(lambda path: (self.write_png if suffix == "png" else self.write_csv)(Path(path)))
        self._dialog = dialog
        dialog.open()  # not exec(): no nested event loop under qasync

    def write_png(self, path: Path) -> bool:
        return self._write(path, lambda: self.chart.save_png(path), "the chart")

    def write_csv(self, path: Path) -> bool:
        values = self.chart.values
        if values is None:
            self.window.report("The chart has no data yet: nothing exported")
            return False
        return self._write(path, lambda: write_chart_csv(values, path), f"{len(values.buckets):,} rows of chart data")

    def _write(self, path: Path, work: Any, what: str) -> bool:
        try:
            work()
        except OSError as exc:
            QMessageBox.warning(self.window, "Export failed", f"Could not write {path}: {exc.strerror or exc}")
            return False
        self.window.report(f"Exported {what} to {path}")
        return True
