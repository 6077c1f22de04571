"""Ctrl+L leaves only the new line selected (seen under Xvfb: after Ctrl+L twice all three Item cells were
highlighted, because Ctrl was still held when the new cell became current, which extends the selection;
*Remove line* then removes only one of the lines that look selected)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop_app.ui.order_form import OrderForm
from tests.ui.keyboard import CTRL, press


def test_each_new_line_is_the_only_selected_one(qtbot):
    form = OrderForm()
    qtbot.addWidget(form)
    form.show()
    form.activateWindow()
    qtbot.waitUntil(form.isActiveWindow, timeout=5000)
    form.lines.setFocus()
    qtbot.waitUntil(form.lines.hasFocus, timeout=5000)
    press(Qt.Key.Key_L, CTRL)
    press(Qt.Key.Key_L, CTRL)
    assert form.lines.rowCount() == 3
    selected = {(index.row(), index.column()) for index in form.lines.selectedIndexes()}
    assert selected == {(2, 0)}
    press(Qt.Key.Key_L, CTRL | Qt.KeyboardModifier.ShiftModifier)  # removes the current line
    assert form.lines.rowCount() == 2
    assert len({index.row() for index in form.lines.selectedIndexes()}) <= 1
