"""Takes and the controls under the page, driven as a writer would: the page bar's buttons
clicked, the Text menu's entries triggered, keys pressed; the real window, Host and job runner.

``Teller`` is a real text generator registered as a plugin would be: it streams words chosen
by its seed, slowly enough to be stopped, and rewrites (with an instruction) by shouting.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import QFileDialog

import studio
from studio.core.engine.jobs import JobState
from studio.core.text.takes import Takes
from studio.errors import StudioError
from studio.host import Host
from studio.ui.app import create_window
from studio.ui.editor.highlighter import GENERATED_COLOUR
from conftest import colour_at, menu_action

WORDS = [" the", " moon", " doth", " shine", " upon", " thee", " fair", " lady", " and", " all", " is", " well"]
BLUE = QColor(GENERATED_COLOUR["light"])
LLAMA = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"


class Teller(studio.Generator):
    id = "test-teller"
    title = "Test teller"
    kind = "text"
    params = (
        studio.Param("prompt", "text", "", multiline=True),
        studio.Param("instruction", "text", ""),
        studio.Param("max_new_tokens", "int", 8, min=1, max=200),
        studio.Param("delay", "float", 0.0, min=0.0, max=1.0),
        studio.Param("seed", "seed"),
    )

    def generate(self, request, ctx):
        if request["instruction"]:
            chunks = [" " + request["prompt"].upper()]
        else:
            rng = random.Random(request["seed"])
            chunks = [rng.choice(WORDS) for _ in range(request["max_new_tokens"])]
        for i, chunk in enumerate(chunks):
            ctx.check_cancelled()
            time.sleep(request["delay"])
            yield studio.Progress(i + 1, len(chunks))
            yield studio.Preview("text", chunk)
        yield studio.Result("text", "".join(chunks), self.id, dict(request.params), info={"tokens_per_s": 10.0})


class Breaker(studio.Generator):
    """Fails at once, naming its model folder by its absolute path, as a plugin's error may."""

    id = "test-breaker"
    title = "Test breaker"
    kind = "text"
    model_folder = Path("/opt/studio-models/breaker")
    params = (studio.Param("prompt", "text", ""), studio.Param("seed", "seed"))

    def generate(self, request, ctx):
        raise StudioError(f"{self.model_folder} has no weights file")
        yield  # a generator function


@pytest.fixture
def window(open_window):
    win = open_window(Teller(), Breaker(), select="test-teller")
    win.tabs.setCurrentWidget(win.text)
    return win


def set_param(win, name, value):
    win.generate_panel.form.widgets[name].spin.setValue(value)


def click(qtbot, button):
    assert button.isVisible() and button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def finished(window, qtbot, timeout=5000):
    qtbot.waitUntil(lambda: not window.text.running, timeout=timeout)
    qtbot.wait(20)  # the last events of the job land


def generated_throughout(text, start, end):
    """Every character of ``[start, end)`` painted as generated (the whole take is coloured)."""
    return all(colour_at(text, p) == BLUE for p in range(start, end) if text.editor.toPlainText()[p] != " ")


PROMPT = "Good morrow,"


