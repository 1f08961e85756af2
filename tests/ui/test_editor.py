"""The Text workspace driven as a writer would: the real window, Host and job runner, offscreen Qt.

``Scribe`` is a real text generator (registered as a plugin would be) that follows the LM
plugin's contract: it streams ``Preview("text")`` chunks slowly enough to be stopped mid-way
and ends with a ``Result`` whose info carries tokens/s and time to first token.
"""

from __future__ import annotations

import random
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import QMessageBox

import studio
from studio.core.engine.jobs import JobState
from studio.host import Host
from studio.ui.editor.highlighter import GENERATED_COLOUR
from conftest import colour_at

WORDS = [" the", " moon", " doth", " shine", " upon", " thee", " fair", " lady", " and", " all", " is", " well"]


class Scribe(studio.Generator):
    id = "test-scribe"
    title = "Test scribe"
    kind = "text"
    params = (
        studio.Param("prompt", "text", ""),
        studio.Param("instruction", "text", ""),
        studio.Param("max_new_tokens", "int", 12, min=1, max=200),
        studio.Param("delay", "float", 0.0, min=0.0, max=1.0),
        studio.Param("seed", "seed"),
    )

    def generate(self, request, ctx):
        if request["instruction"]:  # a rewrite: the instruction, then the text shouted
            chunks = [f"[{request['instruction']}]", " " + request["prompt"].upper()]
        else:
            rng = random.Random(request["seed"])
            chunks = [rng.choice(WORDS) for _ in range(request["max_new_tokens"])]
        out = ""
        for i, chunk in enumerate(chunks):
            ctx.check_cancelled()
            time.sleep(request["delay"])
            out += chunk
            yield studio.Progress(i + 1, len(chunks))
            yield studio.Preview("text", chunk)
        info = {"tokens_per_s": 42.5, "ttft_s": 0.125, "prompt_tokens": len(request["prompt"].split()), "new_tokens": len(chunks),
                "notes": ["the prompt was cut to the model's context"] if len(request["prompt"]) > 200 else []}
        yield studio.Result("text", out, self.id, dict(request.params), info=info)


@pytest.fixture
def window(open_window):
    return open_window(Scribe(), select="test-scribe")


def set_param(win, name, value):
    widget = win.generate_panel.form.widgets[name]
    widget.spin.setValue(value) if hasattr(widget, "spin") else widget.setText(str(value))


def type_text(qtbot, editor, text):
    editor.setFocus()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, text)


BLUE = QColor(GENERATED_COLOUR["light"])


def test_continue_streams_stops_undoes_and_retries(window, qtbot, choose):
    text, editor = window.text, window.text.editor
    set_param(window, "delay", 0.15)
    type_text(qtbot, editor, "Good morrow,")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Continue
    generation = text.last
    assert generation is not None and generation.values["prompt"] == "Good morrow,"
    qtbot.waitUntil(lambda: len(editor.toPlainText()) > len("Good morrow,") + 8, timeout=5000)  # it streams in
    assert not generation.job.state.done  # ...while the job still runs: the window is responsive
    assert colour_at(text, len("Good morrow,") + 2) == BLUE and colour_at(text, 2) != BLUE
    assert "tok/s" in window.text_stats_label.text() and "first token" in window.text_stats_label.text()

    with qtbot.waitSignal(window.bridge.state_changed, timeout=2000, check_params_cb=lambda j, s, m: s is JobState.CANCELLED):
        qtbot.keyClick(editor, Qt.Key.Key_Escape)  # Stop
    kept = editor.toPlainText()
    assert kept.startswith("Good morrow,") and len(kept) > len("Good morrow,")
    assert len(generation.streamed) < sum(map(len, WORDS))  # stopped mid-way, what streamed kept
    qtbot.wait(400)
    assert editor.toPlainText() == kept  # nothing arrives after Stop

    editor.undo()  # one Ctrl+Z removes the whole generation
    assert editor.toPlainText() == "Good morrow,"
    editor.redo()
    assert editor.toPlainText() == kept

    set_param(window, "delay", 0.0)
    with qtbot.waitSignal(window.bridge.result, timeout=5000):
        choose(window, "Text", "Retry (new seed)")
    retried = text.last
    assert retried.job is not generation.job and retried.job.result.params["seed"] != generation.job.request["seed"]
    assert editor.toPlainText() == "Good morrow," + retried.streamed  # the old generation replaced
    assert window.text_stats_label.text() == "42.5 tok/s · first token 0.12 s · 12 tokens"
    editor.undo()
    assert editor.toPlainText() == kept  # one undo brings the previous generation back


