"""The desktop window against the real broker: order entry, live tabs, rebuild, responsiveness."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from aiokafka import AIOKafkaProducer
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app import contracts
from desktop_app.query.bands import Band
from desktop_app.ui.main_window import MainWindow

WAIT_MS = 30_000
PRODUCE_ORDERS = Path(__file__).parents[1] / "support" / "produce_orders.py"


def place(desk: MainWindow, customer: str, *lines: tuple[str, str, str]) -> None:
    desk.form.customer.setEditText(customer)
    for row, (item, price, quantity) in enumerate(lines):
        desk.form.set_line(row, item, price, quantity)
    desk.form.request_order()


def tab_titles(desk: MainWindow) -> list[str]:
    return [desk.tabs.tabText(index) for index in range(desk.tabs.count())]


def end_offsets(desk: MainWindow) -> dict[int, int]:
    return desk.query.end_offsets(timeout=10)


def produce_from_another_desk(settings, events: list[contracts.EventEnvelope]) -> threading.Thread:
    """Write events to the topic from another thread with its own producer, as another client would."""

    async def send() -> None:
        producer = AIOKafkaProducer(**settings.kafka_client_kwargs(), enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            futures = []
            for event in events:
                record = contracts.encode(event)
                futures.append(await producer.send(settings.topic, record.value, key=record.key,
                                                   headers=list(record.headers)))
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    thread = threading.Thread(target=lambda: asyncio.run(send()), name="other-desk")
    thread.start()
    return thread


def event(customer: str, item: str, pence: int, quantity: int = 1) -> contracts.EventEnvelope:
    return contracts.new_order_placed(
        customer_id=customer, command_id=f"other-{customer}-{item}-{time.monotonic_ns()}",
        lines=[contracts.OrderLine(item=item, unit_price_pence=pence, quantity=quantity)],
        source="other-desk", occurred_at=datetime.now(timezone.utc),
    )


def test_lines_land_in_their_price_band_tabs(desk, qtbot):
    assert tab_titles(desk) == ["Cheap (0)", "Affordable (0)", "Expensive (0)", "Orders (0)", "Chart"]
    place(desk, "alice", ("Tea", "4.99", "2"), ("Mug", "5.00", "1"), ("Teapot", "50.00", "1"),
          ("Kettle", "50.01", "1"))
    qtbot.waitUntil(lambda: "visible" in desk.form.receipt.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tab_titles(desk)[:3] == ["Cheap (1)", "Affordable (2)", "Expensive (1)"], timeout=WAIT_MS)
    cheap, affordable, expensive = (desk.models[band] for band in Band)
    assert [(r.item, r.unit_price_pence, r.quantity) for r in cheap._rows] == [("Tea", 499, 2)]
    assert sorted(r.item for r in affordable._rows) == ["Mug", "Teapot"]
    assert [r.item for r in expensive._rows] == ["Kettle"]
    assert cheap.data(cheap.index(0, 2)) == "£4.99"
    assert expensive.data(expensive.index(0, 2)) == "£50.01"
    assert desk.form.customer.currentText() == ""  # the form cleared for the next order


def test_invalid_price_shows_inline_message_and_sends_nothing(desk, qtbot):
    before = end_offsets(desk)
    place(desk, "bob", ("Tea", "4.999", "1"))
    qtbot.waitUntil(desk.form.lines_error.isVisible, timeout=WAIT_MS)
    assert "Line 1 price" in desk.form.lines_error.text()
    assert "decimal places" in desk.form.lines_error.text()
    assert desk.form.lines.item(0, 1).toolTip() != ""  # the message sits on the price cell too
    assert desk.form.customer.currentText() == "bob"  # nothing was cleared
    assert desk.command.pending_count() == 0
    assert end_offsets(desk) == before


def test_order_from_another_client_appears_without_user_action(desk, qtbot):
    produce_from_another_desk(desk.runtime.settings, [event("carol", "Blender", 8999)]).join(30)
    expensive = desk.models[Band.EXPENSIVE]
    qtbot.waitUntil(lambda: expensive.rowCount() == 1, timeout=WAIT_MS)
    assert expensive.row_at(0).customer_id == "carol"
    assert desk.tabs.tabText(2) == "Expensive (1)"
    assert expensive.resets == 1  # only the initial load: the row arrived incrementally


def test_rebuild_from_the_menu_keeps_the_rows(desk, qtbot):
    produce_from_another_desk(desk.runtime.settings,
                              [event(f"c{i % 7}", f"item-{i % 13}", 100 + 97 * i) for i in range(300)]).join(30)
    qtbot.waitUntil(lambda: desk.query.lag().total == 0, timeout=WAIT_MS)
    before = {band: desk.query.items(band) for band in Band}
    desk.rebuild_action.trigger()
    box = desk.rebuilds.confirm_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: desk.rebuilds.requested, timeout=5000)
    qtbot.waitUntil(lambda: not desk.rebuilds.requested, timeout=WAIT_MS)
    assert desk.rebuild_panel.isHidden()  # nothing of it stays at 100 %
    assert {band: desk.query.items(band) for band in Band} == before
    assert sum(model.rowCount() for model in desk.models.values()) == sum(len(rows) for rows in before.values())
    assert desk.rebuild_action.isEnabled()


def shown_rows(model) -> list:
    return [model.row_at(position) for position in range(model.rowCount())]


def view_window(desk: MainWindow, model) -> list:
    """The view's first rows in the tab's order, as many as the tab has loaded."""
    return desk.query.items(model.band, model.customer, model.search, order_by=model._order_by(),
                            descending=model.descending, limit=max(model.rowCount(), 1))


def test_tabs_follow_a_burst_without_a_reset(desk, qtbot):
    """10,000 events from another desk: the tabs end up showing what the view holds, changed row by row
    (never by a reset), while the GUI thread keeps serving a timer. How long it may stall is measured in
    bench/ (gui_stall), not asserted here."""
    burst = 10_000
    applied_before = desk.query.read_model.events_applied()
    desk.views[Band.AFFORDABLE].sortByColumn(5, Qt.SortOrder.DescendingOrder)  # newest first: every change moves
    beats = [0]
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: beats.__setitem__(0, beats[0] + 1))
    settings = desk.runtime.settings
    producer = subprocess.Popen([sys.executable, str(PRODUCE_ORDERS), settings.kafka_client_kwargs()["bootstrap_servers"],
                                 settings.topic, str(burst)])
    heartbeat.start()
    qtbot.waitUntil(lambda: producer.poll() is not None, timeout=60_000)
    assert producer.returncode == 0
    qtbot.waitUntil(lambda: desk.query.read_model.events_applied() == applied_before + burst, timeout=60_000)
    # The last batch's keys reach the tabs after its commit (queued signal, 50 ms coalescing, reader thread).
    qtbot.waitUntil(lambda: all(shown_rows(model) == view_window(desk, model)
                                and model.total == desk.query.count_items(band)
                                for band, model in desk.models.items()), timeout=60_000)
    heartbeat.stop()
    assert sum(model.total for model in desk.models.values()) > 1000
    assert beats[0] >= 10  # the timer kept firing through the burst
    assert [model.resets for model in desk.models.values()] == [1, 2, 1]  # the initial loads and the sort


def test_window_state_and_filters_are_remembered(topic_ready, qtbot, run_async, isolated_qsettings):
    from desktop_app.bootstrap import DeskRuntime

    runtime = DeskRuntime(topic_ready)
    run_async(runtime.start())
    try:
        first = MainWindow(runtime)
        qtbot.addWidget(first)
        first.start()
        first.show()
        first.resize(700, 500)  # within the offscreen screen, so restoring does not clamp it
        first.search.setText("tea")
        first.tabs.setCurrentIndex(2)
        first.close()
        second = MainWindow(runtime)
        qtbot.addWidget(second)
        second.start()
        assert second.search.text() == "tea"
        assert second.tabs.currentIndex() == 2
        assert second.models[Band.CHEAP].search == "tea"
        assert (second.width(), second.height()) == (700, 500)
        second.close()
    finally:
        run_async(runtime.stop())


def test_the_window_keeps_working_while_a_rebuild_runs(desk, qtbot):
    """Issue 11, point 3: no modal progress. During a rebuild a tab can be switched (Ctrl+2) and an order
    placed; the order is accepted at once and is visible after the swap."""
    settings = desk.runtime.settings
    producer = subprocess.run([sys.executable, str(PRODUCE_ORDERS), settings.kafka_client_kwargs()["bootstrap_servers"],
                               settings.topic, "30000"], timeout=300)
    assert producer.returncode == 0
    qtbot.waitUntil(lambda: desk.query.lag().total == 0, timeout=120_000)
    desk.tabs.setCurrentIndex(0)

    desk.start_rebuild()
    qtbot.waitUntil(lambda: desk.query.rebuild_status is not None, timeout=10_000)
    assert QApplication.activeModalWidget() is None
    assert desk.rebuild_panel.isVisible() and desk.rebuild_panel.cancel_button.isEnabled()
    qtbot.keyClick(desk, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert desk.tabs.currentIndex() == 1
    assert desk.form.isEnabled() and desk.form.isVisible()
    place(desk, "a-during-rebuild", ("Biscuits", "2.50", "3"))  # sorts first in the Cheap tab
    qtbot.waitUntil(lambda: "a-during-rebuild" in desk.form.receipt.text(), timeout=WAIT_MS)  # accepted
    assert desk.query.rebuild_status is not None, "the rebuild ended before the order was placed: make it longer"

    qtbot.waitUntil(lambda: not desk.rebuilds.requested, timeout=180_000)
    assert desk.rebuild_panel.isHidden()
    assert desk.query.last_rebuild is not None and desk.query.last_rebuild.completed
    cheap = desk.models[Band.CHEAP]
    qtbot.waitUntil(lambda: cheap.rowCount() > 0 and cheap.row_at(0).customer_id == "a-during-rebuild",
                    timeout=WAIT_MS)
    assert (cheap.row_at(0).item, cheap.row_at(0).quantity) == ("Biscuits", 3)
