"""QApplication + qasync loop. Until the full window lands, a minimal window shows the broker status."""

from __future__ import annotations

import asyncio
import sys

import qasync
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from desktop_app.bootstrap import connect_broker
from desktop_app.settings import Settings


class BrokerStatusWindow(QMainWindow):
    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.setWindowTitle("Order Desk")
        self.label = QLabel(f"Connecting to Kafka ...\nData dir: {settings.data_dir}")
        self.label.setMargin(24)
        self.setCentralWidget(self.label)
        self.resize(520, 160)

    async def connect(self, settings: Settings) -> None:
        try:
            connection = await connect_broker(settings)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.label.setText(f"Kafka broker not reachable:\n{exc}")
            return
        kind = "embedded broker" if connection.embedded else "external cluster"
        self.label.setText(
            f"{kind} at {connection.bootstrap_servers}\n"
            f"topic {connection.topic.name}: {connection.topic.partitions} partitions\n"
            f"Data dir: {settings.data_dir}"
        )


def run_gui(settings: Settings) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Order Desk")
    window = BrokerStatusWindow(settings)
    window.show()

    async def main() -> None:
        closed = asyncio.Event()
        app.lastWindowClosed.connect(closed.set)
        await window.connect(settings)
        await closed.wait()

    qasync.run(main())
    return 0
