"""The Chart tab on the real desk (real broker, offscreen): its totals are the view's line values, it follows
new orders live and the view the window is given (a read model as of a moment), and it exports its data as
CSV from integer pence and the picture as PNG."""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QToolButton

from desktop_app import contracts
from desktop_app.query.bands import Band
from desktop_app.query.day_values import Unit
from desktop_app.ui.chart_tab import THROTTLE_MS
from desktop_app.ui.table_text import CSV_ENCODING
from tests.ui.test_main_window import event, produce_from_another_desk
from tests.ui.test_screenshots import target_dir
from tests.ui.test_view_source import fixed_view

WAIT_MS = 30_000
MOMENT = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


def line_values(source) -> dict[Band, int]:
    """The view's line values per band, from its rows: quantity x unit price, summed."""
    totals = dict.fromkeys(Band, 0)
    for row in source.items():
        totals[row.band] += row.line_value_pence
    return totals


def chart_totals(desk) -> dict[Band, int] | None:
    values = desk.chart_tab.chart.values
    return None if values is None else {band: values.total(band) for band in Band}


def placed(customer: str, item: str, pence: int, quantity: int, at: datetime) -> contracts.EventEnvelope:
    return contracts.new_order_placed(
        customer_id=customer, command_id=f"chart-{customer}-{item}-{at.timestamp()}",
        lines=[contracts.OrderLine(item=item, unit_price_pence=pence, quantity=quantity)],
        source="other-desk", occurred_at=at)


def save_through_dialog(desk, qtbot, ask, path) -> None:
    """Ask for an export as a person would, and pick `path` in the save dialog that opens."""
    desk.chart_tab._dialog = None
    ask()
    qtbot.waitUntil(lambda: desk.chart_tab._dialog is not None and desk.chart_tab._dialog.isVisible(), timeout=5000)
    desk.chart_tab._dialog.selectFile(str(path))
    desk.chart_tab._dialog.accept()
    qtbot.waitUntil(path.exists, timeout=5000)


def open_chart(desk, qtbot) -> None:
    qtbot.keyClick(desk, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: desk.tabs.currentWidget() is desk.chart_tab.chart, timeout=WAIT_MS)


def test_the_charts_totals_are_the_views_line_values_and_follow_new_orders_live(desk, qtbot):
    orders = [event("alice", "Tea", 350, 2), event("bob", "Teapot", 2400, 1), event("carol", "Kettle", 5001, 1)]
    produce_from_another_desk(desk.runtime.settings, orders).join(60)
    qtbot.waitUntil(lambda: desk.orders.total == 3, timeout=WAIT_MS)
    open_chart(desk, qtbot)

    qtbot.waitUntil(lambda: chart_totals(desk) == line_values(desk.query), timeout=WAIT_MS)
    assert chart_totals(desk) == {Band.CHEAP: 700, Band.AFFORDABLE: 2400, Band.EXPENSIVE: 5001}
    assert desk.chart_tab.chart.what == "Live: £ ordered per day"
    assert "total £81.01" in desk.footer.text()
    plot = desk.chart_tab.chart.plot.getPlotItem()  # what the picture says (and its PNG)
    assert "Live: £ ordered per day · total £81.01" in plot.titleLabel.text
    assert [label.text for _sample, label in plot.legend.items] == ["Cheap £7.00", "Affordable £24.00",
                                                                     "Expensive £50.01"]

    produce_from_another_desk(desk.runtime.settings, [event("dee", "Mug", 499, 3), event("alice", "Rug", 9000, 1)]
                              ).join(60)
    qtbot.waitUntil(lambda: chart_totals(desk) == {Band.CHEAP: 2197, Band.AFFORDABLE: 2400, Band.EXPENSIVE: 14001},
                    timeout=WAIT_MS)
    assert chart_totals(desk) == line_values(desk.query)
    assert {band: desk.query.value_of_items(band) for band in Band} == chart_totals(desk)

    desk.chart_tab.chart.hour_button.click()  # the hours of today: every order of this test was placed today
    qtbot.waitUntil(lambda: desk.chart_tab.chart.values.unit is Unit.HOUR, timeout=WAIT_MS)
    hours = desk.chart_tab.chart.values
    assert len(hours.buckets) == 24 and hours.day == datetime.now().astimezone().date()
    assert chart_totals(desk) == line_values(desk.query)