def test_continue_stop_retry_twice_browse_undo_and_redo_keep_the_colour(window, qtbot, choose):
    text, editor, bar = window.text, window.text.editor, window.text.page_bar
    editor.setFocus()
    qtbot.keyClicks(editor, PROMPT)
    assert not bar.stop_button.isVisible() and not bar.take_label.isVisible()  # no takes yet
    set_param(window, "delay", 0.15)
    click(qtbot, bar.continue_button)  # Continue under the page
    qtbot.waitUntil(lambda: len(editor.toPlainText()) > len(PROMPT) + 6, timeout=5000)
    assert bar.stop_button.isVisible() and not bar.continue_button.isEnabled() and not bar.retry_button.isEnabled()
    with qtbot.waitSignal(window.bridge.state_changed, timeout=3000, check_params_cb=lambda j, s, m: s is JobState.CANCELLED):
        click(qtbot, bar.stop_button)
    finished(window, qtbot)
    stopped = editor.toPlainText()[len(PROMPT):]
    assert stopped and not bar.stop_button.isVisible()
    assert window.text_stats_label.text().startswith("Stopped after")  # not "Waiting for the first token…"
    assert bar.take_label.text() == "Take 1 of 1" and bar.kind_label.text() == "first take · stopped"

    set_param(window, "delay", 0.0)
    click(qtbot, bar.retry_button)  # the first Retry, from the page bar
    finished(window, qtbot)
    second = editor.toPlainText()[len(PROMPT):]
    choose(window, "Text", "Retry (new seed)")  # the second, from the menu
    finished(window, qtbot)
    third = editor.toPlainText()[len(PROMPT):]
    assert len({stopped, second, third}) == 3 and editor.toPlainText().startswith(PROMPT)
    assert bar.take_label.text() == "Take 3 of 3" and bar.kind_label.text() == "retry"
    take_set = text.active_take_set()
    assert [t.kind for t in take_set.takes] == ["first", "retry", "retry"] and take_set.takes[0].stopped
    assert generated_throughout(text, len(PROMPT), len(editor.toPlainText()))

    def page():
        return editor.toPlainText()[len(PROMPT):]

    click(qtbot, bar.previous_button)  # ‹
    assert page() == second and bar.take_label.text() == "Take 2 of 3"
    assert generated_throughout(text, len(PROMPT), len(editor.toPlainText()))
    qtbot.keyClick(editor, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)  # Previous take
    assert page() == stopped and bar.take_label.text() == "Take 1 of 3" and bar.kind_label.text() == "first take · stopped"
    assert not bar.previous_button.isEnabled() and bar.next_button.isEnabled()
    choose(window, "Text", "Next take")
    assert page() == second
    end = editor.textCursor().position()
    qtbot.keyClick(editor, Qt.Key.Key_Left)  # a plain arrow moves the cursor, never the takes
    assert page() == second and editor.textCursor().position() == end - 1

    # Ctrl+Z undoes the choices, then the retries, each bringing the take before back coloured.
    expected = [stopped, second, third, second, stopped]
    for before in expected:
        qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert page() == before
        qtbot.wait(5)  # the repaint of spans elsewhere is queued
        assert generated_throughout(text, len(PROMPT), len(editor.toPlainText())), before
    assert bar.take_label.text() == "Take 1 of 3"  # the takes undone stay browsable
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == PROMPT and text.spans.spans == []
    for after in [stopped, second, third, second, stopped, second]:  # and redo brings them back, coloured
        qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        assert page() == after
        qtbot.wait(5)
        assert generated_throughout(text, len(PROMPT), len(editor.toPlainText())), after
    assert bar.take_label.text() == "Take 2 of 3" and [t.stopped for t in text.active_take_set().takes] == [True, False, False]


def test_takes_follow_the_writers_edits_and_an_edited_take_stays_theirs(window, qtbot, choose):
    text, editor, bar = window.text, window.text.editor, window.text.page_bar
    editor.setFocus()
    qtbot.keyClicks(editor, "Once")
    click(qtbot, bar.continue_button)
    finished(window, qtbot)
    click(qtbot, bar.retry_button)
    finished(window, qtbot)
    take_set = text.active_take_set()
    first, second = take_set.takes[0].text, editor.toPlainText()[4:]
    editor.moveCursor(QTextCursor.MoveOperation.Start)
    qtbot.keyClicks(editor, "Title. ")  # before the place: it moves with the text
    assert (take_set.start, take_set.end) == (11, 11 + len(second))
    cursor = editor.textCursor()
    cursor.setPosition(take_set.start + 3)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "XY")  # inside the take on the page: it is the writer's now
    mine = editor.toPlainText()[11:]
    assert take_set.take.edited and bar.kind_label.text() == "retry · edited by you"
    qtbot.wait(5)
    assert colour_at(text, 12) != BLUE
    qtbot.keyClick(editor, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert editor.toPlainText() == "Title. Once" + first and colour_at(text, 12) == BLUE
    choose(window, "Text", "Next take")
    assert editor.toPlainText() == "Title. Once" + mine and colour_at(text, 12) != BLUE  # the writer's version, the writer's ink


def test_an_empty_page_starts_from_the_model_and_the_form_hides_what_the_page_gives(window, qtbot):
    panel = window.generate_panel
    form = panel.form
    assert not form.widgets["prompt"].isVisible() and not form.widgets["instruction"].isVisible()
    assert form.widgets["max_new_tokens"].isVisible() and panel.page_note.isVisible()
    assert panel.button.text() == "Continue"
    form.widgets["prompt"].setPlainText("a form prompt nobody sees")  # left from an older version of the form
    with qtbot.waitSignal(window.bridge.result, timeout=5000) as result:
        click(qtbot, window.text.page_bar.continue_button)
    job = result.args[0]
    assert job.request["prompt"] == ""  # the page is the prompt, and it was empty
    assert window.text.editor.toPlainText() == job.result.value  # nothing of the form's was typed in


def test_a_failed_job_ends_the_waiting_line_and_names_no_path(window, qtbot):
    assert window.generate_panel.select("test-breaker")
    window.text.editor.setFocus()
    qtbot.keyClicks(window.text.editor, "It was")
    with qtbot.waitSignal(window.bridge.state_changed, timeout=5000, check_params_cb=lambda j, s, m: s is JobState.FAILED):
        click(qtbot, window.text.page_bar.continue_button)
    expected = "Test breaker failed: Test breaker has no weights file"  # its folder named by its title, no path
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == expected, timeout=2000)
    qtbot.wait(50)
    assert window.statusBar().currentMessage() == expected
    assert window.text_stats_label.text() == "Failed before the first token"
    assert window.text.editor.toPlainText() == "It was" and not window.text.page_bar.take_label.isVisible()


