"""The dialog of Illustrate selection and Score this scene: which generator, the prompt it will
get (the passage by default, editable), and whether a chat model writes that prompt first.

The dialog only shows and collects; ``media_links`` runs the jobs. While a chat model writes
the prompt the dialog stays open with a busy bar and a Stop button, so the writer sees what
is happening and can stop it; the picture or the music starts once the prompt is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.engine.generators import Generator
from studio.core.project.history import Passage
from studio.ui.plain import plain_label, plain_tip


@dataclass(frozen=True)
class Medium:
    """What a passage is turned into: a picture or music, and how the dialog names it."""

    kind: str  # the generators' kind: "image" or "audio"
    title: str  # the dialog's and the menu's name
    verb: str  # the button that starts it
    doing: str  # the status bar's word while it runs
    made: str  # what it makes, in a sentence: "picture", "music"
    builtin: str  # the generator offered when the writer has chosen none of this kind
    instruction: str  # what a chat model is asked to do with the passage


def takes_prompt(generator: Generator) -> bool:
    return any(p.name == "prompt" and p.type == "text" for p in generator.params)


class PassageDialog(QDialog):
    """The choices before a passage becomes a picture or music."""

    start_requested = Signal()  # the writer pressed Illustrate / Score
    stop_requested = Signal()  # the writer stopped the chat model writing the prompt

    def __init__(self, medium: Medium, passage: Passage, words: int, prompt: str, generators: list[Generator], chosen: str,
                 chat: Generator | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.medium = medium
        self.setObjectName("passage_dialog")
        self.setWindowTitle(medium.title)
        self.setMinimumWidth(520)
        self.chat = chat

        quote = plain_label(f"{passage.label(90)} · {words:,} word{'s' if words != 1 else ''}")
        quote.setObjectName("passage_quote")
        quote.setWordWrap(True)
        font = quote.font()
        font.setItalic(True)
        quote.setFont(font)

        self.generator = QComboBox()
        self.generator.setObjectName("passage_generator")
        for generator in generators:
            self.generator.addItem(generator.title or generator.id, generator.id)
        self.generator.setCurrentIndex(max(self.generator.findData(chosen), 0))
        self.generators = {g.id: g for g in generators}

        self.prompt = QPlainTextEdit(prompt)
        self.prompt.setObjectName("passage_prompt")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setFixedHeight(self.prompt.fontMetrics().lineSpacing() * 6 + 12)
        self.note = plain_label("")
        self.note.setObjectName("passage_note")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(placeholder-text);")

        # Without a chat model the box stays, greyed, and says why: the writer learns it exists.
        self.use_chat = QCheckBox(f"Write the prompt with {chat.title or chat.id} first" if chat is not None
                                  else "Write the prompt with a chat model first (none installed)")
        self.use_chat.setObjectName("passage_use_chat")

        self.busy = QProgressBar()
        self.busy.setObjectName("passage_busy")
        self.busy.setRange(0, 0)  # a chat model streams no count the bar could show
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(8)
        self.status = plain_label("")
        self.status.setObjectName("passage_status")
        self.status.setWordWrap(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("passage_stop")
        self.stop_button.clicked.connect(self.stop_requested)
        progress = QHBoxLayout()
        progress.addWidget(self.busy, 1)
        progress.addWidget(self.stop_button)

        self.start_button = QPushButton(medium.verb)
        self.start_button.setObjectName("passage_start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("passage_cancel")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.start_button)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Generator:", self.generator)
        form.addRow("Prompt:", self.prompt)
        form.addRow("", self.note)
        form.addRow("", self.use_chat)
        layout = QVBoxLayout(self)
        layout.addWidget(quote)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addLayout(progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        layout.addLayout(buttons)

        self.generator.currentIndexChanged.connect(self._generator_chosen)
        self.use_chat.toggled.connect(self._generator_chosen)
        self._generator_chosen()
        self.show_idle("")

    # -- what the writer chose ------------------------------------------------------------------

    def chosen(self) -> Generator:
        return self.generators[str(self.generator.currentData())]

    def prompt_text(self) -> str:
        return self.prompt.toPlainText()

    def writes_prompt(self) -> bool:
        return self.use_chat.isEnabled() and self.use_chat.isChecked()

    # -- what the dialog shows --------------------------------------------------------------

    def show_writing(self, text: str) -> None:
        """A chat model is writing the prompt: the choices wait, Stop stops it."""
        for widget in (self.generator, self.prompt, self.use_chat, self.start_button):
            widget.setEnabled(False)
        self.busy.show()
        self.stop_button.show()
        self.status.setText(text)
        self.status.show()
        self.adjustSize()  # room for the bar and the line, nothing squeezed

    def show_idle(self, text: str) -> None:
        """Back to the choices, with ``text`` saying what happened ("" for nothing)."""
        self.busy.hide()
        self.stop_button.hide()
        self.generator.setEnabled(True)
        self.start_button.setEnabled(True)
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self._generator_chosen()
        self.adjustSize()

    def set_prompt(self, text: str) -> None:
        self.prompt.setPlainText(text)

    def _generator_chosen(self, *_: object) -> None:
        generator = self.chosen()
        name = generator.title or generator.id
        prompted = takes_prompt(generator)
        self.use_chat.setEnabled(prompted and self.chat is not None)
        self.prompt.setEnabled(prompted and not self.writes_prompt())
        if prompted and self.writes_prompt():
            self.note.setText(f"{self.chat.title or self.chat.id} writes the prompt from the whole passage; it appears here "
                              f"and {name} starts from it.")
        elif prompted:
            self.note.setText(f"{name} gets this prompt (the start of the passage; edit it as you like).")
        else:
            self.note.setText(
                f"{name} takes no prompt: the passage picks its seed, so the same passage always gives the same {self.medium.made}."
            )
        if self.chat is None:
            tip = "A text model with a chat template (an instruction-tuned one) could read the passage and write the prompt"
        elif not prompted:
            tip = f"{name} takes no prompt to write"
        else:
            tip = f"{self.chat.title or self.chat.id} reads the passage and writes a short prompt: “{self.medium.instruction}”"
        self.use_chat.setToolTip(plain_tip(tip))

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # Esc while the prompt is being written stops the writing, as Esc stops text in the editor.
        if event.key() == Qt.Key.Key_Escape and self.stop_button.isVisible():
            self.stop_requested.emit()
            return
        super().keyPressEvent(event)


def passage_words(text: str) -> int:
    return len(text.split())

