"""View → As of… (Ctrl+Shift+T): the tabs as they stood at a moment, read-only, and Back to live (Esc).

The view is built off the GUI thread (query.as_of: a replay of the log into a temporary file), with its
progress and Cancel in the status bar like a rebuild's: nothing modal, the live view keeps running. When it
is ready the window shows it (`MainWindow.show_view`) under a banner; placing, cancelling and amending are
off meanwhile (their tooltips say why). Back to live closes the view, which deletes its file.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu

from desktop_app.query.as_of import AsOfCancelled, AsOfJob, AsOfView
from desktop_app.ui.as_of_banner import AsOfBanner, AsOfDialog, default_moment, moment_text, read_only_reason
from desktop_app.ui.rebuild_panel import RebuildPanel

log = logging.getLogger(__name__)

POLL_MS = 100  # how often the progress of a build is shown


class AsOfControl(QObject):
    def __init__(self, window: Any, view_menu: QMenu, banner: AsOfBanner) -> None:
        super().__init__(window)
        self.window, self.banner = window, banner
        self.action = QAction("&As of…", window, shortcut=QKeySequence("Ctrl+Shift+T"), triggered=self.choose)
        self.action.setToolTip("Show the tabs as they stood at a moment (read-only)")
        view_menu.addAction(self.action)
        self.back_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), window, self.back_to_live,
                                       context=Qt.ShortcutContext.WindowShortcut)
        self.back_shortcut.setEnabled(False)
        banner.backRequested.connect(self.back_to_live)
        self.panel = RebuildPanel()  # the rebuild's progress widget, with its own words
        window.status.insertPermanentWidget(0, self.panel, 1)
        self.panel.cancelRequested.connect(self.cancel)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._follow)
        self.job: AsOfJob | None = None
        self.view: AsOfView | None = None  # the view shown, while not live
        self.dialog: AsOfDialog | None = None
        self._last_moment: datetime | None = None
        self._changes = [window.orders_tab.cancel_action, window.orders_tab.amend_action]
        self._tooltips = {id(action): action.toolTip() for action in self._changes}
        for action in self._changes:  # the Orders tab enables them again after its menu: not while read-only
            action.changed.connect(lambda action=action: self._keep_off(action))
        self._place_tooltip = window.form.place_button.toolTip()

    # -- choosing and building ------------------------------------------------------------------------------
    def choose(self) -> None:
        """The dialog; Show starts the build."""
        dialog = AsOfDialog(self.window, self._last_moment or default_moment())
        dialog.accepted.connect(lambda: self.start(dialog.chosen()))
        self.dialog = dialog
        dialog.open()

    def start(self, moment: datetime) -> None:
        if self.job is not None:
            return
        self._last_moment = moment
        self.job = self.window.query.as_of(moment).start()
        self.action.setEnabled(False)
        self.panel.begin()
        self.panel.heading.setText(f"Building the view as of {moment_text(moment)}")
        self.panel.heading.setToolTip(self.panel.heading.text())
        self.panel.cancel_button.setToolTip("Stop building it; the tabs stay as they are")
        self._poll.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _follow(self) -> None:
        job = self.job
        if job is None:
            return
        progress = job.progress()
        if progress.total:
            self.panel.show_progress(progress.done, progress.total, progress.elapsed_s)
        if not job.finished.is_set():
            return
        self._poll.stop()
        self.job = None
        self.panel.end()
        self.action.setEnabled(True)
        try:
            view = job.take_view()
        except AsOfCancelled:
            self.window.report("The view as of the moment was cancelled; the tabs are as they were.")
            return
        except Exception as exc:  # noqa: BLE001 - shown in the status bar; the tabs stay as they were
            self.window.report(f"Could not build the view as of {moment_text(job.moment)}: {exc}")
            return
        if self.panel.cancelled:  # Cancel came as it finished
            view.close()
            return
        self._show(view)

    # -- showing and going back -------------------------------------------------------------------------------
    def _show(self, view: AsOfView) -> None:
        earlier, self.view = self.view, view
        self.window.show_view(view, view.moment)
        if earlier is not None:
            earlier.close()
        self.banner.show_moment(view.moment)
        self.back_shortcut.setEnabled(True)
        self._set_read_only(read_only_reason(view.moment))
        events = f"{view.records:,} event{'' if view.records == 1 else 's'}"
        self.window.report(f"Showing the view as of {moment_text(view.moment)} ({events} replayed).")

    def back_to_live(self) -> None:
        view, self.view = self.view, None
        if view is None:
            return
        self.window.show_view(self.window.query)
        view.close()
        self.banner.hide()
        self.back_shortcut.setEnabled(False)
        self._set_read_only(None)

    @property
    def read_only(self) -> str | None:
        """Why changes are refused now (the tabs show a moment), or None while live."""
        return read_only_reason(self.view.moment) if self.view is not None else None

    def refuses_change(self) -> bool:
        """True (and says why) while the tabs show a moment: the window asks before placing or amending."""
        why = self.read_only
        if why is not None:
            self.window.report(why)
        return why is not None

    def _set_read_only(self, why: str | None) -> None:
        place = self.window.form.place_button
        place.setEnabled(why is None)
        place.setToolTip(why or self._place_tooltip)
        dialog = self.window.order_actions.dialog
        if why is not None and dialog is not None and dialog.isVisible():
            dialog.reject()  # a cancellation asked for before: not from the past
        for action in self._changes:
            action.setToolTip(why or self._tooltips[id(action)])
            action.setStatusTip(why or "")
            action.setEnabled(why is None)

    def _keep_off(self, action: QAction) -> None:
        if self.view is not None and action.isEnabled():
            action.setEnabled(False)

    def close(self) -> None:
        """The window closes: stop a build, close the view shown (its file is deleted)."""
        self._poll.stop()
        if self.job is not None:
            self.job.cancel()
            self.job.join(5.0)
            try:
                self.job.take_view().close()
            except Exception:  # noqa: BLE001 - cancelled, failed or still running: its own thread deletes it
                pass
            self.job = None
        if self.view is not None:
            self.view.close()
            self.view = None
