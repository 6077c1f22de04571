"""View → As of…: the tabs as they stood at a moment (records stamped by hand on the real broker), the banner,
nothing that changes orders while it shows, and Back to live deleting the temporary view."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Qt

from desktop_app.query.bands import Band
from desktop_app.ui.as_of_banner import AsOfDialog, default_moment
from support.stamped_events import produce_stamped
from tests.ui.keyboard import press
from tests.ui.test_main_window import event

WAIT_MS = 30_000
T0 = datetime(2026, 11, 27, 18, 0).astimezone()  # Friday 27 November, 18:00 local time


def as_of_files(desk) -> list[str]:
    return sorted(path.name for path in desk.runtime.settings.data_dir.glob("asof-*.db"))


def customers(model) -> set[str]:
    return {model.row_at(row).customer_id for row in range(model.rowCount())}


def two_orders_around_t0(desk, qtbot) -> None:
    produce_stamped(desk.runtime.settings, [(event("ann", "Tea", 350, 2), T0 - timedelta(hours=1)),
                                            (event("bob", "Pen", 120, 1), T0 + timedelta(hours=1))])
    qtbot.waitUntil(lambda: desk.models[Band.CHEAP].total == 2 and desk.orders.total == 2, timeout=WAIT_MS)


def test_as_of_a_moment_shows_it_read_only_and_back_to_live_deletes_it(desk, qtbot):
    two_orders_around_t0(desk, qtbot)
    cheap, banner, place = desk.models[Band.CHEAP], desk.as_of_banner, desk.form.place_button

    desk.as_of.start(T0)
    assert desk.as_of.panel.isVisible() and not desk.as_of.action.isEnabled()  # building: progress, Cancel
    qtbot.waitUntil(lambda: not desk.showing_live, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: cheap.total == 1 and desk.orders.total == 1 and not cheap.busy, timeout=WAIT_MS)
    assert customers(cheap) == {"ann"} and desk.view_moment == T0
    assert banner.isVisible() and banner.label.text() == "As of Fri 27 Nov 18:00 — read-only"
    assert desk.as_of.panel.isHidden() and desk.as_of.action.isEnabled()
    assert len(as_of_files(desk)) == 1

    # nothing that writes while the past is shown; each says why
    why = "placing, cancelling and amending orders are off until Back to live (Esc)"
    assert not place.isEnabled() and why in place.toolTip()
    tab = desk.orders_tab
    desk.tabs.setCurrentWidget(tab)
    tab.focus_first_order()
    tab.show_menu(tab.view.visualRect(desk.orders.index(0, 0)).center())
    assert not tab.cancel_action.isEnabled() and not tab.amend_action.isEnabled()  # after the menu too
    assert why in tab.cancel_action.toolTip()
    tab.menu.close()
    pending = desk.command.pending_count()
    desk.form.customer.setEditText("zed")
    desk.form.set_line(0, "Tea", "3.50", "1")
    desk.form.request_order()  # Ctrl+Enter, or Return in the customer box
    qtbot.wait(300)
    assert why in desk.statusBar().currentMessage()
    assert desk.form.customer.currentText() == "zed" and desk.command.pending_count() == pending  # not placed

    # the live view keeps running meanwhile; the shown one does not move
    produce_stamped(desk.runtime.settings, [(event("cy", "Mug", 200, 1), datetime.now().astimezone())])
    qtbot.waitUntil(lambda: desk.query.count_items(Band.CHEAP) == 3, timeout=WAIT_MS)
    qtbot.wait(300)
    assert cheap.total == 1 and customers(cheap) == {"ann"}

    desk.activateWindow()
    qtbot.waitUntil(desk.isActiveWindow, timeout=5000)
    desk.tabs.setCurrentIndex(0)
    desk.views[Band.CHEAP].setFocus()
    press(Qt.Key.Key_Escape)  # Back to live
    assert desk.showing_live and banner.isHidden()
    qtbot.waitUntil(lambda: customers(cheap) == {"ann", "bob", "cy"}, timeout=WAIT_MS)
    assert as_of_files(desk) == []
    assert place.isEnabled() and "Place the order" in place.toolTip()
    assert tab.cancel_action.isEnabled() and tab.amend_action.isEnabled()


def test_the_menu_opens_the_dialog_and_its_moment_is_shown(desk, qtbot):
    two_orders_around_t0(desk, qtbot)
    desk.as_of.action.trigger()
    dialog = desk.as_of.dialog
    assert isinstance(dialog, AsOfDialog) and dialog.isVisible()
    assert dialog.chosen() == default_moment()  # yesterday 18:00, local
    dialog.when.setDateTime(dialog.when.dateTime().fromSecsSinceEpoch(int(T0.timestamp())))
    assert dialog.chosen() == T0
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=5000)
    dialog.when.setFocus()
    press(Qt.Key.Key_Return)  # Return in the date field shows it (Show is the default button)
    qtbot.waitUntil(lambda: desk.as_of_banner.isVisible(), timeout=WAIT_MS)
    assert desk.as_of_banner.label.text() == "As of Fri 27 Nov 18:00 — read-only"
    desk.as_of_banner.back_button.click()
    assert desk.showing_live and as_of_files(desk) == []


def test_a_build_cancelled_from_the_status_bar_leaves_the_tabs_and_no_file(desk, qtbot):
    two_orders_around_t0(desk, qtbot)
    desk.as_of.start(T0)
    desk.as_of.panel.cancel_button.click()
    qtbot.waitUntil(lambda: desk.as_of.job is None, timeout=WAIT_MS)
    assert desk.showing_live and desk.as_of_banner.isHidden() and desk.as_of.panel.isHidden()
    assert "cancelled" in desk.statusBar().currentMessage()
    assert as_of_files(desk) == []


def test_closing_the_window_deletes_the_view_it_shows(desk, qtbot):
    two_orders_around_t0(desk, qtbot)
    desk.as_of.start(T0)
    qtbot.waitUntil(lambda: not desk.showing_live, timeout=WAIT_MS)
    assert len(as_of_files(desk)) == 1
    desk.close()
    assert as_of_files(desk) == []


def test_a_moment_can_be_typed_whole_and_its_day_is_spelled_out(qtbot):
    dialog = AsOfDialog(None, default_moment())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.when.setFocus()
    dialog.when.selectAll()
    qtbot.keyClicks(dialog.when, "2026-11-27 18:00")
    assert dialog.chosen() == T0
    assert dialog.day.text() == "Friday 27 November"


def test_a_moment_of_today_can_be_typed_and_one_to_come_is_refused_on_show(qtbot):
    """The field had `now` as its maximum: Qt then refused the digits of today's month on the way ("12" while
    the day still said 27 was past it), and today's moments could not be typed."""
    dialog = AsOfDialog(None, default_moment())
    qtbot.addWidget(dialog)
    dialog.show()
    today = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    dialog.when.setFocus()
    dialog.when.selectAll()
    qtbot.keyClicks(dialog.when, today.strftime("%Y-%m-%d 00:00"))
    assert dialog.chosen() == today
    tomorrow = today + timedelta(days=1, hours=12)
    dialog.when.selectAll()
    qtbot.keyClicks(dialog.when, tomorrow.strftime("%Y-%m-%d %H:%M"))
    assert dialog.chosen() == tomorrow
    dialog.show_button.click()
    assert dialog.isVisible() and dialog.result() == 0
    assert dialog.problem.text() == "That moment has not come yet: the log can only say what was."