def test_a_hidden_chart_reads_what_it_missed_when_shown(desk, qtbot):
    open_chart(desk, qtbot)
    qtbot.waitUntil(lambda: chart_totals(desk) == dict.fromkeys(Band, 0), timeout=WAIT_MS)
    reads = desk.chart_tab.reads
    desk.tabs.setCurrentIndex(0)
    produce_from_another_desk(desk.runtime.settings, [event("erin", "Pen", 120, 5)]).join(60)
    qtbot.waitUntil(lambda: desk.models[Band.CHEAP].total == 1, timeout=WAIT_MS)
    qtbot.wait(THROTTLE_MS + 300)
    assert desk.chart_tab.reads == reads  # nothing read while hidden

    open_chart(desk, qtbot)
    qtbot.waitUntil(lambda: chart_totals(desk) == {Band.CHEAP: 600, Band.AFFORDABLE: 0, Band.EXPENSIVE: 0},
                    timeout=WAIT_MS)


def test_the_chart_follows_a_view_as_of_a_moment_and_back_to_live(desk, qtbot, tmp_path):
    produce_from_another_desk(desk.runtime.settings, [event("alice", "Tea", 350, 2)]).join(60)
    qtbot.waitUntil(lambda: desk.orders.total == 1, timeout=WAIT_MS)
    noon = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    fixed = fixed_view(tmp_path / "fixed.db", [placed("zoe", "Pen", 99, 10, noon),
                                               placed("zoe", "Lamp", 2500, 1, noon + timedelta(days=1)),
                                               placed("yan", "Desk", 15000, 1, noon + timedelta(days=1, hours=2))])
    open_chart(desk, qtbot)
    qtbot.waitUntil(lambda: chart_totals(desk) == line_values(desk.query), timeout=WAIT_MS)

    desk.show_view(fixed, MOMENT)
    qtbot.waitUntil(lambda: chart_totals(desk) == {Band.CHEAP: 990, Band.AFFORDABLE: 2500, Band.EXPENSIVE: 15000},
                    timeout=WAIT_MS)
    assert chart_totals(desk) == line_values(fixed)
    assert desk.chart_tab.chart.what == f"As of {MOMENT.astimezone():%a %d %b %Y %H:%M}: £ ordered per day"
    first_day = noon.astimezone().replace(tzinfo=None, hour=0, minute=0)
    assert desk.chart_tab.chart.values.buckets[0] == first_day

    reads = desk.chart_tab.reads
    produce_from_another_desk(desk.runtime.settings, [event("bob", "Mug", 120, 1)]).join(60)
    qtbot.waitUntil(lambda: desk.query.count_orders() == 2, timeout=WAIT_MS)
    qtbot.wait(THROTTLE_MS + 300)  # the live change reaches the bridge; the fixed view's chart stays
    assert desk.chart_tab.reads == reads and chart_totals(desk) == line_values(fixed)

    desk.chart_tab.chart.hour_button.click()  # the moment's day (27 Nov) has no orders: the last day that has
    qtbot.waitUntil(lambda: desk.chart_tab.chart.values.unit is Unit.HOUR, timeout=WAIT_MS)
    assert desk.chart_tab.chart.values.day == (noon + timedelta(days=1, hours=2)).astimezone().date()
    desk.chart_tab.chart.day_button.click()

    desk.show_view(desk.query)
    qtbot.waitUntil(lambda: chart_totals(desk) == {Band.CHEAP: 820, Band.AFFORDABLE: 0, Band.EXPENSIVE: 0},
                    timeout=WAIT_MS)
    assert desk.chart_tab.chart.what == "Live: £ ordered per day"
    fixed.close()


