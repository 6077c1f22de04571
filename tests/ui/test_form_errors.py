"""Problems on the order form (issue 11, point 9): plainly red where they are, gone as each is fixed,
and nothing moves when they come or go. The window runs against the real broker."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget

from tests.ui.keyboard import focus_customer_box, press, type_text

WAIT_MS = 30_000


def is_red(colour: QColor) -> bool:
    return colour.red() >= 150 and colour.red() - colour.green() >= 60 and colour.red() - colour.blue() >= 60


def red_share(image: QImage, rect: QRect) -> float:
    points = [(x, y) for x in range(rect.left(), rect.right() + 1) for y in range(rect.top(), rect.bottom() + 1)]
    return sum(is_red(image.pixelColor(x, y)) for x, y in points) / len(points)


def place_with(desk, qtbot, customer: str, item: str, price: str, quantity: str) -> None:
    desk.form.customer.setEditText(customer)
    desk.form.set_line(0, item, price, quantity)
    desk.form.place_button.click()
    qtbot.waitUntil(lambda: "Not placed" in desk.form.receipt.text(), timeout=WAIT_MS)


def geometry_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def test_a_selected_cell_in_error_is_still_red(desk, qtbot):
    place_with(desk, qtbot, "alice", "Tea", "4.999", "1")
    table = desk.form.lines
    table.setFocus()
    table.setCurrentCell(0, 1)
    index = table.model().index(0, 1)
    assert table.selectionModel().isSelected(index)
    image = table.viewport().grab().toImage()
    assert red_share(image, table.visualRect(index).adjusted(3, 3, -3, -3)) > 0.5


def test_the_customer_box_is_outlined_in_red(desk, qtbot):
    place_with(desk, qtbot, "", "Tea", "3.50", "1")
    assert desk.form.customer_error.isVisible()
    box = desk.form.customer
    image = box.grab().toImage()
    middle_y, middle_x = box.height() // 2, box.width() // 2
    assert is_red(image.pixelColor(1, middle_y))  # left edge
    assert is_red(image.pixelColor(box.width() - 2, middle_y))  # right edge
    assert is_red(image.pixelColor(middle_x, 1))  # top edge


def test_each_error_clears_as_its_field_is_corrected(desk, qtbot):
    place_with(desk, qtbot, "", "Tea", "4.999", "0")
    form = desk.form
    assert form.customer_error.isVisible()
    assert "Line 1 price" in form.lines_error.text() and "Line 1 quantity" in form.lines_error.text()

    focus_customer_box(desk, qtbot)
    type_text("alice")
    assert not form.customer_error.isVisible() and not form.customer_outline.isVisible()
    assert "Line 1 price" in form.lines_error.text()  # the others stay until they are right

    form.lines.setFocus()
    form.lines.setCurrentCell(0, 1)
    type_text("4.99")
    press(Qt.Key.Key_Tab)  # the price commits; the quantity's editor opens
    assert "price" not in form.lines_error.text()
    assert form.lines.item(0, 1).toolTip() == ""
    assert "Line 1 quantity" in form.lines_error.text()
    assert form.lines.item(0, 2).toolTip() != ""

    type_text("2")
    press(Qt.Key.Key_Tab)
    assert not form.lines_error.isVisible()
    assert "Not placed" not in form.receipt.text()
    assert desk.command.pending_count() == 0  # correcting sends nothing; placing does


def test_nothing_moves_when_errors_appear(desk, qtbot):
    form = desk.form
    qtbot.waitUntil(lambda: form.lines.height() > 0, timeout=5000)
    watched = (form.customer, form.lines, form.place_button, form.receipt)
    before = [geometry_in(widget, form) for widget in watched]
    place_with(desk, qtbot, "", "Tea", "4.999", "1")
    assert form.customer_error.isVisible() and form.lines_error.isVisible()
    assert [geometry_in(widget, form) for widget in watched] == before
