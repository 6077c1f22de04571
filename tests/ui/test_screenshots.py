"""Screenshots of the real window, for the README: an order being entered, each tab, the rebuild dialog.

They are written to tmp by default; `make screenshots` writes them to docs/screenshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QImage

from desktop_app.query.bands import Band

DOCS = Path(__file__).parents[2] / "docs" / "screenshots"
NAMES = ["order-entry.png", "tab-cheap.png", "tab-affordable.png", "tab-expensive.png", "rebuild-dialog.png"]
SAMPLE_ORDERS = [
    ("alice", [("Tea bags", "3.49", "2"), ("Teapot", "24.00", "1"), ("Espresso machine", "189.99", "1")]),
    ("bob", [("Notebook", "4.99", "5"), ("Desk lamp", "39.50", "1"), ("Office chair", "149.00", "1")]),
    ("carol", [("Pencils", "1.20", "12"), ("Backpack", "50.00", "1"), ("Headphones", "50.01", "1")]),
    ("dev-shop-17", [("USB cable", "5.00", "3"), ("Monitor", "229.00", "2")]),
]


def test_screenshots_show_the_window(desk, qtbot, tmp_path):
    target = Path(os.environ.get("ORDER_DESK_SCREENSHOTS_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    desk.resize(1280, 760)
    for customer, lines in SAMPLE_ORDERS:
        desk.form.customer.setEditText(customer)
        for row, line in enumerate(lines):
            desk.form.set_line(row, *line)
        desk.form.request_order()
        qtbot.waitUntil(lambda: f"for <b>{customer}</b>:" in desk.form.receipt.text()
                        and "<b>visible</b>" in desk.form.receipt.text(), timeout=30_000)
    qtbot.waitUntil(lambda: sum(m.total for m in desk.models.values()) == 11, timeout=30_000)

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

    for name in NAMES:
        image = QImage(str(target / name))
        assert not image.isNull(), name
        assert image.width() >= 400 and image.height() >= 100, name
        assert len({image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}) > 20
    assert QImage(str(target / "tab-expensive.png")).width() >= 1200


def test_committed_screenshots_exist():
    for name in NAMES:
        assert not QImage(str(DOCS / name)).isNull(), f"docs/screenshots/{name} is missing; run make screenshots"