def test_history_lists_each_take_and_showing_one_chooses_it(window, qtbot):
    text, editor, bar = window.text, window.text.editor, window.text.page_bar
    editor.setFocus()
    qtbot.keyClicks(editor, "Hark")
    for button in (bar.continue_button, bar.retry_button, bar.retry_button):
        click(qtbot, button)
        finished(window, qtbot)
    panel = window.history_panel
    first = panel.entries()[0]
    qtbot.waitUntil(lambda: panel.model.data(panel.model.index(2)).startswith("Take 1 of 3 (first take)"), timeout=2000)
    assert panel.model.data(panel.model.index(0)).startswith("Take 3 of 3 (retry, on the page)")
    first_text = text.take_of_job(first.target)[0].takes[0].text
    assert panel.select(first)
    click(qtbot, panel.show_button)  # Show: the first take comes back on the page, selected
    assert editor.toPlainText() == "Hark" + first_text and editor.textCursor().selectedText() == first_text
    assert bar.take_label.text() == "Take 1 of 3" and colour_at(text, 5) == BLUE


def test_takes_are_saved_with_the_project_and_come_back(window, qtbot, tmp_path, monkeypatch, choose):
    text, editor, bar = window.text, window.text.editor, window.text.page_bar
    editor.setFocus()
    qtbot.keyClicks(editor, "Hark")
    click(qtbot, bar.continue_button)
    finished(window, qtbot)
    click(qtbot, bar.retry_button)
    finished(window, qtbot)
    click(qtbot, bar.previous_button)
    page = editor.toPlainText()
    path = tmp_path / "play.studio"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Save project")
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=5000)
    choose(window, "File", "New project")
    assert editor.toPlainText() == "" and not bar.take_label.isVisible()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Open project…")
    qtbot.waitUntil(lambda: editor.toPlainText() == page, timeout=10000)
    cursor = editor.textCursor()
    cursor.setPosition(len(page))
    editor.setTextCursor(cursor)
    assert bar.take_label.text() == "Take 1 of 2" and bar.kind_label.text() == "first take"
    assert colour_at(text, 5) == BLUE  # the page's take is still coloured as generated
    choose(window, "Text", "Next take")
    assert editor.toPlainText() != page and editor.toPlainText().startswith("Hark") and colour_at(text, 5) == BLUE
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == page and colour_at(text, 5) == BLUE


def test_takes_json_bounds_hostile_data():
    takes, problems = Takes.from_json([{"start": 0, "end": 10**9, "current": 0, "takes": [{"text": "x"}]}], 5)
    assert not takes.sets and "outside the text" in problems[0]


