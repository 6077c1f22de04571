"""The window shows whichever view it is given (the live one, or a read model as of a moment): every tab
reads it, live changes leave a non-live view alone, and listeners hear of each switch."""

from __future__ import annotations

from datetime import datetime, timezone

from desktop_app import contracts
from desktop_app.query.bands import Band
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel
from tests.ui.test_main_window import event, produce_from_another_desk
from tests.ui.test_tab_actions import fill_cheap_tab

WAIT_MS = 30_000
MOMENT = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


def fixed_view(path, events) -> ReadModel:
    engine = open_engine(path, writer=True)
    ensure_schema(engine)
    records = [Record("t", 0, offset, contracts.encode(e).value, headers=list(contracts.encode(e).headers))
               for offset, e in enumerate(events)]
    Projector(engine, "t").apply(records)
    engine.dispose()
    return ReadModel(path)


def test_the_tabs_show_the_view_they_are_given_and_a_fixed_one_stays_fixed(desk, qtbot, tmp_path):
    fill_cheap_tab(desk, qtbot, [event("alice", "Tea", 350, 2)])
    fixed = fixed_view(tmp_path / "fixed.db", [event("zoe", "Pen", 99), event("zoe", "Ink", 120),
                                               event("zoe", "Lamp", 2500)])
    heard: list = []
    desk.viewSourceChanged.connect(lambda source, moment: heard.append((source, moment)))
    cheap, orders = desk.models[Band.CHEAP], desk.orders

    desk.show_view(fixed, MOMENT)
    qtbot.waitUntil(lambda: cheap.total == 2 and orders.total == 3 and not cheap.busy, timeout=WAIT_MS)
    assert {cheap.row_at(row).customer_id for row in range(cheap.rowCount())} == {"zoe"}
    assert heard == [(fixed, MOMENT)] and not desk.showing_live

    produce_from_another_desk(desk.runtime.settings, [event("bob", "Mug", 120)]).join(60)
    qtbot.waitUntil(lambda: desk.query.count_items(Band.CHEAP) == 2, timeout=WAIT_MS)
    qtbot.wait(300)  # the live change reaches the window's bridge; the fixed view must not take it
    assert cheap.total == 2 and {cheap.row_at(row).customer_id for row in range(cheap.rowCount())} == {"zoe"}

    desk.show_view(desk.query)
    qtbot.waitUntil(lambda: cheap.total == 2 and {cheap.row_at(r).customer_id for r in range(cheap.rowCount())}
                    == {"alice", "bob"}, timeout=WAIT_MS)
    assert desk.showing_live and heard[-1] == (desk.query, None)
    fixed.close()
