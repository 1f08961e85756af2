"""Chat replies in History, driven as a writer would: messages sent with Enter in the Text tab's
chat (the real llama fixture), then the History panel's Show button, its row's menu (Regenerate,
Show) and a reply's own buttons (Retry, ✕): a reply's entry says it is one, Show brings the chat
up with that reply selected (its take chosen), Regenerate asks for a new take of the last reply
and says why not for an earlier one, and a deleted reply's entry says it is gone; the links
survive saving and reopening the project."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from studio.core.project.history import ChatReplyLink
from studio.ui.panels.history_panel import ALIVE_ROLE
from conftest import history_menu_action

LLAMA = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"
CLICK = Qt.MouseButton.LeftButton


@pytest.fixture
def window(open_window):
    win = open_window()
    assert win.add_model_folder_path(str(LLAMA))
    win.tabs.setCurrentWidget(win.text)
    assert win.generate_panel.select("lm:llama")
    win.generate_panel.form.widgets["max_new_tokens"].spin.setValue(8)
    return win


def send(qtbot, window, text):
    view = window.chatting.view
    count = len(window.history_panel.entries())
    view.input.setFocus()
    qtbot.keyClicks(view.input, text)
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.running and len(window.history_panel.entries()) == count + 1, timeout=60000)
    return window.history_panel.entries()[-1]


def row_text(window, entry) -> str:
    panel = window.history_panel
    return panel.model.index(panel.model.row_of(entry)).data(Qt.ItemDataRole.DisplayRole)


def show(qtbot, window, entry):
    panel = window.history_panel
    panel.select(entry)
    qtbot.mouseClick(panel.show_button, CLICK)


def alive(window, entry) -> bool:
    panel = window.history_panel
    return panel.model.index(panel.model.row_of(entry)).data(ALIVE_ROLE)


def test_a_chat_reply_is_shown_and_retried_from_history(window, qtbot):
    chat = window.chatting
    qtbot.mouseClick(chat.switch.chat_button, CLICK)
    view = chat.view
    first = send(qtbot, window, "What is love?")
    reply = view.log.messages[-1]
    assert isinstance(first.source, ChatReplyLink) and first.target is not None
    assert row_text(window, first) == f"Chat reply · {ChatReplyLink.of(0, 0, reply.text).label()}"
    assert history_menu_action(window, first, "Show passage") is None  # no passage of the story

    # Retried with its own button: a second take, and its own entry.
    qtbot.mouseClick(view.blocks[-1].retry_button, CLICK)
    qtbot.waitUntil(lambda: not view.running and len(window.history_panel.entries()) == 2, timeout=60000)
    second = window.history_panel.entries()[-1]
    assert len(reply.takes) == 2 and reply.chosen == 1 and second.source.take == 1

    # Show, from the story view on another tab: the chat comes up with take 1 chosen and selected.
    qtbot.mouseClick(chat.switch.story_button, CLICK)
    window.tabs.setCurrentWidget(window.canvas)
    show(qtbot, window, first)
    assert window.tabs.currentWidget() is window.text and chat.stack.currentWidget() is view
    block = view.blocks[-1]
    assert reply.chosen == 0 and block.take_label.text() == "1 / 2"
    assert block.text.textCursor().selectedText() == reply.takes[0]
    qtbot.waitUntil(lambda: window.focusWidget() is block.text, timeout=2000)  # the window's focus, active or not

    # Regenerate, from the row's menu on another tab: a new take of that reply (it is the last), by the same model.
    window.tabs.setCurrentWidget(window.canvas)
    history_menu_action(window, first, "Regenerate").trigger()
    assert window.tabs.currentWidget() is window.text and window.generate_panel.current().id == "lm:llama"
    assert view.running
    qtbot.waitUntil(lambda: not view.running and len(window.history_panel.entries()) == 3, timeout=60000)
    assert len(reply.takes) == 3 and reply.chosen == 2 and block.take_label.text() == "3 / 3"

    # Once another message follows it, an earlier reply is not retried: the status bar says why.
    send(qtbot, window, "And time?")
    history_menu_action(window, first, "Regenerate").trigger()
    assert not view.running and len(reply.takes) == 3
    assert "Only the chat's last reply can be retried: 2 messages came after this one" in window.statusBar().currentMessage()
    assert view.blocks[1].text.textCursor().selectedText() == reply.takes[0]  # shown, all the same


def test_a_deleted_reply_is_gone_from_its_entry_and_links_survive_a_reopen(window, qtbot, tmp_path, monkeypatch, choose):
    chat = window.chatting
    qtbot.mouseClick(chat.switch.chat_button, CLICK)
    view = chat.view
    first = send(qtbot, window, "What is love?")
    second = send(qtbot, window, "And time?")
    later = view.log.messages[-1].text

    path = tmp_path / "Sonnets.studio"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Save project")
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    choose(window, "File", "New project")
    assert window.history_panel.entries() == [] and len(view.log) == 0
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Open project…")
    qtbot.waitUntil(lambda: len(window.history_panel.entries()) == 2, timeout=10000)
    first, second = window.history_panel.entries()
    assert isinstance(first.source, ChatReplyLink) and row_text(window, second).startswith("Chat reply · “")
    assert alive(window, first) and alive(window, second)  # found in the chat opened with them

    # The first reply deleted with its ✕: its entry is greyed and says why; the other still shows.
    qtbot.mouseClick(view.blocks[1].delete_button, CLICK)
    qtbot.waitUntil(lambda: not alive(window, first), timeout=5000)
    assert alive(window, second)
    window.history_panel.select(first)
    assert not window.history_panel.show_button.isEnabled() and not history_menu_action(window, first, "Show").isEnabled()
    history_menu_action(window, first, "Regenerate").trigger()
    assert "is no longer in the chat" in window.statusBar().currentMessage() and not view.running
    show(qtbot, window, second)
    assert view.blocks[-1].text.textCursor().selectedText() == later

    # Undo in the chat's bar puts it back: the entry shows again.
    qtbot.mouseClick(view.undo_button, CLICK)
    qtbot.waitUntil(lambda: alive(window, first), timeout=5000)
