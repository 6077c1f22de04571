"""At the window's first size, with Kafka connected, the rebuild panel in the status bar shows how long is left
(issue 11, points 3 and 8): the clerk saw "24,499 of 200,006 events ·" and the rate and time left were cut off."""

from __future__ import annotations

from desktop_app.ui.main_window import MainWindow


def visible_part(label) -> str:
    """The longest start of the label's text that its width shows (QLabel cuts, it does not wrap)."""
    metrics, width, text = label.fontMetrics(), label.contentsRect().width(), label.text()
    while text and metrics.horizontalAdvance(text) > width:
        text = text[:-1]
    return text


def test_the_time_left_of_a_rebuild_is_visible_beside_a_connected_broker(desk: MainWindow, qtbot):
    desk.resize(1200, 720)  # the first size of the window (no saved geometry)
    qtbot.waitUntil(lambda: ", connected" in desk.status.broker.text(), timeout=30_000)
    panel = desk.rebuild_panel
    # as during a requested rebuild, which reports itself: the status poll, which sees no rebuild running in
    # the query service, would otherwise close the panel if it came during the wait below
    desk.rebuilds.requested = True
    panel.begin()
    panel.show_progress(24_499, 200_006, elapsed_s=2.0)
    qtbot.wait(200)  # let the status bar lay the panel out
    shown = visible_part(panel.detail)
    assert "about 14 s left" in shown, (shown, panel.detail.text())
    assert "24,499 of 200,006 events" in panel.detail.toolTip() and "12,250 events/s" in panel.detail.toolTip()
    panel.end()
    desk.rebuilds.requested = False
    assert panel.isHidden() and panel.detail.toolTip() == ""
