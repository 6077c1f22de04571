"""The banner above the tabs while they show the view as of a moment, and the dialog that picks the moment.

The banner says which moment, that the view is read-only, and offers Back to live (Esc). Times are local.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

BANNER_STYLE = "QFrame#asOfBanner { background: #fff3c4; border: 1px solid #d9b600; border-radius: 3px; }"
READ_ONLY_WHY = ("The tabs show the view as of {moment}: placing, cancelling and amending orders are off until "
                 "Back to live (Esc)")
CLOSING_TIME = 18  # the moment the dialog first offers: yesterday at this hour (see default_moment)


def moment_text(moment: datetime, now: datetime | None = None) -> str:
    """"Fri 27 Nov 18:00" in local time; the year is added when it is not this year's."""
    local = moment.astimezone()
    year = "" if local.year == (now or datetime.now()).astimezone().year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M}"


def banner_text(moment: datetime, now: datetime | None = None) -> str:
    return f"As of {moment_text(moment, now)} — read-only"


def read_only_reason(moment: datetime) -> str:
    """Why a change is refused while the tabs show `moment` (tooltips and the status bar)."""
    return READ_ONLY_WHY.format(moment=moment_text(moment))


def default_moment(now: datetime | None = None) -> datetime:
    """Yesterday at closing time (18:00), local: the question a desk asks ("what did we have on the books last
    night?"); "now" would only repeat the live view."""
    local = (now or datetime.now()).astimezone()
    return (local - timedelta(days=1)).replace(hour=CLOSING_TIME, minute=0, second=0, microsecond=0)


class AsOfBanner(QFrame):
    backRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("asOfBanner")
        self.setStyleSheet(BANNER_STYLE)
        self.label = QLabel()
        self.label.setStyleSheet("font-weight: bold; color: #5c4400;")
        self.back_button = QPushButton("Back to &live")
        self.back_button.setToolTip("Show the live view again (Esc); this view as of a moment is closed")
        self.back_button.clicked.connect(self.backRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.back_button)
        self.hide()

    def show_moment(self, moment: datetime) -> None:
        self.label.setText(banner_text(moment))
        self.label.setToolTip(read_only_reason(moment))
        self.show()


class AsOfDialog(QDialog):
    """Picks a moment (local time, not in the future); `chosen()` is it, timezone-aware. Opened with open()."""

    def __init__(self, parent: QWidget, initial: datetime) -> None:
        super().__init__(parent)
        self.setWindowTitle("As of…")
        self.when = QDateTimeEdit(QDateTime(initial.astimezone().replace(tzinfo=None)))
        self.when.setCalendarPopup(True)
        # digits only, so a moment can be typed whole ("2026-11-27 18:00"); a weekday section made typing
        # a date land on another day. The day is spelled out beside it.
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.day = QLabel()
        self.when.dateTimeChanged.connect(self._spell_day)
        self._spell_day()
        note = QLabel("Local time. The tabs and the orders show what the log held then, read-only; events count "
                      "from when the desk published them (their Kafka timestamp).")
        note.setWordWrap(True)
        # Plain buttons: a QDialogButtonBox made Cancel the default, so Return in the date field cancelled
        self.show_button = QPushButton("&Show")
        self.show_button.setDefault(True)
        self.show_button.clicked.connect(self.accept)
        cancel = QPushButton("Cancel")
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.show_button)
        buttons.addWidget(cancel)
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Show the view as it stood at:"))
        when_row = QHBoxLayout()
        when_row.addWidget(self.when, 1)
        when_row.addWidget(self.day)
        layout.addLayout(when_row)
        layout.addWidget(note)
        # A maximum on the field (now) made Qt refuse typed digits on the way to a moment of today ("12" in
        # 2026-12-01 while the day still said 27 was past the maximum): a moment to come is refused on Show
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020")
        self.problem.hide()
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
        self.when.setFocus(Qt.FocusReason.OtherFocusReason)

    def _spell_day(self, *_args: object) -> None:
        self.day.setText(self.chosen().strftime("%A %-d %B"))

    def accept(self) -> None:
        if self.chosen() > datetime.now().astimezone():
            self.problem.setText("That moment has not come yet: the log can only say what was.")
            self.problem.show()
            return
        super().accept()

    def chosen(self) -> datetime:
        return self.when.dateTime().toPython().astimezone()
