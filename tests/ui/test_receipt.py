"""The receipt speaks to the clerk (issue 11, point 13): customer, lines, total in £, state; where the
event sits in Kafka only in the tooltip, for support staff. Real broker."""

from __future__ import annotations

from desktop_app.ui.receipt_text import ACCEPTED, SENT, VISIBLE

WAIT_MS = 30_000


def wait_for_tabs(desk, qtbot, rows: int) -> None:
    """The tabs have taken the order in (so no re-read is still under way when the window closes)."""
    qtbot.waitUntil(lambda: sum(model.total for model in desk.models.values()) == rows
                    and not any(model.busy for model in desk.models.values()), timeout=WAIT_MS)


def test_the_receipt_shows_customer_lines_total_and_state(desk, qtbot):
    form = desk.form
    form.customer.setEditText("  alice ")
    form.set_line(0, "Tea", "3.50", "2")
    form.set_line(1, "Kettle", "1227.5", "1")
    form.set_line(2, "Mug", "0.10", "3")
    form.place_button.click()
    states = []
    qtbot.waitUntil(lambda: states.append(form.receipt.text()) or "<b>visible</b>" in form.receipt.text(),
                    timeout=WAIT_MS)
    text = form.receipt.text()
    assert text == "Order for <b>alice</b>: 3 lines, total £1,234.80 — <b>visible</b>"
    assert "partition" not in text and "offset" not in text
    (receipt,) = desk.command._started()[0].receipts()
    assert f"Kafka partition {receipt.partition}, offset {receipt.offset}" in form.receipt.toolTip()
    assert str(receipt.order_id) in form.receipt.toolTip()
    seen = {state for state in (ACCEPTED, SENT, VISIBLE) for shown in states if f"<b>{state}</b>" in shown}
    assert VISIBLE in seen and seen <= {ACCEPTED, SENT, VISIBLE}
    wait_for_tabs(desk, qtbot, 3)


def test_a_one_line_receipt_says_one_line(desk, qtbot):
    form = desk.form
    form.customer.setEditText("bob")
    form.set_line(0, "Pen", "0.99", "1")
    form.place_button.click()
    qtbot.waitUntil(lambda: "<b>visible</b>" in form.receipt.text(), timeout=WAIT_MS)
    assert form.receipt.text().startswith("Order for <b>bob</b>: 1 line, total £0.99 — ")
    wait_for_tabs(desk, qtbot, 1)
