"""The window's information boxes: Tools → Show quarantined records and Help → About."""

from __future__ import annotations

import platform
from typing import Any

import PySide6
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop_app import __version__


def show_quarantine(parent: QWidget, query: Any) -> QMessageBox:
    rows = query.quarantined(200)
    box = QMessageBox(parent)
    box.setWindowTitle("Quarantined records")
    box.setIcon(QMessageBox.Icon.Information)
    if not rows:
        box.setText("No records are quarantined: every record on the topic was a valid event.")
    else:
        box.setText(f"{len(rows)} most recent quarantined records (they were skipped, nothing else changed):")
        lines = [f"{r.quarantined_at:%Y-%m-%d %H:%M:%S}  partition {r.partition} offset {r.offset}: {r.reason}"
                 for r in rows]
        box.setDetailedText("\n".join(lines))
    box.open()
    return box


def show_about(parent: QWidget, runtime: Any) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle("About Order Desk")
    box.setText(
        f"<b>Order Desk {__version__}</b><br>Orders as events in Apache Kafka; a live local view per desk.<br><br>"
        f"Python {platform.python_version()} · PySide6 {PySide6.__version__}<br>"
        f"Data dir: {runtime.settings.data_dir}<br>"
        f"Kafka: {runtime.bootstrap_servers} ({'embedded' if runtime.embedded else 'external'})<br>"
        f"Topic: {runtime.settings.topic}"
    )
    box.open()
    return box
