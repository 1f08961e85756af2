"""The "Story | Chat" switch at the top of the Text tab, over a stack of the two views.

The Text workspace builds its story view (the page, its bars) itself; ``install_chat_view``
then moves what it built onto the stack's first page, from outside, so the story view keeps
whatever it holds, in its order and stretch, and the chat view goes on the second page.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLayout, QStackedWidget, QToolButton, QVBoxLayout, QWidget

from studio.ui.editor.chat_view import ChatView


class StorySwitch(QWidget):
    """The "Story | Chat" switch at the top of the Text tab, over a stack of the two views."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.story_button = QToolButton(text="Story")
        self.story_button.setObjectName("story_switch")
        self.story_button.setToolTip("The story: the model continues your text")
        self.chat_button = QToolButton(text="Chat")
        self.chat_button.setObjectName("chat_switch")
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        for button in (self.story_button, self.chat_button):
            button.setCheckable(True)
            button.setAutoRaise(True)
            self.group.addButton(button)
        self.story_button.setChecked(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.setSpacing(2)
        layout.addWidget(self.story_button)
        layout.addWidget(self.chat_button)
        layout.addStretch(1)


def install_chat_view(workspace: QWidget, chat: ChatView) -> tuple[StorySwitch, QStackedWidget]:
    """Put the Text workspace's own widgets (the story view) on one page of a stack and
    ``chat`` on the other, with the switch above them. Done from outside, after the workspace
    has built itself, so the story view keeps whatever it holds, in its order and stretch."""
    outer = workspace.layout()
    story = QWidget()
    story.setObjectName("story_view")
    inner = QVBoxLayout(story)
    inner.setContentsMargins(outer.contentsMargins())
    inner.setSpacing(outer.spacing())
    while outer.count():
        stretch = outer.stretch(0)
        item = outer.takeAt(0)
        if item.widget() is not None:
            inner.addWidget(item.widget(), stretch)
        elif item.layout() is not None:
            child: QLayout = item.layout()
            child.setParent(None)
            inner.addLayout(child, stretch)
        else:
            inner.addItem(item)
    stack = QStackedWidget()
    stack.setObjectName("text_views")
    stack.addWidget(story)
    stack.addWidget(chat)
    switch = StorySwitch()
    switch.story_button.toggled.connect(lambda on: on and stack.setCurrentWidget(story))
    switch.chat_button.toggled.connect(lambda on: on and stack.setCurrentWidget(chat))
    stack.currentChanged.connect(lambda _: QTimer.singleShot(0, chat.input.setFocus) if stack.currentWidget() is chat else None)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.setSpacing(0)
    outer.addWidget(switch)
    outer.addWidget(stack, 1)
    return switch, stack