def test_rewrite_is_greyed_with_its_reason_for_the_built_in_model_and_works_with_a_chat_model(qtbot, choose):
    win = create_window(host=Host())
    qtbot.addWidget(win)
    win.show()
    try:
        win.tabs.setCurrentWidget(win.text)
        assert win.generate_panel.select("shakespeare")
        reason = "Shakespeare (built-in) has no chat template, so it cannot follow an instruction: pick an instruction-tuned model"
        for name in ("Rewrite selection…", "Expand selection", "Summarise selection"):
            action = menu_action(win, "Text", name)
            assert not action.isEnabled() and action.toolTip() == reason
        win.statusBar().clearMessage()
        menu_action(win, "Text", "Expand selection")  # opening the Text menu says why in the status bar
        assert win.statusBar().currentMessage() == reason
        editor = win.text.editor
        editor.setPlainText("The night was dark and the wind was cold.")
        editor.selectAll()
        qtbot.keyClick(editor, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        assert not win.text.rewrite_bar.isVisible() and not win.text.running

        assert win.add_model_folder_path(str(LLAMA)) and win.generate_panel.select("lm:llama")
        action = menu_action(win, "Text", "Expand selection")
        assert action.isEnabled() and action.toolTip() == "Rewrite the selection longer, with more detail"
        win.generate_panel.form.widgets["max_new_tokens"].spin.setValue(6)
        editor.selectAll()
        with qtbot.waitSignal(win.bridge.result, timeout=30000):
            choose(win, "Text", "Expand selection")
        take_set = win.text.active_take_set()
        assert [t.kind for t in take_set.takes] == ["original", "rewrite"] and take_set.current == 1
        assert win.text.page_bar.kind_label.text() == "rewrite"
        choose(win, "Text", "Previous take")  # the writer's words are a take too
        assert editor.toPlainText() == "The night was dark and the wind was cold."
        assert win.text.page_bar.kind_label.text() == "your original"
    finally:
        win._closing = True
        win.text.editor.document().setModified(False)
        win.probe_thread.join(20)
        win.host.shutdown()


def test_a_retry_stopped_before_its_first_word_changes_nothing(window, qtbot, choose):
    text, editor, bar = window.text, window.text.editor, window.text.page_bar
    editor.setFocus()
    qtbot.keyClicks(editor, "Hark")
    click(qtbot, bar.continue_button)
    finished(window, qtbot)
    page = editor.toPlainText()
    set_param(window, "delay", 0.5)
    click(qtbot, bar.retry_button)
    assert text.running and editor.toPlainText() == page  # the take stays on the page until new words come
    click(qtbot, bar.stop_button)
    finished(window, qtbot)
    assert editor.toPlainText() == page and bar.take_label.text() == "Take 1 of 1" and colour_at(text, 5) == BLUE
    assert window.text_stats_label.text() == "Stopped before the first token"


def test_retrying_a_rewrite_rewrites_the_original_words_again(window, qtbot, choose):
    text, editor = window.text, window.text.editor
    editor.setPlainText("Keep. soft words. Keep.")
    cursor = editor.textCursor()
    cursor.setPosition(6)
    cursor.setPosition(16, QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    choose(window, "Text", "Rewrite selection…")
    text.rewrite_bar.instruction.setText("louder")
    qtbot.keyClick(text.rewrite_bar.instruction, Qt.Key.Key_Return)
    finished(window, qtbot)
    assert editor.toPlainText() == "Keep.  SOFT WORDS. Keep."
    with qtbot.waitSignal(window.bridge.result, timeout=5000) as result:
        qtbot.keyClick(editor, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # Retry
    finished(window, qtbot)
    assert result.args[0].request["prompt"] == "soft words" and result.args[0].request["instruction"] == "louder"
    assert [t.kind for t in text.active_take_set().takes] == ["original", "rewrite", "rewrite"]
    choose(window, "Text", "Previous take")
    choose(window, "Text", "Previous take")
    assert editor.toPlainText() == "Keep. soft words. Keep." and window.text.page_bar.kind_label.text() == "your original"


def test_typing_elsewhere_while_it_streams_keeps_the_take_and_its_colour(window, qtbot):
    text, editor = window.text, window.text.editor
    set_param(window, "delay", 0.1)
    editor.setPlainText("Title\n\nBody")
    editor.moveCursor(QTextCursor.MoveOperation.End)
    editor.setFocus()
    click(qtbot, text.page_bar.continue_button)
    qtbot.waitUntil(lambda: len(editor.toPlainText()) > len("Title\n\nBody") + 4, timeout=5000)
    cursor = editor.textCursor()
    cursor.setPosition(5)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, " page")  # the writer types in the title while it streams
    finished(window, qtbot)
    take_set = text._takes.sets[0]
    body = len("Title page\n\nBody")
    assert (take_set.start, take_set.end) == (body, len(editor.toPlainText()))
    assert generated_throughout(text, body, take_set.end)
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the generation goes, the typing stays
    assert editor.toPlainText() == "Title page\n\nBody" and text.spans.spans == []
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.wait(5)
    assert generated_throughout(text, body, len(editor.toPlainText())) and text._takes.sets[0].start == body
