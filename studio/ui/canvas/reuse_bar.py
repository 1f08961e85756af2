"""The reuse bar: a quiet bar over the canvas offering a picture's generation parameters.

"This picture carries parameters — reuse them?": never modal; accepting hands the parameters
on, dismissing (or opening another picture) hides it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from studio.core.project.reuse import PictureParameters


class ReuseBar(QFrame):
    """A quiet bar over the canvas: "this picture carries parameters — reuse them?" (never modal)."""

    accepted = Signal(object)  # PictureParameters

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reuse_bar")
        self.setStyleSheet("#reuse_bar { background: #2d3a52; border-bottom: 1px solid #3d7bd9; }")
        self.parameters: PictureParameters | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.reuse_button = QPushButton("Reuse parameters")
        self.reuse_button.setObjectName("reuse_bar_accept")
        self.reuse_button.clicked.connect(self._accept)
        dismiss = QToolButton(text="✕")
        dismiss.setAutoRaise(True)
        dismiss.setToolTip("Dismiss")
        dismiss.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 5, 6, 5)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reuse_button)
        layout.addWidget(dismiss)
        self.hide()

    def offer(self, name: str, parameters: PictureParameters) -> None:
        self.parameters = parameters
        self.label.setText(f"<b>{_escape(name)}</b> carries generation parameters: {_escape(parameters.summary())}")
        self.show()

    def _accept(self) -> None:
        if self.parameters is not None:
            self.accepted.emit(self.parameters)
        self.hide()



def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
