"""QApplication + qasync loop: builds the window from bootstrap's services and runs until it closes."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys

import qasync
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.bootstrap import DeskRuntime
from desktop_app.settings import Settings
from desktop_app.ui.main_window import MainWindow

log = logging.getLogger(__name__)

ORGANISATION = APPLICATION = "Order Desk"


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setQuitOnLastWindowClosed(False)  # the qasync loop ends the run, after a clean shutdown
    return app  # type: ignore[return-value]


def freeze_startup_heap() -> None:
    """Collect once, then leave the start-up heap (libraries, Qt wrappers) out of later garbage collections.

    A full collection of that heap holds the interpreter lock for tens of ms: measured as the largest GUI
    stall during bursts (bench/gui_stall.py) until this was added.
    """
    gc.collect()
    gc.freeze()


async def run_window(settings: Settings) -> None:
    app = application()
    runtime = DeskRuntime(settings)
    await runtime.start()
    window = MainWindow(runtime)
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    window.start()
    window.show()
    freeze_startup_heap()
    try:
        await closed.wait()
    finally:
        await runtime.stop()


def run_gui(settings: Settings) -> int:
    application()
    try:
        qasync.run(run_window(settings))
    except Exception as exc:
        log.exception("Order Desk could not start")
        QMessageBox.critical(None, "Order Desk could not start", f"{exc}\n\nDetails are in {settings.log_dir}.")
        return 1
    return 0
