"""Placing an order from the keyboard (issue 11, points 1 and 2), against the real broker."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop_app.query.bands import Band
from tests.ui.keyboard import CTRL, focus_customer_box, press, type_cells, type_order, type_text

WAIT_MS = 30_000


def ordered(desk) -> list[tuple[str, str, int, int]]:
    return sorted((r.customer_id, r.item, r.unit_price_pence, r.quantity) for r in desk.query.items())


def test_ctrl_enter_with_the_quantity_still_in_its_editor_places_what_was_typed(desk, qtbot):
    """Point 1: customer alice, Tab, Tea, Tab, 3.50, Tab, 2, then Ctrl+Enter at once."""
    focus_customer_box(desk, qtbot)
    type_order("alice", "Tea", "3.50", "2")
    press(Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: "<b>visible</b>" in desk.form.receipt.text(), timeout=WAIT_MS)
    assert ordered(desk) == [("alice", "Tea", 350, 2)]


def test_ctrl_enter_with_the_price_still_in_its_editor_places_what_was_typed(desk, qtbot):
    """Point 1: the order ends with price 4.99 + Ctrl+Enter; it once said "price: is required"."""
    focus_customer_box(desk, qtbot)
    type_order("alice", "Tea", "4.99")
    press(Qt.Key.Key_Enter, CTRL)
    qtbot.waitUntil(lambda: "<b>visible</b>" in desk.form.receipt.text(), timeout=WAIT_MS)
    assert not desk.form.lines_error.isVisible()
    assert ordered(desk) == [("alice", "Tea", 499, 1)]


def test_return_in_the_customer_box_places_the_order(desk, qtbot):
    """Point 1: the Place button is drawn as the default, so Return in the Customer box places."""
    focus_customer_box(desk, qtbot)
    type_order("bob", "Mug", "6.00", "3")
    press(Qt.Key.Key_Tab)  # the quantity commits; Shift+Tab back to the customer box
    desk.form.customer.setFocus()
    qtbot.waitUntil(lambda: desk.form.customer.hasFocus(), timeout=5000)
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "<b>visible</b>" in desk.form.receipt.text(), timeout=WAIT_MS)
    assert ordered(desk) == [("bob", "Mug", 600, 3)]


def test_the_customer_box_never_rewrites_the_case_of_what_was_typed(desk, qtbot):
    """Point 2: with Alice a known customer, typing alice + Tab keeps alice, and the order goes to alice."""
    focus_customer_box(desk, qtbot)
    type_order("Alice", "Tea", "3.50", "1")
    press(Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: "<b>visible</b>" in desk.form.receipt.text(), timeout=WAIT_MS)
    desk.refresh_customers()
    assert desk.form.customer.findText("Alice") >= 0  # the completer knows Alice

    focus_customer_box(desk, qtbot)
    type_text("alice")
    press(Qt.Key.Key_Tab)
    assert desk.form.customer.currentText() == "alice"
    type_cells("Mug", "6.00", "2")
    press(Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: desk.models[Band.AFFORDABLE].total == 1, timeout=WAIT_MS)
    assert ordered(desk) == [("Alice", "Tea", 350, 1), ("alice", "Mug", 600, 2)]
