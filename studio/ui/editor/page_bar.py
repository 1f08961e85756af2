"""The controls under the text: Continue, Retry, Stop (while a generation streams), and the
take browser of the place at the cursor ("‹ Take 2 of 3 ›  retry · stopped").

The bar only shows state and says what was clicked; the window's ``TextGeneration`` runs the
generations and the workspace chooses takes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from studio.core.text.takes import TakeSet
from studio.ui.slots import connect_command


class PageBar(QWidget):
    continue_clicked = Signal()
    retry_clicked = Signal()
    stop_clicked = Signal()
    previous_clicked = Signal()
    next_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page_bar")
        self.continue_button = self._button("Continue", "Write on from the cursor (Ctrl+Enter)", self.continue_clicked, "page_continue")
        self.retry_button = self._button("Retry", "Make the take at the cursor again with a new seed; the old one stays a take (Ctrl+R)", self.retry_clicked, "page_retry")
        self.stop_button = self._button("Stop", "Stop the generation; what it wrote stays, kept as a take (Esc)", self.stop_clicked, "page_stop")
        self.previous_button = self._arrow("‹", "Previous take (Alt+←)", self.previous_clicked, "take_previous")
        self.next_button = self._arrow("›", "Next take (Alt+→)", self.next_clicked, "take_next")
        self.take_label = QLabel()
        self.take_label.setObjectName("take_label")
        self.take_label.setToolTip("The takes made at this place of the text: each Retry adds one; choosing one is a step Ctrl+Z undoes")
        self.kind_label = QLabel()
        self.kind_label.setObjectName("take_kind")
        self.kind_label.setStyleSheet("color: palette(mid);")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(28, 4, 12, 6)  # in line with the text's margin
        layout.setSpacing(6)
        for widget in (self.continue_button, self.retry_button, self.stop_button):
            layout.addWidget(widget)
        layout.addStretch(1)
        for widget in (self.previous_button, self.take_label, self.next_button, self.kind_label):
            layout.addWidget(widget)
        self.show_state(False, None)

    def _button(self, text: str, tip: str, signal, name: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the cursor stays in the text
        connect_command(button.clicked, signal.emit)
        return button

    def _arrow(self, arrow: str, tip: str, signal, name: str) -> QToolButton:
        button = QToolButton()
        button.setText(arrow)
        button.setStyleSheet("QToolButton { font-size: 20px; padding: 0 8px; }")  # one of the body's size is hard to hit
        button.setObjectName(name)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        connect_command(button.clicked, signal.emit)
        return button

    def show_state(self, streaming: bool, take_set: TakeSet | None) -> None:
        """Streaming: only Stop works. Otherwise Continue, Retry (with a take to retry) and the
        browser of ``take_set``'s takes (hidden where there is none)."""
        self.stop_button.setVisible(streaming)
        self.continue_button.setEnabled(not streaming)
        self.retry_button.setEnabled(not streaming and take_set is not None)
        browsable = take_set is not None and len(take_set.takes) > 0
        for widget in (self.previous_button, self.take_label, self.next_button, self.kind_label):
            widget.setVisible(browsable)
        if not browsable:
            return
        self.take_label.setText(f"Take {take_set.current + 1} of {len(take_set.takes)}")
        self.kind_label.setText(take_set.take.label())
        waiting = streaming or take_set.pending is not None
        self.previous_button.setEnabled(not waiting and take_set.current > 0)
        self.next_button.setEnabled(not waiting and take_set.current < len(take_set.takes) - 1)
