"""The status bar: broker link, projection lag, outbox queue, quarantined records (click to list)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar, QWidget


@dataclass(frozen=True)
class DeskStatus:
    """One snapshot, gathered off the GUI thread."""

    broker: str  # "embedded broker at 127.0.0.1:1234" / "external cluster at ..."
    connected: bool
    lag: int | None
    pending: int
    quarantined: int
    problem: str | None = None  # the latest error worth showing, if any
    rebuilding: str | None = None  # "rebuilding the view (why): 40%" while a rebuild runs


class DeskStatusBar(QStatusBar):
    quarantineRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rebuilding = QLabel("")
        self.rebuilding.hide()
        self.broker = QLabel("Kafka: starting …")
        self.lag = QLabel("Lag: –")
        self.pending = QLabel("Outbox: –")
        self.quarantined = QPushButton("Quarantined: –")
        self.quarantined.setFlat(True)
        self.quarantined.setToolTip("Records on the topic that are not valid events; click to list them")
        self.quarantined.clicked.connect(self.quarantineRequested)
        self.lag.setToolTip("Events in the log not yet in this desk's view")
        self.pending.setToolTip("Accepted orders waiting to be published to Kafka")
        for widget in (self.rebuilding, self.broker, self.lag, self.pending, self.quarantined):
            self.addPermanentWidget(widget)

    def show_status(self, status: DeskStatus) -> None:
        state = "connected" if status.connected else "not connected"
        colour = "#1b5e20" if status.connected else "#b00020"
        self.broker.setText(f"<span style='color:{colour}'>●</span> Kafka: {status.broker}, {state}")
        self.broker.setToolTip(status.problem or "")
        self.lag.setText("Lag: –" if status.lag is None else f"Lag: {status.lag:,} events")
        self.pending.setText(f"Outbox: {status.pending:,} waiting")
        self.quarantined.setText(f"Quarantined: {status.quarantined:,}")
        self.rebuilding.setText(status.rebuilding or "")
        self.rebuilding.setVisible(bool(status.rebuilding))
