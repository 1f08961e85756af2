"""A model may end its turn before writing a word: the chat says so instead of showing an
empty box, and Retry makes another take."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

LLAMA = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"
SILENT_SEED = 34  # the tiny Llama fixture ends its reply to "Two\nlines" at once with this seed


def test_a_reply_the_model_ended_at_once_says_so_and_can_be_retried(window, qtbot):
    assert window.add_model_folder_path(str(LLAMA))
    window.tabs.setCurrentWidget(window.text)
    assert window.generate_panel.select("lm:llama")
    seed = window.generate_panel.form.widgets["seed"]
    seed.random_each.setChecked(False)
    seed.edit.setText(str(SILENT_SEED))
    chat = window.chatting
    qtbot.mouseClick(chat.switch.chat_button, Qt.MouseButton.LeftButton)
    view = chat.view
    view.input.setFocus()
    qtbot.keyClicks(view.input, "Two")
    qtbot.keyClick(view.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(view.input, "lines")
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.running, timeout=60000)
    reply = view.blocks[-1]
    assert reply.message.role == "assistant" and reply.message.text == ""
    assert reply.status.text() == "the model wrote nothing: Retry for another take"
    seed.random_each.setChecked(True)  # Retry draws a new seed
    qtbot.mouseClick(reply.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.running, timeout=60000)
    reply = view.blocks[-1]
    assert len(reply.message.takes) == 2 and reply.message.text.strip()
    assert reply.status.text() == ""
