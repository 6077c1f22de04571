"""The Orders tab (issue 13, point 4): every order listed and searchable, the orders behind a band row on
Enter or a double-click, Cancel order… with a confirmation, Amend order… through the form. Real broker."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop_app.query.bands import Band
from desktop_app.query.orders_view import OrderStatus
from desktop_app.ui.orders_model import COLUMNS
from tests.ui.keyboard import CTRL, press, type_text
from tests.ui.test_main_window import event, place, produce_from_another_desk

WAIT_MS = 30_000
STATUS = [name for name, _title in COLUMNS].index("status")


def place_and_wait(desk, qtbot, customer: str, *lines: tuple[str, str, str]) -> None:
    """Place through the form and wait for THIS order's receipt to say visible (not the last one's)."""
    before = desk.receipts.latest_command_id
    place(desk, customer, *lines)
    qtbot.waitUntil(lambda: desk.receipts.latest_command_id != before
                    and f"for <b>{customer}</b>:" in desk.form.receipt.text()
                    and "<b>visible</b>" in desk.form.receipt.text(), timeout=WAIT_MS)


def settled(desk) -> bool:
    return not any(model.busy for model in desk.tab_models)


def orders_shown(desk) -> list:
    return [desk.orders.row_at(row) for row in range(desk.orders.rowCount())]


def open_orders_tab(desk, qtbot, total: int) -> None:
    desk.activateWindow()
    qtbot.waitUntil(desk.isActiveWindow, timeout=5000)
    press(Qt.Key.Key_4, CTRL)
    assert desk.tabs.currentWidget() is desk.orders_tab
    qtbot.waitUntil(lambda: desk.orders.rowCount() == total and settled(desk), timeout=WAIT_MS)


def select_order(desk, qtbot, position: int) -> None:
    desk.activateWindow()  # back from a dialog
    qtbot.waitUntil(desk.isActiveWindow, timeout=5000)
    view = desk.orders_tab.view
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    view.setCurrentIndex(desk.orders.index(position, 0))


def band_row(desk, band: Band, item: str):
    model = desk.models[band]
    return next((model.row_at(row) for row in range(model.rowCount()) if model.row_at(row).item == item), None)


def wait_for_quantity(desk, qtbot, band: Band, item: str, quantity: int | None) -> None:
    """The band row shows this quantity (None: the row is gone). The orders and the band tabs are re-read
    on their own, so one can be ahead of the other for a moment."""
    def shown() -> int | None:
        row = band_row(desk, band, item)
        return None if row is None else row.quantity

    qtbot.waitUntil(lambda: shown() == quantity and settled(desk), timeout=WAIT_MS)


def struck(desk, position: int) -> bool:
    font = desk.orders.data(desk.orders.index(position, 0), Qt.ItemDataRole.FontRole)
    return font is not None and font.strikeOut()


def test_the_orders_tab_lists_a_placed_order_and_finds_it_by_id_or_customer(desk, qtbot):
    place_and_wait(desk, qtbot, "alice", ("Tea", "3.50", "2"), ("Lamp", "25.00", "1"))
    place_and_wait(desk, qtbot, "bob", ("Pen", "0.99", "3"))
    open_orders_tab(desk, qtbot, 2)
    bob, alice = orders_shown(desk)  # newest first
    shown = [desk.orders.data(desk.orders.index(1, column)) for column in range(len(COLUMNS))]
    assert shown[1:5] == ["alice", "2", "£32.00", "placed"]
    assert shown[5] == str(alice.order_id)[:8] and not struck(desk, 1)
    assert (bob.customer_id, bob.total_pence) == ("bob", 297)
    assert desk.tabs.tabText(3) == "Orders (2)"
    assert desk.footer.text() == "2 orders shown"
    assert desk.search.placeholderText().startswith("Search order ids")

    desk.search.setText(str(alice.order_id)[:6].upper())  # an id prefix, any case
    qtbot.waitUntil(lambda: desk.orders.total == 1 and settled(desk), timeout=WAIT_MS)
    assert orders_shown(desk)[0].order_id == alice.order_id
    assert desk.footer.text() == "1 order shown (filtered)"
    desk.search.setText("BO")  # a customer, any case
    qtbot.waitUntil(lambda: desk.orders.total == 1 and orders_shown(desk)[0].customer_id == "bob", timeout=WAIT_MS)


def test_enter_or_a_double_click_on_a_band_row_lists_the_orders_behind_it(desk, qtbot):
    events = [event("alice", "Tea", 350, 2), event("alice", "Tea", 350, 1), event("alice", "Mug", 120),
              event("bob", "Tea", 350)]
    produce_from_another_desk(desk.runtime.settings, events).join(60)
    cheap = desk.models[Band.CHEAP]
    qtbot.waitUntil(lambda: cheap.rowCount() == 3 and desk.orders.total == 4 and settled(desk), timeout=WAIT_MS)
    view = desk.views[Band.CHEAP]
    alice_tea = next(row for row in range(cheap.rowCount())
                     if (cheap.row_at(row).customer_id, cheap.row_at(row).item) == ("alice", "Tea"))
    where = view.visualRect(cheap.index(alice_tea, 1)).center()
    # a real double-click is a click, then a second press that the platform reports as a double-click
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    assert desk.tabs.currentWidget() is desk.orders_tab
    qtbot.waitUntil(lambda: desk.orders.rowCount() == 2, timeout=WAIT_MS)
    assert {order.order_id for order in orders_shown(desk)} == {events[0].payload.order_id, events[1].payload.order_id}
    assert desk.orders_tab.banner.isVisible()
    assert desk.orders_tab.behind_label.text() == "The 2 placed orders behind alice · Tea at £3.50"
    assert desk.footer.text() == "2 orders shown (filtered)"

    desk.tabs.setCurrentIndex(0)
    bob_tea = next(row for row in range(cheap.rowCount()) if cheap.row_at(row).customer_id == "bob")
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    view.setCurrentIndex(cheap.index(bob_tea, 0))
    press(Qt.Key.Key_Return)
    assert desk.tabs.currentWidget() is desk.orders_tab
    qtbot.waitUntil(lambda: [o.order_id for o in orders_shown(desk)] == [events[3].payload.order_id], timeout=WAIT_MS)

    desk.orders_tab.show_all_button.click()
    qtbot.waitUntil(lambda: desk.orders.rowCount() == 4, timeout=WAIT_MS)
    assert not desk.orders_tab.banner.isVisible()


def test_cancel_through_the_dialog_strikes_the_order_and_takes_its_lines_off_the_tabs(desk, qtbot):
    place_and_wait(desk, qtbot, "alice", ("Tea", "3.50", "2"))
    place_and_wait(desk, qtbot, "alice", ("Tea", "3.50", "1"), ("Lamp", "25.00", "1"))
    open_orders_tab(desk, qtbot, 2)
    wait_for_quantity(desk, qtbot, Band.CHEAP, "Tea", 3)
    select_order(desk, qtbot, 1)  # the first order: Tea x 2
    press(Qt.Key.Key_Delete)
    dialog = desk.order_actions.dialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible(), timeout=5000)
    text = dialog.message.text()
    assert "<b>alice</b>" in text and "total <b>£7.00</b>" in text and "2 × Tea at £3.50 = £7.00" in text
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=5000)
    dialog.reason.setFocus()
    qtbot.waitUntil(dialog.reason.hasFocus, timeout=5000)
    type_text("customer rang back")
    press(Qt.Key.Key_Return)  # Return in the reason box is no choice: the dialog stays, nothing is sent
    qtbot.wait(200)
    assert dialog.isVisible() and desk.runtime.command.pending_count() == 0
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)

    qtbot.waitUntil(lambda: orders_shown(desk)[1].status == OrderStatus.CANCELLED and settled(desk), timeout=WAIT_MS)
    assert struck(desk, 1) and not struck(desk, 0)
    assert desk.orders.data(desk.orders.index(1, STATUS)) == "cancelled"
    assert orders_shown(desk)[1].reason == "customer rang back"
    wait_for_quantity(desk, qtbot, Band.CHEAP, "Tea", 1)
    assert band_row(desk, Band.CHEAP, "Tea").orders == 1
    qtbot.waitUntil(lambda: "<b>cancelled</b>" in desk.form.receipt.text()
                    and "<b>visible</b>" in desk.form.receipt.text(), timeout=WAIT_MS)
    assert desk.form.receipt.text().startswith("Order for <b>alice</b> <b>cancelled</b>: 1 line, total £7.00")

    # the other order: its cancellation empties both rows, which leave their tabs
    where = desk.orders_tab.view.visualRect(desk.orders.index(0, 1)).center()
    QApplication.sendEvent(desk.orders_tab.view.viewport(), QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, where, desk.orders_tab.view.viewport().mapToGlobal(where)))
    menu = desk.orders_tab.menu
    actions = {action.text().replace("&", ""): action for action in menu.actions() if action.text()}
    assert {"Cancel order…", "Amend order…"} <= set(actions)
    menu.close()
    actions["Cancel order…"].trigger()
    dialog = desk.order_actions.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: band_row(desk, Band.CHEAP, "Tea") is None
                    and band_row(desk, Band.AFFORDABLE, "Lamp") is None and settled(desk), timeout=WAIT_MS)
    assert [order.status for order in orders_shown(desk)] == [OrderStatus.CANCELLED] * 2
    assert desk.models[Band.CHEAP].total == 0 and desk.orders.total == 2  # cancelled orders stay listed


def test_a_refused_cancel_says_why_in_one_line_and_changes_nothing(desk, qtbot):
    place_and_wait(desk, qtbot, "carol", ("Pen", "0.99", "1"))
    open_orders_tab(desk, qtbot, 1)
    select_order(desk, qtbot, 0)
    press(Qt.Key.Key_Delete)
    dialog = desk.order_actions.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    dialog.reason.setText("x" * 201)
    dialog.cancel_button.click()
    qtbot.waitUntil(dialog.error.isVisible, timeout=WAIT_MS)
    assert dialog.error.text() == "Not cancelled: Reason: at most 200 characters (this has 201)"
    assert dialog.isVisible() and dialog.cancel_button.isEnabled()
    dialog.reject()
    assert desk.orders.row_at(0).status == OrderStatus.PLACED
    assert desk.runtime.command.pending_count() == 0
    wait_for_quantity(desk, qtbot, Band.CHEAP, "Pen", 1)


def test_amend_opens_the_lines_in_the_form_and_replaces_the_order(desk, qtbot):
    place_and_wait(desk, qtbot, "dan", ("Tea", "3.50", "2"), ("Lamp", "25.00", "1"))
    open_orders_tab(desk, qtbot, 1)
    old = orders_shown(desk)[0]
    select_order(desk, qtbot, 0)
    press(Qt.Key.Key_E, CTRL)
    form = desk.form
    assert form.amending == old.order_id
    assert form.title() == f"Amend order {str(old.order_id)[:8]}" and form.amend_banner.isVisible()
    assert form.customer.currentText() == "dan" and not form.customer.isEnabled()
    assert [[form.lines.item(row, column).text() for column in range(3)] for row in range(form.lines.rowCount())] \
        == [["Tea", "3.50", "2"], ["Lamp", "25.00", "1"]]
    assert form.place_button.text().replace("&", "") == "Amend order"
    form.set_line(1, "Lamp", "25.0.0", "1")
    form.place_button.click()  # the lines are checked as for placing; nothing is sent
    qtbot.waitUntil(form.lines_error.isVisible, timeout=WAIT_MS)
    assert form.lines_error.text() == "Line 2 price: must be an amount in pounds, such as 4.99"
    assert form.receipt.text() == "Not amended: please correct the fields marked in red."
    assert form.amending == old.order_id and desk.runtime.command.pending_count() == 0
    form.set_line(0, "Tea", "3.50", "5")
    form.lines.setCurrentCell(1, 0)
    form.remove_selected_line()
    form.place_button.click()
    qtbot.waitUntil(lambda: "<b>amended</b>" in form.receipt.text() and "<b>visible</b>" in form.receipt.text(),
                    timeout=WAIT_MS)
    assert form.receipt.text().startswith("Order for <b>dan</b> <b>amended</b>: 1 line, total £17.50")
    assert form.amending is None and form.title() == "New order" and form.customer.isEnabled()

    qtbot.waitUntil(lambda: desk.orders.total == 2 and settled(desk)
                    and orders_shown(desk)[1].status == OrderStatus.REPLACED, timeout=WAIT_MS)
    new, replaced = orders_shown(desk)
    assert (new.status, new.replaces, new.total_pence) == (OrderStatus.PLACED, old.order_id, 1750)
    assert struck(desk, 1) and desk.orders.data(desk.orders.index(1, STATUS)) == f"replaced by {str(new.order_id)[:8]}"
    wait_for_quantity(desk, qtbot, Band.CHEAP, "Tea", 5)
    wait_for_quantity(desk, qtbot, Band.AFFORDABLE, "Lamp", None)


def test_abandoning_an_amend_leaves_the_order_as_it_was(desk, qtbot):
    place_and_wait(desk, qtbot, "erin", ("Scarf", "12.50", "2"))
    open_orders_tab(desk, qtbot, 1)
    select_order(desk, qtbot, 0)
    press(Qt.Key.Key_E, CTRL)
    assert desk.form.amending is not None
    desk.form.set_line(0, "Scarf", "12.50", "9")
    desk.form.new_button.click()  # Abandon amend
    assert desk.form.amending is None and desk.form.customer.currentText() == ""
    assert not desk.form.amend_banner.isVisible()
    assert desk.runtime.command.pending_count() == 0
    assert desk.orders.row_at(0).status == OrderStatus.PLACED and desk.orders.total == 1
    wait_for_quantity(desk, qtbot, Band.AFFORDABLE, "Scarf", 2)


def test_the_order_shortcuts_need_a_selected_order(desk, qtbot):
    place_and_wait(desk, qtbot, "gus", ("Pen", "0.99", "1"))
    open_orders_tab(desk, qtbot, 1)
    view = desk.orders_tab.view
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    view.clearSelection()
    press(Qt.Key.Key_Delete)
    assert desk.order_actions.dialog is None
    assert desk.statusBar().currentMessage() == "Select the order to cancel in the list first"
    press(Qt.Key.Key_E, CTRL)
    assert desk.form.amending is None
    assert desk.statusBar().currentMessage() == "Select the order to amend in the list first"


def test_cancel_or_amend_of_a_cancelled_order_is_refused_with_a_message(desk, qtbot):
    place_and_wait(desk, qtbot, "fay", ("Pen", "0.99", "1"))
    open_orders_tab(desk, qtbot, 1)
    select_order(desk, qtbot, 0)
    press(Qt.Key.Key_Delete)
    dialog = desk.order_actions.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: desk.orders.row_at(0).status == OrderStatus.CANCELLED, timeout=WAIT_MS)
    select_order(desk, qtbot, 0)
    press(Qt.Key.Key_E, CTRL)
    assert desk.form.amending is None
    assert desk.statusBar().currentMessage().endswith("is cancelled: nothing to change")
    where = desk.orders_tab.view.visualRect(desk.orders.index(0, 1)).center()
    desk.orders_tab.show_menu(where)
    assert not desk.orders_tab.cancel_action.isEnabled() and not desk.orders_tab.amend_action.isEnabled()
    desk.orders_tab.menu.close()
