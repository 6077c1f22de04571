"""Band tabs show each row's line value and, under the tabs, the £ total of what the tab shows, filters
included, kept live as orders come in (issue 13, point 4). Real broker."""

from __future__ import annotations

from decimal import Decimal

from desktop_app.query.bands import Band
from desktop_app.ui.items_tab import COLUMNS
from tests.ui.test_main_window import event, produce_from_another_desk
from tests.ui.test_tab_actions import fill_cheap_tab

WAIT_MS = 30_000
LINE_VALUE = [name for name, _title in COLUMNS].index("line_value_pence")


def rows_shown(model) -> list:
    return [model.row_at(row) for row in range(model.rowCount())]


def pounds(text: str) -> Decimal:
    return Decimal(text.removeprefix("£").replace(",", ""))


def footer_total(desk) -> Decimal:
    return pounds(desk.footer.text().rsplit("total ", 1)[1])


def test_line_values_and_the_footer_total_follow_the_filter(desk, qtbot):
    fill_cheap_tab(desk, qtbot, [event("alice", "Tea", 350, 2), event("alice", "Mug", 499, 1),
                                 event("bob", "Tea", 120, 3)])
    model = desk.models[Band.CHEAP]
    desk.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: model.rowCount() == 3 and not model.busy, timeout=WAIT_MS)
    shown = {(row.customer_id, row.item): model.data(model.index(position, LINE_VALUE))
             for position, row in enumerate(rows_shown(model))}
    assert shown == {("alice", "Tea"): "£7.00", ("alice", "Mug"): "£4.99", ("bob", "Tea"): "£3.60"}
    assert desk.footer.text() == "3 rows shown, total £15.59"

    desk.search.setText("tea")
    qtbot.waitUntil(lambda: model.total == 2 and not model.busy, timeout=WAIT_MS)
    assert {row.item for row in rows_shown(model)} == {"Tea"}
    assert desk.footer.text() == "2 rows shown (filtered), total £10.60"
    assert footer_total(desk) == sum(Decimal(row.quantity * row.unit_price_pence) / 100
                                     for row in rows_shown(model))

    produce_from_another_desk(desk.runtime.settings, [event("bob", "Tea", 120, 1), event("bob", "Pen", 99)]).join(60)
    qtbot.waitUntil(lambda: desk.footer.text() == "2 rows shown (filtered), total £11.80", timeout=WAIT_MS)
    assert footer_total(desk) == sum(pounds(model.data(model.index(position, LINE_VALUE)))
                                     for position in range(model.rowCount()))


def test_the_footer_follows_the_current_tab(desk, qtbot):
    produce_from_another_desk(desk.runtime.settings, [event("carol", "Lamp", 2500, 2),
                                                      event("carol", "Pen", 99, 1)]).join(60)
    qtbot.waitUntil(lambda: desk.models[Band.AFFORDABLE].total == 1 and desk.models[Band.CHEAP].total == 1,
                    timeout=WAIT_MS)
    desk.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: desk.footer.text() == "1 row shown, total £50.00", timeout=WAIT_MS)
    desk.tabs.setCurrentIndex(0)
    assert desk.footer.text() == "1 row shown, total £0.99"
