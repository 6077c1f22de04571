"""The picture of the day: ordered £ per price band per day (or per hour of one day), as stacked bars.

Drawn with pyqtgraph (the one module that imports it, with the chart tab's exports): Qt Charts is in
PySide6-Addons, a far larger download than pyqtgraph and numpy for every install. The widget draws the
`DayValues` it is given and writes them out: PNG (the plot as shown) and CSV (pounds with two decimals,
formatted from integer pence, never from the floats the bars are drawn with). What to read and when is
`ui/chart_tab.py`'s job.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from desktop_app.query.bands import Band
from desktop_app.query.day_values import DayValues, Unit
from desktop_app.query.pounds import pence_to_decimal
from desktop_app.ui.items_tab import BAND_TITLES, format_pounds
from desktop_app.ui.table_text import CSV_ENCODING

BAND_COLOURS = {Band.CHEAP: "#4c9a2a", Band.AFFORDABLE: "#2f6db5", Band.EXPENSIVE: "#d9822b"}
BAR_WIDTH = 0.8  # of a bucket
MOST_LABELS = 12  # day or hour labels on the axis; between them, ticks only
PNG_WIDTH = 1200  # pixels of an exported picture
MIN_SLOTS = 7  # the axis is never narrower than this many bars
HEADROOM = 1.15  # above the highest bar: room for the legend


def bucket_label(unit: Unit, bucket: datetime) -> str:
    return bucket.strftime("%a %d %b") if unit is Unit.DAY else bucket.strftime("%H:00")


def csv_rows(values: DayValues) -> list[list[str]]:
    """The data behind the chart: one row per bucket, £ per band and in total, exact from integer pence."""
    first = "Day" if values.unit is Unit.DAY else "Hour"
    rows = [[first, *(f"{BAND_TITLES[band]} (£)" for band in Band), "Total (£)"]]
    for index, bucket in enumerate(values.buckets):
        when = bucket.strftime("%Y-%m-%d") if values.unit is Unit.DAY else bucket.strftime("%Y-%m-%d %H:00")
        pence = [values.pence[band][index] for band in Band]
        rows.append([when, *(str(pence_to_decimal(p)) for p in pence), str(pence_to_decimal(sum(pence)))])
    return rows


def write_chart_csv(values: DayValues, path: Path) -> int:
    """The chart's data to `path` (UTF-8 with a byte-order mark, as the tabs' CSV); returns the rows written."""
    rows = csv_rows(values)
    with open(path, "w", newline="", encoding=CSV_ENCODING) as file:
        csv.writer(file).writerows(rows)
    return len(rows) - 1


class PoundsAxis(pg.AxisItem):
    """The value axis in £ (tick positions are drawing floats; the money itself is never read from them)."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        decimals = 0 if spacing >= 1 else 2
        return [f"£{value:,.{decimals}f}" for value in values]


