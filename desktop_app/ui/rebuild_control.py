"""Rebuilding the read model from the window: confirm, run off the GUI thread, show progress, Cancel.

Nothing here is modal: the rebuild panel sits in the status bar and the tabs and the form keep working
(issue 11, point 3). A rebuild the window did not ask for (a new projection version) shows in the same
panel, from the status poll; the panel hides as soon as any rebuild ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop_app.ui.bridge import ProjectionBridge
from desktop_app.ui.rebuild_panel import RebuildPanel

log = logging.getLogger(__name__)


class RebuildControl:
    def __init__(self, window: QWidget, query: Any, bridge: ProjectionBridge, panel: RebuildPanel,
                 action: QAction, *, on_swapped: Callable[[], None]) -> None:
        self.window, self.query, self.bridge, self.panel, self.action = window, query, bridge, panel, action
        self._on_swapped = on_swapped
        self.requested = False  # a rebuild asked for here runs (the panel follows its callbacks)
        self._cancel = False
        self._ended_at = 0.0  # status snapshots gathered before this never show a rebuild again
        self.confirm_box: QMessageBox | None = None
        bridge.rebuildProgress.connect(self._progress)
        bridge.rebuildFinished.connect(self._finished)
        panel.cancelRequested.connect(self._cancel_requested)

    def confirm(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Rebuild read model",
                          "Replay the whole event log into a fresh read model?\n\n"
                          "Orders are not affected, and you can keep working meanwhile. The tabs keep showing "
                          "the current view and switch to the new one when it is complete.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.finished.connect(lambda result: self.start() if result == QMessageBox.StandardButton.Yes else None)
        self.confirm_box = box
        box.open()

    def start(self) -> None:
        if self.requested:
            return
        self.action.setEnabled(False)
        self._cancel = False
        self.requested = True
        self.panel.begin()
        asyncio.get_event_loop().run_in_executor(None, self._run)

    def follow_background(self, rebuild: Any, asked_at: float) -> None:
        """The status poll's view of a running rebuild (`query.rebuild_status`, gathered at `asked_at`)."""
        if self.requested or asked_at <= self._ended_at:  # ours reports itself; a stale snapshot says nothing
            return
        if rebuild is None:
            if not self.panel.isHidden():
                self.panel.end()
                self.action.setEnabled(True)
            return
        if self.panel.isHidden():
            self.panel.begin(rebuild.reason, cancellable=False)
            self.action.setEnabled(False)
        progress = rebuild.progress
        self.panel.show_progress(progress.done, progress.total, progress.elapsed_s)

    def _cancel_requested(self) -> None:
        self._cancel = True

    def _run(self) -> None:
        """Runs in a worker thread; reports through the bridge's queued signals."""
        try:
            outcome = self.query.rebuild(
                progress=lambda done, total: self.bridge.rebuildProgress.emit(done, total),
                cancel=lambda: self._cancel,
            )
        except Exception as exc:  # noqa: BLE001 - shown in the status bar; the view stays as it was
            log.exception("rebuild failed")
            self.bridge.rebuildFinished.emit(False, f"Rebuild failed: {exc}")
            return
        message = (f"Read model rebuilt from {outcome.total:,} events." if outcome.completed
                   else "Rebuild cancelled; the view is unchanged.")
        self.bridge.rebuildFinished.emit(outcome.completed, message)

    def _progress(self, done: int, total: int) -> None:
        if self.requested:
            self.panel.show_progress(done, total)

    def _finished(self, completed: bool, message: str) -> None:
        self.requested = False
        self._ended_at = time.monotonic()
        self.panel.end()
        self.action.setEnabled(True)
        self._on_swapped()
        self.window.statusBar().showMessage(message, 8000)
