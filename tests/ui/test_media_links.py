"""Across the media, driven as a writer would: select a passage in the editor, Text ▸ Illustrate
selection… (or Score this scene…), click the dialog's button; the picture lands as a layer, the
music as a clip, and the History entry names the passage, finds it again after edits, and keeps
the link through a save and a reopen. Real generators throughout: the built-in CPPN and
chorale, the tiny Stable Diffusion and Llama fixtures (a chat template) for the chat path."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from studio.core.engine.jobs import JobState
from studio.ui.window.media_links import ILLUSTRATE, passage_seed, prompt_from
from conftest import history_menu_action

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LLAMA = FIXTURES / "lm" / "models" / "llama"
SD1 = FIXTURES / "sd" / "models" / "sd1"

TEXT = (
    "Chapter one.\n\n"
    "It was a dark and stormy night; the rain fell in torrents, except at occasional intervals, "
    "when it was checked by a violent gust of wind which swept up the streets.\n\n"
    "Morning came grey and quiet."
)
PASSAGE = "It was a dark and stormy night; the rain fell in torrents"
START = TEXT.index(PASSAGE)


@pytest.fixture
def window(open_window):
    win = open_window()
    win.tabs.setCurrentWidget(win.text)
    win.text.editor.setPlainText(TEXT)
    yield win
    win.undo_stack.clear()  # a window closed with steps to undo calls a deleted Generate panel (seen after text -> canvas tabs)


def select(window, start: int, end: int) -> None:
    """Select ``[start, end)`` as a drag or Shift+arrows does."""
    editor = window.text.editor
    window.tabs.setCurrentWidget(window.text)
    cursor = editor.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    editor.setFocus()


def finished_entry(window, qtbot, count: int = 1):
    """The History entry of the generation just finished."""
    qtbot.waitUntil(lambda: len(window.history_panel.entries()) == count, timeout=60000)
    return window.history_panel.entries()[-1]


def test_illustrate_selection_lands_a_layer_linked_to_the_passage(window, qtbot, choose):
    select(window, START, START + len(PASSAGE))
    choose(window, "Text", "Illustrate selection…")
    dialog = window.media.dialog
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Illustrate selection"
    assert dialog.chosen().id == "cppn"  # nothing chosen yet: the built-in
    assert not dialog.prompt.isEnabled() and "takes no prompt: the passage picks its seed" in dialog.note.text()
    assert not dialog.use_chat.isEnabled()  # nothing to write for a generator without a prompt
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    entry = finished_entry(window, qtbot)
    layers = window.canvas.document.layers
    assert entry.kind == "image" and [l.id for l in layers] == [entry.target]
    assert entry.params["seed"] == passage_seed(PASSAGE)  # what the passage was used for
    assert (entry.source.start, entry.source.end, entry.source.excerpt) == (START, START + len(PASSAGE), PASSAGE)
    assert "From the passage “It was a dark and stormy" in window.history_panel.model.data(window.history_panel.model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert window.tabs.currentWidget() is window.canvas  # the picture is shown where it landed

    # The writer adds a line above and edits elsewhere: Show passage still finds the passage.
    window.tabs.setCurrentWidget(window.text)
    editor = window.text.editor
    editor.moveCursor(QTextCursor.MoveOperation.Start)
    qtbot.keyClicks(editor, "A prologue. ")
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, " The end.")
    window.tabs.setCurrentWidget(window.canvas)
    history_menu_action(window, entry, "Show passage").trigger()
    assert window.tabs.currentWidget() is window.text
    moved = START + len("A prologue. ")
    cursor = editor.textCursor()
    assert (cursor.selectionStart(), cursor.selectionEnd()) == (moved, moved + len(PASSAGE))
    assert cursor.selectedText() == PASSAGE
    assert window.statusBar().currentMessage().startswith("Selected the passage")



def test_the_layer_is_one_undo_step(window, qtbot, choose):
    select(window, START, START + len(PASSAGE))
    choose(window, "Text", "Illustrate selection…")
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(window.media.dialog.start_button, Qt.MouseButton.LeftButton)
    entry = finished_entry(window, qtbot)
    assert [l.id for l in window.canvas.document.layers] == [entry.target]
    window.undo_stack.undo()
    assert all(l.id != entry.target for l in window.canvas.document.layers)
    window.undo_stack.redo()
    assert [l.id for l in window.canvas.document.layers] == [entry.target]


def test_score_this_scene_lands_a_clip_linked_to_the_passage(window, qtbot, choose):
    select(window, START, START + len(PASSAGE))
    choose(window, "Text", "Score this scene…")
    dialog = window.media.dialog
    assert dialog.windowTitle() == "Score this scene" and dialog.chosen().id == "chorale"
    assert "same music" in dialog.note.text()
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    entry = finished_entry(window, qtbot)
    assert entry.kind == "audio" and entry.source.excerpt == PASSAGE
    assert [c.id for c in window.audio.timeline.clips] == [entry.target]
    assert entry.params["seed"] == passage_seed(PASSAGE)
    assert window.history.show_history_target(entry) and window.tabs.currentWidget() is window.audio  # the clip, on its tab
    history_menu_action(window, entry, "Show passage").trigger()
    assert window.text.editor.textCursor().selectedText() == PASSAGE


def test_the_editor_s_right_click_menu_offers_both_with_a_selection(window, qtbot):
    editor = window.text.editor
    editor.moveCursor(QTextCursor.MoveOperation.End)
    editor.customContextMenuRequested.emit(editor.cursorRect().center())  # what a right-click sends
    entries = {a.text(): a for a in window.media.editor_menu.actions() if a.text()}
    assert any("Copy" in t for t in entries)  # the editor's own entries stay
    assert not entries["&Illustrate selection…"].isEnabled() and not entries["Score this &scene…"].isEnabled()
    window.media.editor_menu.close()
    select(window, START, START + len(PASSAGE))
    editor.customContextMenuRequested.emit(editor.cursorRect().center())
    entries = {a.text(): a for a in window.media.editor_menu.actions() if a.text()}
    assert entries["Score this &scene…"].isEnabled()
    entries["Score this &scene…"].trigger()
    assert window.media.dialog is not None and window.media.dialog.windowTitle() == "Score this scene"
    window.media.dialog.reject()


def test_without_a_selection_nothing_starts(window, qtbot, choose):
    editor = window.text.editor
    editor.moveCursor(QTextCursor.MoveOperation.End)
    for entry in ("Illustrate selection…", "Score this scene…"):
        choose(window, "Text", entry)
        assert window.media.dialog is None
        assert window.statusBar().currentMessage().startswith("Select the passage first")
    select(window, len("Chapter one."), len("Chapter one.\n\n"))  # blank lines only
    choose(window, "Text", "Illustrate selection…")
    assert window.media.dialog is None
    qtbot.wait(200)
    assert window.host.runner.active() == [] and window.history_panel.entries() == []
    assert window.tabs.currentWidget() is window.text and editor.toPlainText() == TEXT


def use_models(window):
    """The Llama fixture (a chat template) and the tiny Stable Diffusion, set to 2 steps at 64 x 64 in the Generate panel."""
    assert window.add_model_folder_path(str(LLAMA))
    assert window.add_model_folder_path(str(SD1))  # the panel now shows it
    window.generate_panel.form.set_values({"steps": 2, "width": 64, "height": 64})


def test_a_chat_model_writes_the_prompt_the_picture_is_made_from(window, qtbot, choose):
    use_models(window)
    select(window, START, START + len(PASSAGE))
    choose(window, "Text", "Illustrate selection…")
    dialog = window.media.dialog
    assert dialog.chosen().id == "sd:sd1"  # the Generate panel's image generator
    assert dialog.prompt.isEnabled() and dialog.prompt_text() == PASSAGE  # the passage, as the prompt, by default
    assert dialog.use_chat.isEnabled() and "llama" in dialog.use_chat.text()
    qtbot.mouseClick(dialog.use_chat, Qt.MouseButton.LeftButton)
    assert dialog.use_chat.isChecked()
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.busy.isVisible() and dialog.stop_button.isVisible() and not dialog.start_button.isEnabled()
    assert "writing the prompt" in dialog.status.text()
    chat = window.media._prompt_job
    assert chat.generator.id == "lm:llama"
    assert chat.request.params["instruction"] == ILLUSTRATE.instruction and chat.request.params["prompt"] == PASSAGE
    entry = finished_entry(window, qtbot)
    assert chat.state is JobState.FINISHED and chat.result is not None
    answer = prompt_from(str(chat.result.value).strip().strip("\"'“”"))  # its words, on one line, at most 60
    assert answer and entry.params["prompt"] == answer != PASSAGE  # the chat model's answer, not the passage
    assert entry.generator == "sd:sd1" and entry.params["steps"] == 2 and entry.source.excerpt == PASSAGE
    assert [l.id for l in window.canvas.document.layers] == [entry.target]


def test_stop_while_the_prompt_is_written_starts_nothing(window, qtbot, choose):
    use_models(window)
    select(window, START, START + len(PASSAGE))
    choose(window, "Text", "Illustrate selection…")
    dialog = window.media.dialog
    qtbot.mouseClick(dialog.use_chat, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    job = window.media._prompt_job
    assert job is not None
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: job.state.done and not dialog.busy.isVisible(), timeout=20000)
    assert dialog.isVisible() and dialog.start_button.isEnabled() and dialog.status.text().startswith("Stopped")
    assert dialog.prompt_text() == PASSAGE  # as it was
    qtbot.wait(300)
    assert window.history_panel.entries() == [] and window.canvas.document.layers == []


def test_the_link_survives_save_and_reopen(window, qtbot, choose, tmp_path):
    select(window, START, START + len(PASSAGE))
    choose(window, "Text", "Illustrate selection…")
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(window.media.dialog.start_button, Qt.MouseButton.LeftButton)
    finished_entry(window, qtbot)
    window.tabs.setCurrentWidget(window.text)
    window.text.editor.moveCursor(QTextCursor.MoveOperation.Start)
    qtbot.keyClicks(window.text.editor, "Title. ")  # the passage moves before the save
    qtbot.wait(400)  # typing paused: the entry's place follows
    path = tmp_path / "story.studio"
    assert window.project.save_to(path)
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    qtbot.wait(50)
    choose(window, "File", "New project")
    assert window.history_panel.entries() == []

    assert window.project.open_file(path)
    (entry,) = window.history_panel.entries()
    moved = START + len("Title. ")
    assert (entry.source.start, entry.source.end, entry.source.excerpt) == (moved, moved + len(PASSAGE), PASSAGE)
    history_menu_action(window, entry, "Show passage").trigger()
    assert window.text.editor.textCursor().selectedText() == PASSAGE

    # The passage deleted: Show passage says so plainly and selects nothing.
    editor = window.text.editor
    cursor = editor.textCursor()
    cursor.insertText("")
    assert PASSAGE not in editor.toPlainText()
    assert not window.media.show_passage(entry)
    assert "no longer in the text" in window.statusBar().currentMessage()


def test_a_replaced_text_is_searched_for_the_passage(window, qtbot, choose):
    select(window, START, START + len(PASSAGE))
    choose(window, "Text", "Illustrate selection…")
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(window.media.dialog.start_button, Qt.MouseButton.LeftButton)
    entry = finished_entry(window, qtbot)
    window.text.editor.setPlainText("A new draft.\n\n" + PASSAGE + ", and so on.")  # the whole text replaced
    assert history_menu_action(window, entry, "Show passage") is not None
    assert window.media.show_passage(entry)
    assert window.text.editor.textCursor().selectedText() == PASSAGE
    assert "by its opening words" in window.statusBar().currentMessage()
