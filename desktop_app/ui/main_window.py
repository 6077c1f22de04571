"""The main window: order entry on the left; on the right the three live price-band tabs and the Orders tab."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from desktop_app.command.model import InvalidOrder, PlaceOrder, check
from desktop_app.query.bands import Band
from desktop_app.query.view_health import ViewUnavailable
from desktop_app.query.views import ItemRow
from desktop_app.ui.as_of_banner import AsOfBanner
from desktop_app.ui.bridge import ProjectionBridge
from desktop_app.ui.chart_tab import ChartTab
from desktop_app.ui.desk_actions import QuitGuard, TabExport
from desktop_app.ui.desk_dialogs import show_about, show_quarantine
from desktop_app.ui.desk_menus import build_menus
from desktop_app.ui.history_launch import HistoryLauncher
from desktop_app.ui.items_actions import RowActions
from desktop_app.ui.items_tab import BAND_TITLES, ItemsTableModel, ItemsView
from desktop_app.ui.order_actions import OrderActions
from desktop_app.ui.order_form import OrderForm
from desktop_app.ui.orders_model import BandRow, OrdersTableModel
from desktop_app.ui.orders_tab import ORDERS_TITLE, OrdersTab
from desktop_app.ui.paged_model import PagedRowsModel
from desktop_app.ui.rebuild_control import RebuildControl
from desktop_app.ui.receipt_follow import ReceiptFollower
from desktop_app.ui.receipt_text import PlacedOrder
from desktop_app.ui.status_bar import DeskStatus, DeskStatusBar
from desktop_app.ui.tab_footer import TabFooter

log = logging.getLogger(__name__)

ALL_CUSTOMERS = "All customers"
SEARCH_HINTS = {False: "Search items and customers (Ctrl+F)", True: "Search order ids and customers (Ctrl+F)"}
STATUS_EVERY_MS = 1000
# The projector thread is CPU-bound during bursts; a shorter GIL switch interval (default 5 ms) lets
# the GUI thread win the GIL back quickly after each SQLite call, which releases it.
GIL_SWITCH_INTERVAL_S = 0.0005


class MainWindow(QMainWindow):
    # the view the tabs show changed: (reads, moment). reads: the live QueryService, or a read model as of
    # `moment` (an aware datetime; None for the live view). Whatever follows the tabs (the chart) listens here.
    viewSourceChanged = Signal(object, object)

    def __init__(self, runtime: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self.runtime = runtime
        self.command = runtime.command
        self.query = runtime.query
        self.view_source: Any = self.query  # what the tabs read (see show_view)
        self.view_moment: Any = None
        self.setWindowTitle("Order Desk")
        self.prefs = QSettings()  # the application's organisation and name, in the default format

        self.form = OrderForm(validate=self.command.validate)
        self.bridge = ProjectionBridge(self)
        self._row_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="view-rows")  # one for all tabs
        self.models = {band: ItemsTableModel(self.query, band, self, self._row_reader) for band in Band}
        self.views = {band: ItemsView(model) for band, model in self.models.items()}
        self.row_actions = {band: RowActions(view, self.filter_to_customer, self.show_orders_behind)
                            for band, view in self.views.items()}
        self.receipts = ReceiptFollower(self.form, self.command, self.query)
        self.order_actions = OrderActions(self, self.command, self.query, self.form, self.receipts, self.report)
        self.orders = OrdersTableModel(self.query, self, self._row_reader)
        self.orders_tab = OrdersTab(self.orders, self.order_actions.cancel, self.order_actions.amend, self.report)
        self.history = HistoryLauncher(self)  # Why this row? (Ctrl+H) on the band rows and the orders
        self.tab_models: list[PagedRowsModel] = [*self.models.values(), self.orders]  # in tab order
        self.tabs = QTabWidget()
        for band, view in self.views.items():
            self.tabs.addTab(view, BAND_TITLES[band])
        self.tabs.addTab(self.orders_tab, ORDERS_TITLE)
        self.customer_filter = QComboBox()
        self.customer_filter.setMinimumWidth(180)
        self.customer_filter.setToolTip("Show one customer's items (Ctrl+Shift+F)")
        self.search = QLineEdit()
        self.search.setPlaceholderText(SEARCH_HINTS[False])
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Customer:"))
        filters.addWidget(self.customer_filter)
        filters.addWidget(self.search, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(filters)
        self.as_of_banner = AsOfBanner()  # "As of Fri 27 Nov 18:00 — read-only", Back to live (see as_of_control)
        right_layout.addWidget(self.as_of_banner)
        right_layout.addWidget(self.tabs, 1)
        self.footer = TabFooter()
        right_layout.addWidget(self.footer)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.form)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([380, 820])
        self.setCentralWidget(self.splitter)
        self.status = DeskStatusBar()
        self.setStatusBar(self.status)
        self.quit_guard = QuitGuard(self, self.form)
        self.tab_export = TabExport(self, self.report)
        build_menus(self)
        self.chart_tab = ChartTab(self)  # the fifth tab (Ctrl+5): the picture of the day, following show_view

        self.rebuild_panel = self.status.rebuild  # the one place a rebuild's progress shows; never modal
        self.rebuilds = RebuildControl(self, self.query, self.bridge, self.rebuild_panel, self.rebuild_action,
                                       on_swapped=self.reload_all)
        self._ever_connected = False
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_EVERY_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._customers_timer = QTimer(self)
        self._customers_timer.setSingleShot(True)
        self._customers_timer.setInterval(500)
        self._customers_timer.timeout.connect(self.refresh_customers)

        self.form.orderRequested.connect(self.place_order)
        self.bridge.keysChanged.connect(self._apply_changed_keys)
        self.bridge.viewReset.connect(self.reload_all)
        self.bridge.viewReset.connect(self._customers_timer.start)  # a rebuilt view may know new customers
        self.customer_filter.currentIndexChanged.connect(self._apply_filters)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self._search_timer.timeout.connect(self._apply_filters)
        self.status.quarantineRequested.connect(self.show_quarantine)
        for model in self.tab_models:
            model.totalChanged.connect(self._update_tab_titles)
            model.valueChanged.connect(self._update_footer)
        self.orders.modelReset.connect(self._update_footer)  # in or out of "the orders behind a row"
        self.tabs.currentChanged.connect(self._current_tab_changed)
        self.query.add_listener(self.bridge.on_change)
        self._restore_preferences()

    def report(self, message: str) -> None:
        """A one-line message in the status bar, for a few seconds."""
        self.statusBar().showMessage(message, 8000)

    # -- menus -----------------------------------------------------------------------------------
    # -- start and stop --------------------------------------------------------------------------
    def start(self) -> None:
        self.reload_all()
        self.refresh_customers()
        self._status_timer.start()
        self.refresh_status()

    def request_quit(self) -> None:
        """File → Quit: asks first if an order is half typed."""
        if self.quit_guard.may_close():
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        # The person closing the window (window manager) is asked like File → Quit; a programmatic close is not.
        if event.spontaneous() and not self.quit_guard.may_close():
            event.ignore()
            return
        self._closed = True
        self.as_of.close()  # its temporary view is deleted
        self.query.remove_listener(self.bridge.on_change)
        self._status_timer.stop()
        self.receipts.stop()
        self.order_actions.stop()
        for model in self.tab_models:
            model.close()
        self._row_reader.shutdown(wait=False, cancel_futures=True)
        self._save_preferences()
        super().closeEvent(event)

    def _restore_preferences(self) -> None:
        geometry = self.prefs.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 720)
        splitter = self.prefs.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        self._saved_customer = str(self.prefs.value("filters/customer", "") or "")
        self.search.blockSignals(True)
        self.search.setText(str(self.prefs.value("filters/search", "") or ""))
        self.search.blockSignals(False)
        self.tabs.setCurrentIndex(int(self.prefs.value("filters/tab", 0) or 0))
        self._set_model_filters()

    def _save_preferences(self) -> None:
        self.prefs.setValue("window/geometry", self.saveGeometry())
        self.prefs.setValue("window/splitter", self.splitter.saveState())
        self.prefs.setValue("filters/customer", self._selected_customer() or "")
        self.prefs.setValue("filters/search", self.search.text())
        self.prefs.setValue("filters/tab", self.tabs.currentIndex())
        self.prefs.sync()

    # -- the tabs --------------------------------------------------------------------------------
    def _selected_customer(self) -> str | None:
        text = self.customer_filter.currentText()
        return None if self.customer_filter.currentIndex() <= 0 or not text else text

    def _set_model_filters(self) -> None:
        customer = self._selected_customer() if self.customer_filter.count() else (self._saved_customer or None)
        for model in self.tab_models:
            model.customer = customer
            model.search = self.search.text().strip() or None

    def _apply_filters(self) -> None:
        for model in self.tab_models:
            model.set_filter(self._selected_customer(), self.search.text())

    def filter_to_customer(self, customer: str) -> None:
        """Right-click → Show only this customer's items."""
        if self.customer_filter.findText(customer) < 0:
            self.refresh_customers()
        index = self.customer_filter.findText(customer)
        if index > 0:
            self.customer_filter.setCurrentIndex(index)

    def show_orders_behind(self, row: ItemRow) -> None:
        """Enter or a double-click on a band row: the Orders tab lists the placed orders that make it."""
        self.orders.show_behind(BandRow.of(row))
        self.tabs.setCurrentWidget(self.orders_tab)
        self.orders_tab.focus_first_order()

    def export_current_tab(self) -> None:
        if self.tabs.currentWidget() is self.chart_tab.chart:
            self.chart_tab.export_csv()
            return
        if self.tabs.currentWidget() is self.orders_tab:
            self.tab_export.start(self.orders, ORDERS_TITLE, "orders.csv")
            return
        band = list(Band)[self.tabs.currentIndex()]
        self.tab_export.start(self.models[band], BAND_TITLES[band], f"{band.value}-items.csv")

    def reload_all(self) -> None:
        self._set_model_filters()
        for model in self.tab_models:
            model.reload()
        self._update_tab_titles()

    def show_view(self, source: Any, moment: Any = None) -> None:
        """Let the tabs read `source` (the live QueryService, or a read model as of `moment`) and reload them."""
        self.view_source, self.view_moment = source, moment
        for model in self.tab_models:
            model.source = source
        self.reload_all()
        self.viewSourceChanged.emit(source, moment)

    @property
    def showing_live(self) -> bool:
        return self.view_source is self.query

    def _apply_changed_keys(self, keys: frozenset) -> None:
        if not self.showing_live:  # a view as of a moment does not change: nothing to re-read
            return
        for model in self.tab_models:
            model.apply_changed_keys(keys)
        known = self._known_customer_set
        if any(customer not in known for customer, _band in keys):
            self._customers_timer.start()

    def _update_tab_titles(self, *_args: object) -> None:
        titles = [*(BAND_TITLES[band] for band in Band), ORDERS_TITLE]
        for index, (title, model) in enumerate(zip(titles, self.tab_models)):
            title = f"{title} ({model.total:,})"
            if self.tabs.tabText(index) != title:  # each change lays the tab bar out again
                self.tabs.setTabText(index, title)
        self._update_footer()

    def _current_tab_changed(self, _index: int) -> None:
        self.search.setPlaceholderText(SEARCH_HINTS[self.tabs.currentWidget() is self.orders_tab])
        self._update_footer()

    def _update_footer(self, *_args: object) -> None:
        index = self.tabs.currentIndex()
        for position, model in enumerate(self.tab_models):
            model.set_value_wanted(position == index)  # only the footer shown needs its total
        if 0 <= index < len(self.tab_models):
            model = self.tab_models[index]
            singular, plural = ("order", "orders") if model is self.orders else ("row", "rows")
            self.footer.show_model(model, singular, plural)

    _known_customers: tuple[str, ...] | None = None
    _known_customer_set: frozenset[str] = frozenset()

    def refresh_customers(self) -> None:
        try:
            customers = tuple(self.query.customers())
        except ViewUnavailable:  # being rebuilt after damage: asked again after the swap
            return
        if customers == self._known_customers:
            return
        self._known_customers = customers
        self._known_customer_set = frozenset(customers)
        self.form.set_customers(customers)
        wanted = self._selected_customer() or self._saved_customer
        self.customer_filter.blockSignals(True)
        self.customer_filter.clear()
        self.customer_filter.addItem(ALL_CUSTOMERS)
        self.customer_filter.addItems(list(customers))
        index = self.customer_filter.findText(wanted) if wanted else 0
        self.customer_filter.setCurrentIndex(max(index, 0))
        self.customer_filter.blockSignals(False)
        self._saved_customer = ""
        self._apply_filters()

    # -- placing orders --------------------------------------------------------------------------
    @asyncSlot(object)
    async def place_order(self, command: PlaceOrder) -> None:
        if self.as_of.refuses_change():  # the tabs show a moment in the past: Back to live first
            return
        if self.form.amending is not None:  # the form holds an order being amended
            await self.order_actions.submit_amend(command)
            return
        problems = self.command.validate(command)
        if problems:
            self.form.show_problems(problems)
            return
        try:
            receipt = await self.command.place_order(command)
        except InvalidOrder as invalid:
            self.form.show_problems(invalid.problems)
            return
        except Exception as exc:  # noqa: BLE001 - shown to the person at the counter
            log.exception("placing an order failed")
            self.form.show_receipt(f"Not placed: {exc}")
            return
        self.form.reset()
        self.receipts.follow(PlacedOrder.of(check(command)), receipt)  # the accepted event's customer and lines

    # -- status ----------------------------------------------------------------------------------
    def _collect_status(self) -> tuple[DeskStatus, Any]:
        runtime = self.runtime
        kind = "embedded broker" if runtime.embedded else "external cluster"
        problem = self.query.health or runtime.broker_error or self.command.last_error or self.query.projector_error
        connected = runtime.connection is not None and self.command.relay_connected and not self.query.projector_error
        # Until the first connection, a broker that is still starting is no failure (issue 11, point 10).
        starting = not connected and not self._ever_connected and runtime.broker_error is None
        try:
            lag: int | None = self.query.lag(fresh=False, timeout=2.0).total if connected else None
        except Exception:  # noqa: BLE001 - unknown while the broker is away
            lag = None
        status = DeskStatus(
            broker=f"{kind} at {runtime.bootstrap_servers}",
            connected=connected,
            lag=lag,
            pending=self.command.pending_count(),
            quarantined=self._quarantined_count(),
            problem=problem,
            starting=starting,
            embedded=runtime.embedded,
        )
        return status, self.query.rebuild_status

    def _quarantined_count(self) -> int:
        try:
            return self.query.read_model.quarantined_count()
        except ViewUnavailable:  # being rebuilt after damage: the status bar says so (problem, rebuilding)
            return 0

    _status_busy = False
    _closed = False

    @asyncSlot()
    async def refresh_status(self) -> None:
        if self._status_busy:
            return
        self._status_busy = True
        try:
            asked = time.monotonic()
            status, rebuild = await asyncio.get_running_loop().run_in_executor(None, self._collect_status)
            if not self._closed:
                self._ever_connected = self._ever_connected or status.connected
                self.status.show_status(status)
                self.rebuilds.follow_background(rebuild, asked)
        except Exception:  # noqa: BLE001
            log.exception("status refresh failed")
        finally:
            self._status_busy = False

    def show_quarantine(self) -> None:
        show_quarantine(self, self.query, self.event_log.show_at)

    def show_about(self) -> None:
        show_about(self, self.runtime)

    # -- rebuild ---------------------------------------------------------------------------------
    def confirm_rebuild(self) -> None:
        self.rebuilds.confirm()

    def start_rebuild(self) -> None:
        self.rebuilds.start()
