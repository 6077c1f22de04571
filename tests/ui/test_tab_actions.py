"""What people expect of the window (issue 11, point 11): Ctrl+C on rows, a row menu, File → Export tab
as CSV, a New order button, and a warning before quitting with an order half typed. Real broker."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.query.bands import Band
from tests.ui.keyboard import CTRL, focus_customer_box, press, type_order
from tests.ui.test_main_window import event, produce_from_another_desk

WAIT_MS = 30_000
HEADER = ["Customer", "Item", "Unit price", "Quantity", "Line value", "Orders", "Last ordered"]


def fill_cheap_tab(desk, qtbot, events) -> None:
    produce_from_another_desk(desk.runtime.settings, events).join(60)
    qtbot.waitUntil(lambda: desk.models[Band.CHEAP].total == len(events), timeout=WAIT_MS)


def shown(model, row: int) -> list[str]:
    return [model.data(model.index(row, column)) for column in range(model.columnCount())]


def three_orders() -> list:
    return [event("alice", "Tea", 350, 2), event("bob", "Mug", 499, 1), event("carol", "Pen", 1234 // 10, 3)]


def test_ctrl_c_copies_the_selected_rows_with_a_header(desk, qtbot):
    fill_cheap_tab(desk, qtbot, three_orders())
    view, model = desk.views[Band.CHEAP], desk.models[Band.CHEAP]
    # rows and total are read by two statements, so the total can lead the rows for a moment: wait for both
    qtbot.waitUntil(lambda: model.rowCount() == 3 and not model.busy, timeout=WAIT_MS)
    view.setFocus()
    # explicit selection commands: selectRow() follows the keyboard modifiers, and an earlier test can leave Shift held
    flags = view.selectionModel().SelectionFlag
    view.selectionModel().select(model.index(0, 0), flags.ClearAndSelect | flags.Rows)
    view.selectionModel().select(model.index(2, 0), flags.Select | flags.Rows)
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    QApplication.clipboard().clear()
    press(Qt.Key.Key_C, CTRL)
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0].split("\t") == HEADER
    assert [line.split("\t") for line in lines[1:]] == [shown(model, 0), shown(model, 2)]
    assert lines[1].split("\t")[:4] == ["alice", "Tea", "£3.50", "2"]


def test_the_row_menu_copies_and_filters_to_the_customer(desk, qtbot):
    fill_cheap_tab(desk, qtbot, three_orders())
    view, model = desk.views[Band.CHEAP], desk.models[Band.CHEAP]
    bob = next(row for row in range(model.rowCount()) if model.row_at(row).customer_id == "bob")
    where = view.visualRect(model.index(bob, 1)).center()
    QApplication.sendEvent(view.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, where,
                                                              view.viewport().mapToGlobal(where)))
    menu = desk.row_actions[Band.CHEAP].menu
    assert menu is not None
    actions = {action.text().replace("&", ""): action for action in menu.actions()}
    assert set(actions) == {"Show the orders behind this row", "Why this row?…", "Copy rows", "Show only bob's items"}
    actions["Copy rows"].trigger()
    assert QApplication.clipboard().text().splitlines()[1].split("\t") == shown(model, bob)
    menu.close()
    actions["Show only bob's items"].trigger()
    assert desk.customer_filter.currentText() == "bob"
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=WAIT_MS)
    assert model.row_at(0).customer_id == "bob"


def export_tab(desk, qtbot, path) -> None:
    desk.export_action.trigger()
    dialog = desk.tab_export.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    dialog.selectFile(str(path))
    dialog.accept()
    qtbot.waitUntil(path.exists, timeout=5000)


def read_csv(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as file:
        return list(csv.reader(file))


def test_export_writes_the_tab_as_shown_with_its_filter(desk, qtbot, tmp_path):
    bulk = [event("bulk", f"item-{number:04d}", 100 + number % 300) for number in range(620)]
    fill_cheap_tab(desk, qtbot, [*bulk, *three_orders()])
    desk.reload_all()  # as on a fresh start: the tab loads its first page only
    model = desk.models[Band.CHEAP]
    assert model.rowCount() < model.total  # only the first pages are loaded

    everything = tmp_path / "cheap.csv"
    export_tab(desk, qtbot, everything)
    rows = read_csv(everything)
    assert rows[0] == HEADER
    assert len(rows) == 1 + 623  # every row of the tab, loaded or not
    assert rows[1:1 + model.rowCount()] == [shown(model, row) for row in range(model.rowCount())]

    desk.search.setText("Mug")
    qtbot.waitUntil(lambda: model.total == 1, timeout=WAIT_MS)
    filtered = tmp_path / "mug.csv"
    export_tab(desk, qtbot, filtered)
    assert read_csv(filtered) == [HEADER, shown(model, 0)]
    assert read_csv(filtered)[1][:3] == ["bob", "Mug", "£4.99"]


def test_new_order_clears_the_form(desk, qtbot):
    focus_customer_box(desk, qtbot)
    type_order("alice", "Tea", "4.999")
    desk.form.place_button.click()
    qtbot.waitUntil(desk.form.lines_error.isVisible, timeout=WAIT_MS)
    desk.form.new_button.click()
    assert desk.form.customer.currentText() == ""
    assert desk.form.lines.rowCount() == 1 and desk.form.lines.item(0, 0).text() == ""
    assert not desk.form.lines_error.isVisible()
    assert not desk.form.has_unplaced_input()


def test_quitting_with_an_order_half_typed_asks_first(desk, qtbot):
    focus_customer_box(desk, qtbot)
    type_order("alice", "Tea", "3.5")  # the price is still in its editor
    press(Qt.Key.Key_Q, CTRL)
    box = desk.quit_guard.box
    assert box is not None and box.isVisible()
    assert desk.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=5000)
    assert desk.isVisible()
    assert desk.form.command().lines[0].price == "3.5"  # nothing lost by asking

    desk.activateWindow()
    qtbot.waitUntil(desk.isActiveWindow, timeout=5000)
    press(Qt.Key.Key_Q, CTRL)
    box = desk.quit_guard.box
    assert box.isVisible()
    box.button(QMessageBox.StandardButton.Discard).click()
    qtbot.waitUntil(lambda: not desk.isVisible(), timeout=5000)


def test_quitting_with_nothing_typed_does_not_ask(desk, qtbot):
    focus_customer_box(desk, qtbot)
    press(Qt.Key.Key_Q, CTRL)
    qtbot.waitUntil(lambda: not desk.isVisible(), timeout=5000)
    assert desk.quit_guard.box is None