def test_the_charts_data_exports_as_csv_in_pounds_and_the_picture_as_png(desk, qtbot, tmp_path):
    noon = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    fixed = fixed_view(tmp_path / "fixed.db", [placed("zoe", "Pen", 99, 3, noon),
                                               placed("zoe", "Chair", 14999, 1, noon),
                                               placed("yan", "Lamp", 2500, 2, noon + timedelta(days=2))])
    open_chart(desk, qtbot)
    desk.show_view(fixed, MOMENT)
    qtbot.waitUntil(lambda: chart_totals(desk) == line_values(fixed), timeout=WAIT_MS)

    save_through_dialog(desk, qtbot, lambda: desk.chart_tab.chart.export_csv_action.trigger(), tmp_path / "chart.csv")
    with open(tmp_path / "chart.csv", newline="", encoding=CSV_ENCODING) as file:
        rows = list(csv.reader(file))
    day = noon.astimezone().date()
    assert rows == [
        ["Day", "Cheap (£)", "Affordable (£)", "Expensive (£)", "Total (£)"],
        [f"{day}", "2.97", "0.00", "149.99", "152.96"],
        [f"{day + timedelta(days=1)}", "0.00", "0.00", "0.00", "0.00"],
        [f"{day + timedelta(days=2)}", "0.00", "50.00", "0.00", "50.00"],
    ]
    total = sum(Decimal(row[4]) for row in rows[1:])
    assert total * 100 == sum(line_values(fixed).values())
    assert "rows of chart data" in desk.statusBar().currentMessage()

    png_button = next(b for b in desk.chart_tab.chart.findChildren(QToolButton) if b.text() == "PNG…")
    save_through_dialog(desk, qtbot, lambda: qtbot.mouseClick(png_button, Qt.MouseButton.LeftButton),
                        tmp_path / "chart.png")
    image = QImage(str(tmp_path / "chart.png"))
    assert not image.isNull() and image.width() == 1200

    save_through_dialog(desk, qtbot, lambda: qtbot.keyClick(desk, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier
                                                            | Qt.KeyboardModifier.ShiftModifier),
                        tmp_path / "from-the-file-menu.csv")  # File → Export tab as CSV… on the Chart tab
    assert (tmp_path / "from-the-file-menu.csv").read_bytes() == (tmp_path / "chart.csv").read_bytes()
    fixed.close()


def test_screenshot_of_the_chart(desk, qtbot, tmp_path):
    """docs/screenshots/chart.png (with `make screenshots`): a week of orders, as of Friday evening."""
    rng = random.Random(15)
    items = [("Tea bags", 349), ("Pencils", 120), ("Notebook", 499), ("Teapot", 2400), ("Desk lamp", 3950),
             ("Backpack", 5000), ("Headphones", 5001), ("Office chair", 14900), ("Monitor", 22900)]
    start = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)
    events = []
    for number in range(90):
        item, pence = rng.choice(items)
        at = start + timedelta(days=rng.randrange(7), hours=rng.randrange(11), minutes=rng.randrange(60))
        if at < MOMENT:  # what the desk knew at the moment
            events.append(placed(f"customer-{rng.randrange(12)}", item, pence, rng.randint(1, 3), at))
    events.sort(key=lambda e: e.occurred_at)
    fixed = fixed_view(tmp_path / "week.db", events)
    desk.resize(1280, 760)
    open_chart(desk, qtbot)
    desk.show_view(fixed, MOMENT)
    qtbot.waitUntil(lambda: chart_totals(desk) == line_values(fixed), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: ", connected" in desk.status.broker.text(), timeout=10_000)
    qtbot.wait(200)

    target = target_dir(tmp_path)
    assert desk.grab().save(str(target / "chart.png"))
    assert QImage(str(target / "chart.png")).width() >= 1000
    fixed.close()
