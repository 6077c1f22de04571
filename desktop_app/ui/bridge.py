"""Turns query-side callbacks (projector thread) into queued Qt signals, coalesced on the GUI thread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

COALESCE_MS = 50


class ProjectionBridge(QObject):
    """Receives changed (customer_id, band) keys from any thread; emits them in one batch per ~50 ms.

    `keysChanged` carries only ids: each model re-reads its rows through the query side's views.
    """

    keysChanged = Signal(object)  # frozenset[(customer_id, band)]
    offsetsChanged = Signal(object)  # dict[partition, next_offset]
    viewReset = Signal()  # the whole view was emptied (rebuild): reload everything
    rebuildProgress = Signal(int, int)  # done, total
    rebuildFinished = Signal(bool, str)  # succeeded, message

    _received = Signal(object, object)  # cross-thread hop: keys, offsets
    _reset = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._pending: set[tuple[str, Any]] = set()
        self._offsets: dict[int, int] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self._flush)
        self._received.connect(self._collect)  # queued when emitted from the projector thread
        self._reset.connect(self._on_reset)

    def on_change(self, change: Any) -> None:
        """The query service's listener (a ViewChange): safe to call from any thread."""
        if getattr(change, "reset", False):
            self._reset.emit()
        else:
            self.on_batch(change.keys, change.offsets)

    def on_batch(self, keys: Iterable[tuple[str, Any]], offsets: Mapping[int, int]) -> None:
        self._received.emit(frozenset(keys), dict(offsets))

    @Slot()
    def _on_reset(self) -> None:
        self._pending.clear()
        self.viewReset.emit()

    @Slot(object, object)
    def _collect(self, keys: frozenset, offsets: dict) -> None:
        self._pending.update(keys)
        self._offsets.update(offsets)
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        keys, self._pending = frozenset(self._pending), set()
        offsets, self._offsets = self._offsets, {}
        if keys:
            self.keysChanged.emit(keys)
        if offsets:
            self.offsetsChanged.emit(offsets)