def test_typing_elsewhere_while_streaming_is_never_undone_with_the_generation(window, qtbot):
    text, editor = window.text, window.text.editor
    set_param(window, "delay", 0.1)
    editor.setPlainText("Title\n\nBody")
    editor.moveCursor(QTextCursor.MoveOperation.End)
    job = window.continue_text()
    qtbot.waitUntil(lambda: len(text.last.streamed) > 0, timeout=5000)
    cursor = QTextCursor(editor.document())
    cursor.setPosition(5)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, " page")  # the writer types in the title while it streams
    with qtbot.waitSignal(window.bridge.result, timeout=5000):
        pass
    assert job.state is JobState.FINISHED or job.wait(1)
    full = editor.toPlainText()
    assert full.startswith("Title page\n\nBody") and full.endswith(text.last.streamed)
    editor.undo()  # one Ctrl+Z: the whole generation goes, the writer's words stay
    assert editor.toPlainText() == "Title page\n\nBody"
    editor.undo()
    assert editor.toPlainText() == "Title\n\nBody"


def test_editing_generated_text_makes_it_normal(window, qtbot, choose):
    text, editor = window.text, window.text.editor
    type_text(qtbot, editor, "Hark")
    with qtbot.waitSignal(window.bridge.result, timeout=5000):
        choose(window, "Text", "Continue at the cursor")
    start = len("Hark")
    assert colour_at(text, start + 1) == BLUE
    qtbot.keyClicks(editor, "!")  # typing right after it: the generation stays marked, the "!" is not
    assert colour_at(text, start + 1) == BLUE and colour_at(text, len(editor.toPlainText()) - 1) != BLUE
    cursor = editor.textCursor()
    cursor.setPosition(start + 2)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "x")  # an edit inside: it is the writer's text now
    qtbot.wait(10)
    assert colour_at(text, start + 1) != BLUE and text.spans.spans == []
    edited = editor.toPlainText()
    with qtbot.waitSignal(window.bridge.result, timeout=5000):
        choose(window, "Text", "Retry (new seed)")  # a new take; the writer's version stays one of the takes
    assert editor.toPlainText() != edited and editor.toPlainText().endswith("!")
    take_set = text.active_take_set()
    assert [t.kind for t in take_set.takes] == ["first", "retry"] and take_set.takes[0].edited
    choose(window, "Text", "Previous take")
    assert editor.toPlainText() == edited and colour_at(text, start + 1) != BLUE  # the writer's words, the writer's ink


