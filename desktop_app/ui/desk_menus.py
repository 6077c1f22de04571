"""The main window's menu bar: File, View, Tools and Help, with their shortcuts. The actions other parts of
the window enable or follow (export, rebuild, As of…, the event log) are kept on the window."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QKeySequence

from desktop_app.query.bands import Band
from desktop_app.ui.as_of_control import AsOfControl
from desktop_app.ui.event_log_dialog import EventLogLauncher
from desktop_app.ui.items_tab import BAND_TITLES
from desktop_app.ui.orders_tab import ORDERS_TITLE


def build_menus(window: Any) -> None:
    """Fill `window`'s menu bar (a MainWindow: its form, tabs, filters and commands)."""
    file_menu = window.menuBar().addMenu("&File")
    file_menu.addAction(QAction("&New order", window, shortcut=QKeySequence.StandardKey.New,
                                triggered=window.form.new_order))
    window.export_action = QAction("&Export tab as CSV…", window, shortcut=QKeySequence("Ctrl+Shift+E"),
                                   triggered=window.export_current_tab)
    file_menu.addAction(window.export_action)
    file_menu.addSeparator()
    # Ctrl+Q, not StandardKey.Quit: that one is unbound under some key schemes (Windows, the offscreen platform).
    file_menu.addAction(QAction("&Quit", window, shortcut=QKeySequence("Ctrl+Q"), triggered=window.request_quit))

    view_menu = window.menuBar().addMenu("&View")
    for number, title in enumerate([*(f"{BAND_TITLES[band]} items" for band in Band), ORDERS_TITLE], start=1):
        action = QAction(title, window, shortcut=QKeySequence(f"Ctrl+{number}"))
        action.triggered.connect(lambda _checked=False, index=number - 1: window.tabs.setCurrentIndex(index))
        view_menu.addAction(action)
    view_menu.addSeparator()
    find = QAction("&Search", window, shortcut=QKeySequence.StandardKey.Find)
    find.triggered.connect(lambda: (window.search.setFocus(), window.search.selectAll()))
    view_menu.addAction(find)
    pick = QAction("Filter by &customer", window, shortcut=QKeySequence("Ctrl+Shift+F"))
    pick.triggered.connect(lambda: (window.customer_filter.setFocus(), window.customer_filter.showPopup()))
    view_menu.addAction(pick)
    view_menu.addAction(QAction("&Refresh", window, shortcut=QKeySequence.StandardKey.Refresh,
                                triggered=window.reload_all))
    window.as_of = AsOfControl(window, view_menu, window.as_of_banner)  # View → As of… (Ctrl+Shift+T)

    tools = window.menuBar().addMenu("&Tools")
    window.rebuild_action = QAction("&Rebuild read model…", window, shortcut=QKeySequence("Ctrl+Shift+R"))
    window.rebuild_action.triggered.connect(window.confirm_rebuild)
    tools.addAction(window.rebuild_action)
    tools.addAction(QAction("Show &quarantined records…", window, triggered=window.show_quarantine))
    window.event_log = EventLogLauncher(window, window.query)  # Tools → Event log…
    tools.addAction(window.event_log.action)

    help_menu = window.menuBar().addMenu("&Help")
    help_menu.addAction(QAction("&About Order Desk", window, triggered=window.show_about))
