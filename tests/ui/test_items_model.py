"""ItemsTableModel against a real read model file (no broker): changed keys are applied in place."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from support.order_stream import order_event

from desktop_app import contracts
from desktop_app.query.bands import Band
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel
from desktop_app.ui.items_tab import COLUMNS, PAGE_SIZE, ItemsTableModel

TOPIC = "orders-items-model"


class ViewWriter:
    """Projects events into the read model file, as the projector thread would."""

    def __init__(self, path: Path) -> None:
        self.engine = open_engine(path, writer=True)
        ensure_schema(self.engine)
        self.projector = Projector(self.engine, TOPIC)
        self.offset = 0

    def write(self, *events: contracts.EventEnvelope) -> set[tuple[str, Band]]:
        records = []
        for event in events:
            wire = contracts.encode(event)
            records.append(Record(TOPIC, 0, self.offset, wire.value, wire.key, wire.headers))
            self.offset += 1
        return set(self.projector.apply(records).changed_keys)


class FailingOnce:
    """A read model whose first re-read of rows after `arm()` fails, as a locked or busy database file might."""

    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model
        self.failures = 0
        self.armed = False

    def __getattr__(self, name: str):
        return getattr(self.read_model, name)

    def arm(self) -> None:
        self.armed = True

    def items(self, *args, **kwargs):
        if self.armed and self.failures == 0:
            self.failures += 1
            raise OSError("database is locked")
        return self.read_model.items(*args, **kwargs)


class CountingReads:
    """A read model that counts the row reads a tab makes (each is a trip to its reader thread)."""

    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model
        self.row_reads = 0

    def __getattr__(self, name: str):
        return getattr(self.read_model, name)

    def items(self, *args, **kwargs):
        self.row_reads += 1
        return self.read_model.items(*args, **kwargs)

    def rows_for_keys(self, keys):
        self.row_reads += 1
        return self.read_model.rows_for_keys(keys)


def column(name: str) -> int:
    return [column_name for column_name, _title in COLUMNS].index(name)


def shown(model: ItemsTableModel) -> list:
    return [model.row_at(position) for position in range(model.rowCount())]


def view_window(read_model: ReadModel, model: ItemsTableModel) -> list:
    return read_model.items(model.band, model.customer, model.search, order_by=model._order_by(),
                            descending=model.descending, limit=max(model.rowCount(), PAGE_SIZE))


@pytest.fixture
def view(tmp_path):
    writer = ViewWriter(tmp_path / "readmodel.db")
    read_model = ReadModel(tmp_path / "readmodel.db")
    yield writer, read_model
    read_model.close()
    writer.engine.dispose()


def test_changed_keys_insert_rows_without_a_reset(view, qtbot):
    writer, read_model = view
    model = ItemsTableModel(read_model, Band.AFFORDABLE)
    model.reload()
    keys = writer.write(order_event("bob", ("Lamp", 2500, 1)), order_event("amy", ("Rug", 1000, 2)))
    model.apply_changed_keys(keys)
    qtbot.waitUntil(lambda: not model.busy and model.rowCount() == 2, timeout=5000)
    assert [row.customer_id for row in (model.row_at(0), model.row_at(1))] == ["amy", "bob"]
    assert model.total == 2
    assert model.resets == 1
    model.close()


def test_a_failed_re_read_is_retried_until_the_rows_are_shown(view, qtbot):
    writer, read_model = view
    source = FailingOnce(read_model)
    model = ItemsTableModel(source, Band.EXPENSIVE)
    model.reload()
    source.arm()
    keys = writer.write(order_event("carol", ("Blender", 8999, 1)))
    model.apply_changed_keys(keys)
    qtbot.waitUntil(lambda: not model.busy, timeout=5000)
    assert source.failures == 1
    assert model.rowCount() == 1 and model.total == 1
    assert model.row_at(0).item == "Blender"
    model.close()


def test_a_change_beyond_the_loaded_pages_only_moves_the_total(view, qtbot):
    writer, read_model = view
    writer.write(*(order_event(f"c{n:04d}", ("Mug", 650, 1)) for n in range(PAGE_SIZE + 100)))
    model = ItemsTableModel(read_model, Band.AFFORDABLE)
    model.reload()
    assert (model.rowCount(), model.total) == (PAGE_SIZE, PAGE_SIZE + 100)
    last_loaded = model.row_at(PAGE_SIZE - 1)

    keys = writer.write(order_event("c9999", ("Lamp", 2500, 1)))  # sorts after every loaded row
    model.apply_changed_keys(keys)
    qtbot.waitUntil(lambda: not model.busy, timeout=5000)

    assert (model.rowCount(), model.total) == (PAGE_SIZE, PAGE_SIZE + 101)
    assert model.row_at(PAGE_SIZE - 1) == last_loaded
    model.fetchMore()  # scrolling down brings it
    assert model.row_at(model.rowCount() - 1).customer_id == "c9999"
    model.close()


def test_changes_arriving_after_close_are_dropped(view, qtbot):
    """A queued change can still arrive after the window closed its models and their shared reader."""
    from concurrent.futures import ThreadPoolExecutor

    writer, read_model = view
    reader = ThreadPoolExecutor(max_workers=1)
    model = ItemsTableModel(read_model, Band.AFFORDABLE, reader=reader)
    model.reload()
    model.close()
    reader.shutdown(wait=False, cancel_futures=True)
    model.apply_changed_keys(writer.write(order_event("dan", ("Lamp", 2500, 1))))
    qtbot.wait(100)  # an error in the drain timer's slot would fail the test here
    assert not model.busy
    assert model.rowCount() == 0


def test_a_burst_of_changed_keys_costs_one_re_read_of_the_shown_rows(view, qtbot):
    """Point 6 of issue 11: the tabs trailed a burst because they re-read its keys 16 at a time. However many
    keys a batch changed, a tab now re-reads the rows it shows once and applies the difference."""
    writer, read_model = view
    writer.write(*(order_event(f"c{n:04d}", ("Mug", 650, 1)) for n in range(300)))
    source = CountingReads(read_model)
    model = ItemsTableModel(source, Band.AFFORDABLE)
    model.sort(column("last_ordered"), Qt.SortOrder.DescendingOrder)  # newest first: every key may move a row
    reads_before = source.row_reads
    later = datetime(2025, 6, 1, tzinfo=timezone.utc)
    keys = writer.write(*(order_event(f"c{n:04d}", ("Lamp", 2500, 1), at=later) for n in range(0, 300, 2)))
    assert len(keys) == 150
    model.apply_changed_keys(keys)
    qtbot.waitUntil(lambda: not model.busy, timeout=5000)
    assert source.row_reads - reads_before == 1
    assert shown(model) == view_window(read_model, model)
    assert model.row_at(0).item == "Lamp" and model.total == 450
    assert model.resets == 1  # the load for the sort, never one for the changes
    model.close()


def test_rows_that_move_out_of_the_loaded_window_leave_it(view, qtbot):
    writer, read_model = view
    writer.write(*(order_event(f"c{n:04d}", ("Mug", 650, 1)) for n in range(PAGE_SIZE + 50)))
    model = ItemsTableModel(read_model, Band.AFFORDABLE)
    model.sort(column("orders"), Qt.SortOrder.AscendingOrder)  # by Orders: a second order moves a row to the end
    keys = writer.write(*(order_event(f"c{n:04d}", ("Mug", 650, 1), source="again") for n in range(10)))
    model.apply_changed_keys(keys)
    qtbot.waitUntil(lambda: not model.busy, timeout=5000)
    assert shown(model) == view_window(read_model, model)
    assert all(row.orders == 1 for row in shown(model))
    assert (model.rowCount(), model.total) == (PAGE_SIZE, PAGE_SIZE + 50)
    model.close()


def test_the_line_value_column_shows_pounds_and_sorts_by_value(view, qtbot):
    """The line value is quantity x unit price: shown in pounds, and a click on its header sorts the rows
    by it (in SQL, so pages and changed keys keep the order)."""
    from PySide6.QtTest import QTest

    from desktop_app.ui.items_tab import ItemsView

    writer, read_model = view
    writer.write(order_event("amy", ("Rug", 1000, 3)), order_event("bob", ("Lamp", 2500, 1)),
                 order_event("cat", ("Vase", 600, 7)))
    model = ItemsTableModel(read_model, Band.AFFORDABLE)
    model.reload()
    line_value = column("line_value_pence")
    assert [model.data(model.index(row, line_value)) for row in range(3)] == ["£30.00", "£25.00", "£42.00"]
    assert model.value_pence is None  # read on the reader thread, not by the reload
    qtbot.waitUntil(lambda: not model.busy, timeout=5000)
    assert model.value_pence == 9700
    table = ItemsView(model)
    model.setParent(table)  # the view outlives this function (qtbot closes it later): so must its model
    qtbot.addWidget(table)
    table.resize(900, 300)
    table.show()
    header = table.horizontalHeader()
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(header.sectionViewportPosition(line_value) + 10, header.height() // 2))
    assert header.sortIndicatorSection() == line_value and model.sort_column == line_value
    ascending = [model.row_at(row).customer_id for row in range(3)]
    model.sort(line_value, Qt.SortOrder.DescendingOrder)
    assert ascending == ["bob", "amy", "cat"]
    assert [model.row_at(row).customer_id for row in range(3)] == ["cat", "amy", "bob"]
    model.close()


class CountingValueReads:
    """A read model that counts the value (SUM) reads a tab makes."""

    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model
        self.value_reads = 0

    def __getattr__(self, name: str):
        return getattr(self.read_model, name)

    def value_of_items(self, *args, **kwargs):
        self.value_reads += 1
        return self.read_model.value_of_items(*args, **kwargs)


def test_a_tab_not_shown_reads_no_value_until_it_is_shown_again(view, qtbot):
    """The footer's total is a SUM over every row selected, several times the cost of the count: a hidden tab
    (value not wanted) keeps up its rows without it, and reads it once when it is shown again."""
    writer, read_model = view
    source = CountingValueReads(read_model)
    model = ItemsTableModel(source, Band.AFFORDABLE)
    model.set_value_wanted(False)
    model.reload()
    for number in range(3):
        model.apply_changed_keys(writer.write(order_event(f"c{number}", ("Lamp", 2500, 2))))
        qtbot.waitUntil(lambda: not model.busy, timeout=5000)
    assert model.rowCount() == 3 and source.value_reads == 0 and model.value_pence is None
    model.set_value_wanted(True)
    qtbot.waitUntil(lambda: not model.busy, timeout=5000)
    assert (source.value_reads, model.value_pence) == (1, 15000)
    model.apply_changed_keys(writer.write(order_event("c9", ("Rug", 1000, 1))))
    qtbot.waitUntil(lambda: not model.busy and model.value_pence == 16000, timeout=5000)
    assert source.value_reads == 2
    model.close()