def test_rewrite_selection_is_one_undo_step(window, qtbot):
    text, editor = window.text, window.text.editor
    editor.setPlainText("Keep this. rewrite me please. And this.")
    cursor = editor.textCursor()
    cursor.setPosition(11)
    cursor.setPosition(28, QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    assert text.open_rewrite() and text.rewrite_bar.isVisible()
    text.rewrite_bar.instruction.setText("louder")
    with qtbot.waitSignal(window.bridge.result, timeout=5000):
        qtbot.keyClick(text.rewrite_bar.instruction, Qt.Key.Key_Return)
    assert text.last.values == {**text.last.values, "prompt": "rewrite me please", "instruction": "louder"}
    assert editor.toPlainText() == "Keep this. [louder] REWRITE ME PLEASE. And this."
    assert not text.rewrite_bar.isVisible() and colour_at(text, 13) == BLUE
    editor.undo()
    assert editor.toPlainText() == "Keep this. rewrite me please. And this."


def test_continue_sends_only_the_text_before_the_cursor_and_shows_notes(window, qtbot):
    editor = window.text.editor
    editor.setPlainText("word " * 60 + "|after")
    cursor = editor.textCursor()
    cursor.setPosition(len("word " * 60))
    editor.setTextCursor(cursor)
    with qtbot.waitSignal(window.bridge.result, timeout=5000):
        job = window.continue_text()
    assert job.request["prompt"] == "word " * 60 and job.request["instruction"] == ""
    assert editor.toPlainText().endswith("|after")
    assert "cut to the model's context" in window.statusBar().currentMessage()


def test_open_save_round_trip_and_markdown(window, qtbot, tmp_path):
    source = tmp_path / "scene.md"
    source.write_text("# Act I\n\nSo *fair* and **foul** a `day`.\n- [link](x)\n", encoding="utf-8")
    text = window.text
    assert text.open_file(source)
    assert text.highlighter.markdown and not text.modified
    body = source.read_text(encoding="utf-8")
    qtbot.waitUntil(lambda: window.text_counts_label.text() == f"11 words · {len(body)} characters", timeout=2000)
    heading = text.editor.document().firstBlock().layout().formats()
    assert heading and heading[0].format.fontWeight() > 400  # the heading is bold
    text.editor.moveCursor(QTextCursor.MoveOperation.End)
    text.editor.insertPlainText("Exeunt — été\n")  # QTest cannot type non-Latin-1 keys
    assert text.modified
    target = tmp_path / "out" / "scene copy.md"
    assert not text.save(target)  # no such folder: a message, the text stays
    box = window.findChild(QMessageBox, "warning")
    assert box is not None and "unsaved" in box.text()
    target.parent.mkdir()
    assert text.save(target) and not text.modified
    assert target.read_text(encoding="utf-8") == source.read_text(encoding="utf-8") + "Exeunt — été\n"


def test_a_non_utf8_file_gives_a_message_and_loses_nothing(window, qtbot, tmp_path):
    editor = window.text.editor
    type_text(qtbot, editor, "my unsaved draft")
    bad = tmp_path / "old.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    assert not window.text.open_file(bad)
    box = window.findChild(QMessageBox, "warning")
    assert box is not None and box.isVisible() and not box.isModal() or box.windowModality() != Qt.WindowModality.ApplicationModal
    assert "not UTF-8" in box.text()
    assert editor.toPlainText() == "my unsaved draft" and window.text.path is None


def test_unsaved_changes_question_does_not_block(window, qtbot):
    type_text(qtbot, window.text.editor, "draft")
    cleared = []
    box = window.text.confirm_discard(lambda: cleared.append(True))
    assert box is not None and box.isVisible() and cleared == []  # we got here: not modal-blocking
    box.button(QMessageBox.StandardButton.Discard).click()
    assert cleared == [True]
    window.text.editor.document().setModified(False)
    assert window.text.confirm_discard(lambda: cleared.append(True)) is None and cleared == [True, True]


def test_find_and_replace(window, qtbot):
    text, editor = window.text, window.text.editor
    editor.setPlainText("The cat sat. The Cat ran. the end")
    window.tabs.setCurrentWidget(text)
    text.find_bar.open_bar(replace=True)
    assert text.find_bar.isVisible()
    text.find_bar.find_field.setText("cat")
    assert text.find_bar.find_next() and editor.textCursor().selectedText() == "cat"
    assert text.find_bar.find_next() and editor.textCursor().selectionStart() == 17
    text.find_bar.case.setChecked(True)
    text.find_bar.replace_field.setText("dog")
    assert text.find_bar.replace_all() == 1
    assert editor.toPlainText() == "The dog sat. The Cat ran. the end"
    text.find_bar.case.setChecked(False)
    text.find_bar.find_field.setText("the")
    text.find_bar.replace_field.setText("A")
    assert text.find_bar.replace_all() == 3
    assert editor.toPlainText() == "A dog sat. A Cat ran. A end"
    editor.undo()  # replace-all is one step
    assert editor.toPlainText() == "The dog sat. The Cat ran. the end"
    text.find_bar.find_field.setText("zebra")
    assert not text.find_bar.find_next() and text.find_bar.status.text() == "Not found"


def test_font_and_theme_persist(window, qtbot):
    font = window.text.editor.font()
    font.setPointSize(17)
    window.text.set_font(font)
    window.text.set_theme("sepia")
    again = Host()
    assert again.settings.value("editor/theme") == "sepia"
    from studio.ui.editor import TextWorkspace

    fresh = TextWorkspace(again.settings)
    qtbot.addWidget(fresh)
    assert fresh.theme == "sepia" and fresh.editor.font().pointSize() == 17
    again.shutdown()


def test_text_actions_live_on_the_text_tab_only(window, qtbot):
    names = {a.text().split("\t")[0]: a for a in window._text_actions}
    window.tabs.setCurrentWidget(window.canvas)
    assert not names["Open &text file…"].isEnabled() and not window.text_counts_label.isVisible()
    window.tabs.setCurrentWidget(window.text)
    assert names["Open &text file…"].isEnabled() and names["&Continue at the cursor"].isEnabled()
    assert window.text_counts_label.isVisible()


def test_a_real_language_model_streams_into_the_editor_and_undoes_in_one_step(window, qtbot, choose):
    """The causal-LM plugin on the tiny Llama fixture, not a stand-in: Continue, Retry, Undo."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"
    assert window.add_model_folder_path(str(folder))
    assert window.generate_panel.select("lm:llama")
    set_param(window, "max_new_tokens", 24)
    set_param(window, "temperature", 0.0)  # greedy: the tiny model never ends at once, so there is always a generation to retry
    text, editor = window.text, window.text.editor
    type_text(qtbot, editor, "To be")
    chunks = []
    window.bridge.preview.connect(lambda job, preview: chunks.append(preview.value))
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    first = text.last
    assert chunks and editor.toPlainText() == "To be" + "".join(chunks)  # what streamed is what the editor holds
    assert first.job.result.info["tokens_per_s"] > 0 and "tok/s" in window.text_stats_label.text()
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        choose(window, "Text", "Retry (new seed)")
    assert text.last.job is not first.job and editor.toPlainText().startswith("To be")
    editor.undo()
    editor.undo()
    assert editor.toPlainText() == "To be"


def test_a_retry_reuses_the_kept_cache_and_the_status_bar_says_so(window, qtbot):
    """The language model keeps the last generation's keys and values: a Retry reads the same
    page again and computes only its last tokens, and the stats line says how many were reused."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"
    assert window.add_model_folder_path(str(folder))
    assert window.generate_panel.select("lm:llama")
    set_param(window, "max_new_tokens", 6)
    editor = window.text.editor
    type_text(qtbot, editor, "The rain had not stopped for three days when the rider came to the gate")
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "reused" not in window.text_stats_label.text()  # the first generation computes everything
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.keyClick(editor, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    info = window.text.last.job.result.info
    assert 0 < info["reused_tokens"] < info["prompt_tokens"]
    assert f"{info['reused_tokens']} of {info['prompt_tokens']} read tokens reused" in window.text_stats_label.text()


def test_continue_reads_exactly_the_text_before_the_cursor_after_an_emoji(window, qtbot):
    editor = window.text.editor
    type_text(qtbot, editor, "Moon ")
    editor.insertPlainText("🌙")  # as an emoji picker or input method commits it (a key event cannot carry it)
    qtbot.keyClicks(editor, " rose over the hill")
    cursor = editor.textCursor()
    cursor.setPosition(len("Moon 🌙 rose".encode("utf-16-le")) // 2)  # Qt counts the emoji as two
    editor.setTextCursor(cursor)
    assert window.text.prompt_before_cursor() == "Moon 🌙 rose"
