"""Screenshots of the real window, for the README: an order being entered, each tab, the rebuild dialog,
the Orders tab, a cancel confirmation, an amend in the form and a filtered band tab with its total.

They are written to tmp by default; `make screenshots` writes them to docs/screenshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget

from desktop_app.query.bands import Band
from desktop_app.query.orders_view import OrderStatus

DOCS = Path(__file__).parents[2] / "docs" / "screenshots"
NAMES = ["order-entry.png", "tab-cheap.png", "tab-affordable.png", "tab-expensive.png", "rebuild-dialog.png"]
FLASH_WAIT_MS = 1800  # rows that just changed are yellow for FLASH_SECONDS
ORDER_NAMES = ["orders-view.png", "cancel-confirmation.png", "amend-order.png", "tab-totals.png"]
SAMPLE_ORDERS = [
    ("alice", [("Tea bags", "3.49", "2"), ("Teapot", "24.00", "1"), ("Espresso machine", "189.99", "1")]),
    ("bob", [("Notebook", "4.99", "5"), ("Desk lamp", "39.50", "1"), ("Office chair", "149.00", "1")]),
    ("carol", [("Pencils", "1.20", "12"), ("Backpack", "50.00", "1"), ("Headphones", "50.01", "1")]),
    ("dev-shop-17", [("USB cable", "5.00", "3"), ("Monitor", "229.00", "2")]),
]


def target_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("ORDER_DESK_SCREENSHOTS_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def place_sample_orders(desk, qtbot) -> None:
    desk.resize(1280, 760)
    for customer, lines in SAMPLE_ORDERS:
        desk.form.customer.setEditText(customer)
        for row, line in enumerate(lines):
            desk.form.set_line(row, *line)
        desk.form.request_order()
        qtbot.waitUntil(lambda: f"for <b>{customer}</b>:" in desk.form.receipt.text()
                        and "<b>visible</b>" in desk.form.receipt.text(), timeout=30_000)
    qtbot.waitUntil(lambda: sum(m.total for m in desk.models.values()) == 11, timeout=30_000)


def check_images(target: Path, names: list[str]) -> None:
    for name in names:
        image = QImage(str(target / name))
        assert not image.isNull(), name
        assert image.width() >= 400 and image.height() >= 100, name
        assert len({image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}) > 20


def grab_with(window: QWidget, dialog: QWidget) -> QPixmap:
    """The window with its dialog over it, as a person sees them (each is its own top-level window; the
    offscreen platform draws no frames, so the dialog gets a plain one with its title)."""
    picture = window.grab()
    shot = dialog.grab()
    title_height = 26
    left = (picture.width() - shot.width()) // 2
    top = (picture.height() - shot.height()) // 3
    painter = QPainter(picture)
    frame = QColor(90, 90, 90)
    painter.fillRect(left - 1, top - title_height, shot.width() + 2, title_height + shot.height() + 1, frame)
    painter.setPen(QColor(255, 255, 255))
    painter.drawText(QRect(left + 8, top - title_height, shot.width() - 16, title_height),
                     int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), dialog.windowTitle())
    painter.drawPixmap(QPoint(left, top), shot)
    painter.end()
    return picture


def test_screenshots_show_the_window(desk, qtbot, tmp_path):
    target = target_dir(tmp_path)
    place_sample_orders(desk, qtbot)

    qtbot.waitUntil(lambda: ", connected" in desk.status.broker.text(), timeout=10_000)
    desk.form.customer.setEditText("erin")
    desk.form.set_line(0, "Scarf", "12.50", "2")
    desk.form.set_line(1, "Gloves", "8.5", "1")
    desk.form.set_line(2, "Umbrella", "", "")
    desk.grab().save(str(target / "order-entry.png"))
    for index, band in enumerate(Band):
        desk.tabs.setCurrentIndex(index)
        qtbot.wait(50)
        desk.grab().save(str(target / f"tab-{band.value}.png"))
    desk.start_rebuild()
    qtbot.waitUntil(desk.rebuild_panel.isVisible, timeout=5000)
    desk.rebuild_panel.show_progress(6, 11)
    desk.grab().save(str(target / "rebuild-dialog.png"))  # the progress sits in the status bar
    qtbot.waitUntil(lambda: not desk.rebuilds.requested, timeout=30_000)

    check_images(target, NAMES)
    assert QImage(str(target / "tab-expensive.png")).width() >= 1200


def order_of(desk, customer: str):
    return next(desk.orders.row_at(row) for row in range(desk.orders.rowCount())
                if desk.orders.row_at(row).customer_id == customer)


def test_screenshots_of_the_orders(desk, qtbot, tmp_path):
    target = target_dir(tmp_path)
    place_sample_orders(desk, qtbot)
    qtbot.waitUntil(lambda: desk.orders.total == 4 and not desk.orders.busy, timeout=30_000)
    desk.tabs.setCurrentWidget(desk.orders_tab)
    qtbot.wait(FLASH_WAIT_MS)  # new rows flash yellow for a moment

    desk.order_actions.cancel(order_of(desk, "bob"))
    dialog = desk.order_actions.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    dialog.reason.setText("Customer changed their mind")
    qtbot.wait(50)
    grab_with(desk, dialog).save(str(target / "cancel-confirmation.png"))
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: order_of(desk, "bob").status == OrderStatus.CANCELLED, timeout=30_000)

    desk.order_actions.amend(order_of(desk, "carol"))
    desk.form.set_line(0, "Pencils", "1.20", "24")
    qtbot.wait(50)
    desk.grab().save(str(target / "amend-order.png"))
    desk.form.request_order()
    qtbot.waitUntil(lambda: desk.orders.total == 5 and order_of(desk, "carol").status == OrderStatus.PLACED
                    and not desk.orders.busy, timeout=30_000)
    qtbot.wait(FLASH_WAIT_MS)
    desk.grab().save(str(target / "orders-view.png"))

    desk.tabs.setCurrentIndex(list(Band).index(Band.AFFORDABLE))
    desk.search.setText("a")
    qtbot.waitUntil(lambda: desk.models[Band.AFFORDABLE].search == "a" and "(filtered)" in desk.footer.text(),
                    timeout=30_000)
    qtbot.wait(50)
    desk.grab().save(str(target / "tab-totals.png"))
    check_images(target, ORDER_NAMES)


def test_committed_screenshots_exist():
    for name in NAMES + ORDER_NAMES:
        assert not QImage(str(DOCS / name)).isNull(), f"docs/screenshots/{name} is missing; run make screenshots"
