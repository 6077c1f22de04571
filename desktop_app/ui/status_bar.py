"""The status bar: broker link (with the reason when down), projection lag, outbox queue, quarantined records
(click to list them), and the rebuild panel while a rebuild runs."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar, QWidget

from desktop_app.ui.eliding_label import ElidingLabel
from desktop_app.ui.rebuild_panel import RebuildPanel

REASON_CHARS = 90  # the reason shown in the bar; the tooltip has all of it
MIN_LABEL_WIDTH = 120  # texts that vary may be cut to this, so they never make the window grow


@dataclass(frozen=True)
class DeskStatus:
    """One snapshot, gathered off the GUI thread."""

    broker: str  # "embedded broker at 127.0.0.1:1234" / "external cluster at ..."
    connected: bool
    lag: int | None
    pending: int
    quarantined: int
    problem: str | None = None  # the latest error worth showing, if any
    starting: bool = False  # our own broker is starting (or the first connection is being made): not a failure
    embedded: bool = True  # our own broker (it starts), or an external cluster (we connect to it)


def one_line(text: str, limit: int = REASON_CHARS) -> str:
    """The first line of `text`, at most `limit` characters (cut with an ellipsis)."""
    line = " ".join(text.strip().split("\n", 1)[0].split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def link_text(status: DeskStatus) -> tuple[str, str]:
    """(what the bar says about Kafka, its colour)."""
    if status.connected:
        return f"Kafka: {status.broker}, connected", "#1b5e20"
    if status.starting:
        return ("Kafka: starting …" if status.embedded else f"Kafka: connecting to {status.broker} …"), "#8a6d00"
    reason = f": {one_line(status.problem)}" if status.problem else ""
    # Our own broker's address says nothing to a clerk and would push the reason out of the bar
    where = "" if status.embedded else f" {status.broker},"
    return f"Kafka:{where} not connected{reason}", "#b00020"


def lag_text(status: DeskStatus) -> str:
    """The lag is only known while connected: the log's end comes from the broker."""
    if not status.connected or status.lag is None:
        return "Lag: unknown"
    return f"Lag: {status.lag:,} events"


class DeskStatusBar(QStatusBar):
    quarantineRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rebuild = RebuildPanel()
        self.link_dot = QLabel("●")
        self.broker = ElidingLabel("Kafka: starting …")  # a long reason ends in "…"; the tooltip has all of it
        self.lag = QLabel("Lag: unknown")
        self.pending = QLabel("Outbox: –")
        self.quarantined = QPushButton("Quarantined: –")
        self.quarantined.setFlat(True)
        self.quarantined.setToolTip("Records on the topic that are not valid events; click to list them")
        self.quarantined.clicked.connect(self.quarantineRequested)
        self.lag.setToolTip("Events in the log not yet in this desk's view")
        self.pending.setToolTip("Accepted orders waiting to be published to Kafka")
        self.addPermanentWidget(self.rebuild, 1)  # the free space on the left goes to a rebuild's progress
        for widget in (self.link_dot, self.broker, self.lag, self.pending, self.quarantined):
            self.addPermanentWidget(widget)
        self.broker.setMinimumWidth(MIN_LABEL_WIDTH)  # a long reason is cut, never widens the window
        self.broker.setContentsMargins(0, 0, 6, 0)  # the "…" of a cut reason does not touch the lag

    def show_status(self, status: DeskStatus) -> None:
        text, colour = link_text(status)
        self.link_dot.setStyleSheet(f"color: {colour}")
        self.broker.setText(text)
        self.broker.setToolTip(status.problem or "")
        self.lag.setText(lag_text(status))
        self.pending.setText(f"Outbox: {status.pending:,} waiting")
        self.quarantined.setText(f"Quarantined: {status.quarantined:,}")