class DayChart(QWidget):
    """Day/Hour switch, the bars under a title saying what they show (live, or as of a moment) and their
    total, each band's total in the legend, a caption for what went wrong, and the exports."""

    unitChanged = Signal(object)  # Unit
    exportPngRequested = Signal()
    exportCsvRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: DayValues | None = None  # what the bars show (filled: every bucket on the axis)
        self._what = ""
        self.unit = Unit.DAY
        self.day_button = self._switch("&Day", "Ordered £ per band per day")
        self.hour_button = self._switch("H&our", "Ordered £ per band per hour of today (or of the last day "
                                                 "with orders; as of a moment: of that moment's day)")
        self.day_button.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.day_button)
        group.addButton(self.hour_button)
        group.buttonClicked.connect(lambda button: self.set_unit(Unit.DAY if button is self.day_button
                                                                  else Unit.HOUR))
        self.caption = QLabel("Reading…")
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # triggered carries `checked`; the signals carry nothing
        self.export_png_action = QAction("Export chart as &PNG…", self)
        self.export_png_action.triggered.connect(lambda _checked=False: self.exportPngRequested.emit())
        self.export_csv_action = QAction("Export chart &data as CSV…", self)
        self.export_csv_action.triggered.connect(lambda _checked=False: self.exportCsvRequested.emit())
        bar = QHBoxLayout()
        bar.addWidget(self.day_button)
        bar.addWidget(self.hour_button)
        bar.addWidget(self.caption, 1)
        for action, text in ((self.export_png_action, "PNG…"), (self.export_csv_action, "CSV…")):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setText(text)
            button.setToolTip(action.text().replace("&", ""))
            bar.addWidget(button)

        self.plot = pg.PlotWidget(background="w", axisItems={"left": PoundsAxis("left")})
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)  # pyqtgraph's own menu would export its float copy of the data
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.showGrid(y=True, alpha=0.25)
        item.setLabel("left", "Ordered", color="#333")
        self.plot.scene().contextMenu = []  # the scene's "Export…" entry, for the same reason
        self.plot.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.plot.addAction(self.export_png_action)
        self.plot.addAction(self.export_csv_action)
        self.legend = item.addLegend(offset=(10, 4), colCount=len(Band), labelTextColor="#222",
                                     brush=pg.mkBrush(255, 255, 255, 220))
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setTextPen("#333")
            axis.setPen("#999")
        self.bars: dict[Band, pg.BarGraphItem] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)

    def _switch(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(True)
        return button

    def set_unit(self, unit: Unit) -> None:
        """Day or Hour (the buttons, Alt+D / Alt+O); the feed re-reads and calls show_values."""
        self.unit = unit
        (self.day_button if unit is Unit.DAY else self.hour_button).setChecked(True)
        self.unitChanged.emit(unit)

    @property
    def what(self) -> str:
        """What the bars show: 'Live: £ ordered per day', 'As of …: £ ordered per hour of …'."""
        return self._what

    def show_message(self, text: str) -> None:
        """Why the chart could not be read (it keeps the bars it had)."""
        self.caption.setText(text)

    def show_values(self, values: DayValues, what: str) -> None:
        """Draw `values` (every bucket on the axis: DayValues.filled) under the title `what` and their total."""
        self.values = values
        item = self.plot.getPlotItem()
        for bars in self.bars.values():
            item.removeItem(bars)
            self.legend.removeItem(bars)
        self.bars = {}
        positions = list(range(len(values.buckets)))
        below = [0.0] * len(positions)
        for band in Band:
            heights = [float(pence_to_decimal(p)) for p in values.pence[band]]  # drawing only
            bars = pg.BarGraphItem(x=positions, height=heights, y0=below, width=BAR_WIDTH,
                                   brush=BAND_COLOURS[band], pen=pg.mkPen("w", width=0.5),
                                   name=f"{BAND_TITLES[band]} {format_pounds(values.total(band))}")
            item.addItem(bars)
            self.bars[band] = bars
            below = [b + h for b, h in zip(below, heights)]
        self._label_axis(values)
        self._what = what
        total = f"total {format_pounds(values.total())}" if values.buckets else "no orders"
        item.setTitle(f"{what} · {total}", color="#333", size="11pt")
        spare = max(0, MIN_SLOTS - len(positions)) / 2  # a day or two stay bar-wide, centred
        item.setXRange(-0.6 - spare, len(positions) - 0.4 + spare, padding=0)
        item.setYRange(0, max([*below, 1.0]) * HEADROOM, padding=0)
        self.caption.setText("")  # the title says what is shown; the caption is for what went wrong

    def _label_axis(self, values: DayValues) -> None:
        step = max(1, -(-len(values.buckets) // MOST_LABELS))
        major = [(i, bucket_label(values.unit, b)) for i, b in enumerate(values.buckets) if i % step == 0]
        minor = [(i, "") for i in range(len(values.buckets)) if i % step]
        self.plot.getPlotItem().getAxis("bottom").setTicks([major, minor])

    def save_png(self, path: Path) -> None:
        """The plot as shown (title and total, legend with each band's total, bars, axes), PNG_WIDTH wide."""
        exporter: Any = pyqtgraph.exporters.ImageExporter(self.plot.getPlotItem())
        exporter.parameters()["width"] = PNG_WIDTH
        exporter.export(str(path))

