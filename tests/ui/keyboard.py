"""Drive the window as a clerk does: every key goes to whichever widget has the keyboard focus."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

CTRL = Qt.KeyboardModifier.ControlModifier


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "no widget has the keyboard focus"
    return widget


def type_text(text: str) -> None:
    for character in text:
        QTest.keyClicks(focused(), character)


def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(focused(), key, modifier)


def focus_customer_box(desk, qtbot) -> None:
    """The window active and the Customer box focused, as after a click into it."""
    desk.activateWindow()
    qtbot.waitUntil(desk.isActiveWindow, timeout=5000)
    desk.form.customer.setFocus()
    qtbot.waitUntil(lambda: desk.form.customer.hasFocus(), timeout=5000)


def type_order(customer: str, *cells: str) -> None:
    """Customer, Tab, then each cell followed by Tab, except the last (its editor is left open)."""
    type_text(customer)
    press(Qt.Key.Key_Tab)
    type_cells(*cells)


def type_cells(*cells: str) -> None:
    """Each cell followed by Tab, except the last (its editor is left open)."""
    for position, text in enumerate(cells):
        type_text(text)
        if position < len(cells) - 1:
            press(Qt.Key.Key_Tab)
