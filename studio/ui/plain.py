"""Text from plugins, models, files and errors shown as plain text, never as rich text.

Qt guesses: a QLabel, a message box or a tool tip whose text looks like HTML is rendered as
HTML, so a failure "lacks <weights.bin>" read "lacks", and a plugin could restyle the
window. Every widget that shows such text goes through these helpers: labels and message
boxes are told their text is plain, and a tool tip (which has no such switch) is escaped.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtGui import Qt as QtText
from PySide6.QtWidgets import QLabel, QMessageBox, QSizePolicy, QWidget


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A QLabel that shows ``text`` exactly as written."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def plain_tip(text: str) -> str:
    """``text`` as a tool tip shows it literally (Qt would take ``<b>`` in it for markup)."""
    return QtText.convertFromPlainText(text, QtText.WhiteSpaceMode.WhiteSpaceNormal) if text else ""


def plain_box(icon: QMessageBox.Icon, title: str, text: str, buttons=QMessageBox.StandardButton.Ok, parent: QWidget | None = None, informative: str = "") -> QMessageBox:
    """A message box whose text and informative text show exactly as written."""
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if informative:
        box.setInformativeText(informative)
    for label in box.findChildren(QLabel):  # the informative text has a label of its own
        label.setTextFormat(Qt.TextFormat.PlainText)
    return box


class ElidedLabel(QLabel):
    """One line of plain text that ends in "…" where its place is narrower than the text (a
    model's long name in the narrow Jobs dock), the whole text in its tool tip. ``text()`` stays
    the whole text: only the painting is shortened."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens its dock
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(plain_tip(text))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(), self.isEnabled(), shown,
                                  self.foregroundRole())
