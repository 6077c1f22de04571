"""A reason too long for the status bar ends in "…" instead of being clipped mid-word (issue 11, point 8):
at the window's first size the clerk saw "… not connected: the embedded Kafka broker was stopped (order-desk
broker stop); orders wait i" jammed against "Lag: unknown", and "not connected: the emb" during a rebuild."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage, QRegion
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from desktop_app.ui.status_bar import DeskStatus, DeskStatusBar

STOPPED = ("the embedded Kafka broker was stopped (order-desk broker stop); orders wait in the outbox until "
           "`order-desk broker start`")
UNREACHABLE = ("cannot reach the broker: kafka1.example.com:9093 did not answer within 10 s (is the host name "
               "right, and is the port open from this machine?)")


def drawn(widget: QWidget) -> QImage:
    """The widget's own painting, without any background, on a transparent image."""
    image = QImage(widget.size(), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    widget.render(image, QPoint(0, 0), QRegion(), QWidget.RenderFlag.DrawChildren)
    return image


def looks_like(label: QLabel, text: str) -> bool:
    """Whether `label` is drawn exactly as a plain label of the same size showing `text`."""
    reference = QLabel(text)
    reference.setTextFormat(Qt.TextFormat.PlainText)
    reference.setFont(label.font())
    reference.setPalette(label.palette())
    reference.setAlignment(label.alignment())
    reference.setContentsMargins(label.contentsMargins())
    reference.setFixedSize(label.size())
    return drawn(label) == drawn(reference)


def window_with_bar(qtbot) -> tuple[QMainWindow, DeskStatusBar]:
    window = QMainWindow()
    bar = DeskStatusBar()
    window.setStatusBar(bar)
    qtbot.addWidget(window)
    window.resize(1200, 720)  # the window's first size
    window.show()
    return window, bar


def cut_text(label: QLabel) -> str:
    """What an eliding label of this width shows: as much as fits, then "…"."""
    return label.fontMetrics().elidedText(label.text(), Qt.TextElideMode.ElideRight, label.contentsRect().width())


def test_a_reason_that_does_not_fit_ends_in_an_ellipsis(qtbot):
    _, bar = window_with_bar(qtbot)
    bar.show_status(DeskStatus(broker="external cluster at kafka1.example.com:9093", connected=False, lag=None,
                               pending=0, quarantined=0, problem=UNREACHABLE, embedded=False))
    qtbot.wait(100)
    label = bar.broker
    assert "not connected: cannot reach the broker" in label.text()
    assert label.fontMetrics().horizontalAdvance(label.text()) > label.contentsRect().width()  # it is cut here
    shown = cut_text(label)
    assert shown.endswith("…") and "not connected: cannot reach" in shown
    assert looks_like(label, shown)
    assert label.toolTip() == UNREACHABLE


def test_a_text_that_fits_is_drawn_whole(qtbot):
    _, bar = window_with_bar(qtbot)
    bar.show_status(DeskStatus(broker="embedded broker at 127.0.0.1:51985", connected=True, lag=0, pending=0,
                               quarantined=0))
    qtbot.wait(100)
    assert cut_text(bar.broker) == bar.broker.text() == "Kafka: embedded broker at 127.0.0.1:51985, connected"
    assert looks_like(bar.broker, bar.broker.text())


def test_the_reason_stays_readable_beside_a_rebuild(qtbot):
    _, bar = window_with_bar(qtbot)
    bar.show_status(DeskStatus(broker="embedded broker at 127.0.0.1:51985", connected=False, lag=None, pending=0,
                               quarantined=0, problem=STOPPED, embedded=True))
    bar.rebuild.begin()
    bar.rebuild.show_progress(24_499, 200_006, elapsed_s=2.0)
    qtbot.wait(100)
    # Seen: "Kafka: embedded broker at 127.0.0.1:51985, not connected: the emb" -- the port pushed the reason out
    assert "not connected: the embedded Kafka broker was stopped" in cut_text(bar.broker)
