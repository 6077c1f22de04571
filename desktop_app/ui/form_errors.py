"""How a field in error looks: red cells (even while selected) and a red outline around a widget.

Neither changes any size, so showing or clearing an error never moves the form.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette, QPaintEvent, QPen
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

ERROR_COLOUR = QColor(176, 0, 32)
ERROR_BACKGROUND = QColor(255, 215, 215)
ERROR_SELECTED = QColor(200, 40, 60)  # the selection colour of a cell in error: still plainly red
ERROR_ROLE = Qt.ItemDataRole.UserRole + 1  # a cell's problem message; None when it is fine
OUTLINE_WIDTH = 2


class ErrorCellDelegate(QStyledItemDelegate):
    """Paints a cell whose ERROR_ROLE is set in red, with a red frame, whether or not it is selected."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        if index.data(ERROR_ROLE):
            option.backgroundBrush = QBrush(ERROR_BACKGROUND)
            for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
                option.palette.setColor(group, QPalette.ColorRole.Highlight, ERROR_SELECTED)
                option.palette.setColor(group, QPalette.ColorRole.HighlightedText, QColor(Qt.GlobalColor.white))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        if index.data(ERROR_ROLE):
            painter.save()
            painter.setPen(QPen(ERROR_COLOUR, OUTLINE_WIDTH))
            painter.drawRect(option.rect.adjusted(1, 1, -1, -1))
            painter.restore()


class ErrorOutline(QWidget):
    """A red frame drawn over its parent widget; transparent to the mouse, takes no layout space."""

    def __init__(self, target: QWidget) -> None:
        super().__init__(target)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        target.installEventFilter(self)
        self.setGeometry(target.rect())
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return False

    def set_shown(self, shown: bool) -> None:
        self.setVisible(shown)
        if shown:
            self.raise_()  # above the combo box's own line edit

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setPen(QPen(ERROR_COLOUR, OUTLINE_WIDTH))
        painter.drawRect(self.rect().adjusted(1, 1, -1, -1))
