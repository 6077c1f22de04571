"""Tools → Event log… on the real desk and broker: it opens beside the window, shows a hand-written malformed
record's quarantine reason, pages with PgDn/PgUp, copies a record, is opened by the quarantine list at the
record selected there, and says in one line when the broker is away. Also its screenshot for the README."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from desktop_app import contracts
from desktop_app.query.service import QueryService
from desktop_app.ui.event_log_dialog import EventLogDialog
from tests.ui.test_main_window import event

WAIT_MS = 30_000
MALFORMED = b'{"event_id": "42", "event_type": "OrderPlaced", "note": "typed by hand in a Kafka tool"}'


def write_raw(settings, records: list[tuple[bytes, bytes | None, tuple]]) -> None:
    """(key, value, headers) records from another client, on its own thread; waits until all are written."""

    async def send() -> None:
        producer = AIOKafkaProducer(**settings.kafka_client_kwargs())
        await producer.start()
        try:
            for key, value, headers in records:
                await producer.send_and_wait(settings.topic, value, key=key, headers=list(headers))
        finally:
            await producer.stop()

    thread = threading.Thread(target=lambda: asyncio.run(send()), name="hand-written")
    thread.start()
    thread.join(60)


def encoded(ev: contracts.Event) -> tuple[bytes, bytes, tuple]:
    wire = contracts.encode(ev)
    return (wire.key, wire.value, wire.headers)


def malformed_in_view(desk, qtbot) -> tuple[int, int, str]:
    """Two orders, a cancellation of an order nobody placed (ignored) and a malformed record, all in the view."""
    unknown = contracts.new_order_cancelled(order_id=uuid.uuid4(), customer_id="erin", command_id="c-erin",
                                            reason="wrong order", source="support-test")
    write_raw(desk.runtime.settings, [encoded(event("alice", "Tea", 350)), encoded(event("bob", "Teapot", 2400)),
                                      encoded(unknown),
                                      (b"mallory", MALFORMED, contracts.headers_of(contracts.ORDER_PLACED))])
    qtbot.waitUntil(lambda: len(desk.query.quarantined()) == 1 and len(desk.query.ignored()) == 1, timeout=WAIT_MS)
    [stored] = desk.query.quarantined()
    return stored.partition, stored.offset, stored.reason


def wait_for_page(dialog: EventLogDialog, qtbot, before=None) -> None:
    qtbot.waitUntil(lambda: dialog.page is not None and dialog.page is not before
                    and dialog.page_label.text() != "Reading the log…", timeout=WAIT_MS)


def test_ctrl_shift_j_opens_the_log_beside_the_window_with_a_malformed_records_reason(desk, qtbot, tmp_path) -> None:
    partition, offset, reason = malformed_in_view(desk, qtbot)
    assert desk.event_log.action.shortcut() == QKeySequence("Ctrl+Shift+J")
    [tools] = [menu for menu in desk.menuBar().findChildren(QMenu) if menu.title() == "&Tools"]
    assert desk.event_log.action in tools.actions() and desk.event_log.action.text() == "&Event log…"
    desk.activateWindow()
    qtbot.waitUntil(desk.isActiveWindow, timeout=5000)
    QTest.keyClick(desk, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = desk.event_log.dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    wait_for_page(dialog, qtbot)
    model = dialog.model
    rows = {(e.partition, e.offset): row for row, e in enumerate(model.entries)}
    assert len(rows) == 4
    [ignored] = desk.query.ignored()
    assert model.index(rows[(ignored.partition, ignored.offset)], 6).data() == f"ignored: {ignored.reason}"
    row = rows[(partition, offset)]
    assert model.index(row, 6).data() == f"quarantined: {reason}"
    assert model.index(row, 4).data() == "(key 'mallory')"
    dialog.table.selectRow(row)
    shown = dialog.detail.toPlainText()
    assert f"Result: quarantined: {reason}" in shown and "event_type: OrderPlaced" in shown
    assert '"note": "typed by hand in a Kafka tool"' in shown  # the value, pretty-printed
    dialog.table.setFocus()
    QTest.keyClick(dialog.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == shown
    desk.form.customer.setFocus()  # the desk still takes keys while the log is open
    assert desk.isEnabled()
    save_screenshot(dialog, qtbot, tmp_path)

    dialog.close()  # opened again, it shows what was written meanwhile
    write_raw(desk.runtime.settings, [encoded(event("zoe", "Ink", 120))])
    before = dialog.page
    assert desk.event_log.open() is dialog
    wait_for_page(dialog, qtbot, before)
    assert dialog.model.index(0, 4).data() == "zoe" and dialog.model.rowCount() == 5


def test_pgdn_and_pgup_page_through_the_log_newest_first(desk, qtbot) -> None:
    write_raw(desk.runtime.settings, [encoded(event(f"c{i:02d}", "Pen", 120)) for i in range(55)])
    qtbot.waitUntil(lambda: desk.query.summary(fresh=False).events_applied == 55, timeout=WAIT_MS)
    dialog = desk.event_log.open()
    wait_for_page(dialog, qtbot)
    first = dialog.page
    assert len(first.entries) == 50 and not dialog.newer_button.isEnabled() and dialog.older_button.isEnabled()
    times = [e.timestamp for e in first.entries]
    assert times == sorted(times, reverse=True)
    dialog.table.setFocus()
    QTest.keyClick(dialog.table, Qt.Key.Key_PageDown)
    wait_for_page(dialog, qtbot, first)
    second = dialog.page
    assert len(second.entries) == 5 and not dialog.older_button.isEnabled() and dialog.newer_button.isEnabled()
    seen = {(e.partition, e.offset) for e in first.entries + second.entries}
    assert len(seen) == 55
    QTest.keyClick(dialog.table, Qt.Key.Key_PageUp)
    wait_for_page(dialog, qtbot, second)
    assert [(e.partition, e.offset) for e in dialog.page.entries] == [(e.partition, e.offset) for e in first.entries]

    dialog.customer.setText("c07")
    QTest.keyClick(dialog.customer, Qt.Key.Key_Return)
    wait_for_page(dialog, qtbot, dialog.page)
    assert [e.customer_id for e in dialog.page.entries] == ["c07"]
    dialog.customer.clear()
    dialog.since.setDateTime(QDateTime.currentDateTime().addSecs(3600))  # from an hour ahead: nothing yet
    dialog.use_since.setChecked(True)  # a box or a list applies at once
    wait_for_page(dialog, qtbot, dialog.page)
    assert dialog.page.entries == () and dialog.page_label.text().startswith("No records match")
    dialog.since.setDateTime(QDateTime.currentDateTime().addSecs(-3600))
    dialog.apply_button.click()
    wait_for_page(dialog, qtbot, dialog.page)
    assert len(dialog.page.entries) == 50
    dialog.order_id.setText("not-hex")
    dialog.apply_button.click()
    assert dialog.error.isVisible() and "hex digits" in dialog.error.text()


def test_the_quarantine_list_opens_the_log_at_the_record_selected(desk, qtbot) -> None:
    partition, offset, reason = malformed_in_view(desk, qtbot)
    desk.show_quarantine()
    box = next(w for w in QApplication.topLevelWidgets() if w.windowTitle() == "Quarantined records" and w.isVisible())
    assert not box.show_button.isEnabled()
    box.list.setCurrentRow(0)
    assert box.show_button.isEnabled()
    box.show_button.click()
    dialog = desk.event_log.dialog
    wait_for_page(dialog, qtbot)
    assert dialog.partition.currentText() == f"Partition {partition}"
    selected = dialog.selected_entry()
    assert selected is not None and (selected.partition, selected.offset, selected.reason) == (partition, offset,
                                                                                               reason)
    assert f"Partition {partition}, offset {offset}" in dialog.detail.toPlainText()
    box.close()


def test_a_broker_that_is_away_is_one_line_and_the_window_keeps_working(desk, qtbot, tmp_path) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    settings = desk.runtime.settings
    away = QueryService(tmp_path / "readmodel.db", settings.kafka_client_kwargs(f"127.0.0.1:{port}"), settings.topic)
    dialog = EventLogDialog(away, desk)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.apply_filters()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=WAIT_MS)
    assert dialog.error.text().startswith("Cannot read the log: cannot reach the broker: connection refused")
    assert "\n" not in dialog.error.text() and dialog.model.rowCount() == 0
    assert not dialog.older_button.isEnabled() and not dialog.newer_button.isEnabled()


def save_screenshot(dialog: EventLogDialog, qtbot, tmp_path: Path) -> None:
    """To tmp; `make screenshots` (ORDER_DESK_SCREENSHOTS_DIR) writes it to docs/screenshots/."""
    target = Path(os.environ.get("ORDER_DESK_SCREENSHOTS_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    dialog.resize(1100, 620)
    qtbot.wait(200)
    assert dialog.grab().save(str(target / "event-log.png"))
