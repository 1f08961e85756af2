"""Memory, author's note, lorebook and the Context view, driven as a writer would: typing into
the Story panel's boxes, Add entry, the Text menu's Show context, Ctrl+Enter in the page; the
real window, Host, job runner and the built-in language model (a 256-token context: small
enough to see the story cut)."""

from __future__ import annotations

import json
import zipfile

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

import studio
from studio.core.engine.jobs import JobState
from studio.core.text.story import MAX_NOTE_CHARS
from studio.ui.editor.context_view import REFRESH_MS

MEMORY = "Mira keeps the castle of Harrowmere while her brother is at war."
STORY = "The rain had not stopped for three days. At dusk a rider came to the gate, and Aldric drew his sword."
ALDRIC = "Ser Aldric is Mira's old sword-master; he lost an eye at Dunmore."


class Mute(studio.Generator):
    """A text generator that takes a prompt and says nothing of what it reads."""

    id = "test-mute"
    title = "Test mute"
    kind = "text"
    params = (studio.Param("prompt", "text", ""), studio.Param("max_new_tokens", "int", 4, min=1, max=50), studio.Param("seed", "seed"))

    def generate(self, request, ctx):
        yield studio.Result("text", " and so on", self.id, dict(request.params))


@pytest.fixture
def window(open_window):
    return open_window(Mute())


def click(qtbot, widget, pos=None):
    if pos is None:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    else:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)


def click_tab(qtbot, tabs, title):
    bar = tabs.tabBar()
    index = next(i for i in range(tabs.count()) if tabs.tabText(i).startswith(title))
    click(qtbot, bar, bar.tabRect(index).center())
    assert tabs.currentIndex() == index


def open_text_tab(window, qtbot):
    click_tab(qtbot, window.tabs, "Text")
    qtbot.waitUntil(lambda: window.docks.story.isVisible())


def type_into(qtbot, box, text):
    box.setFocus()
    qtbot.keyClicks(box, text)


def type_story(window, qtbot, text):
    editor = window.text.editor
    editor.setFocus()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, text)


def add_entry(qtbot, lorebook, name, keys, text):
    click(qtbot, lorebook.add_button)
    type_into(qtbot, lorebook.name, name)
    type_into(qtbot, lorebook.keys, keys)
    type_into(qtbot, lorebook.text, text)


def set_new_tokens(window, value):
    window.generate_panel.form.widgets["max_new_tokens"].spin.setValue(value)


def planned(window, qtbot, check, timeout=10000):
    """Wait for the Context view to show a plan for which ``check(plan)`` holds."""
    view = window.context_view
    qtbot.waitUntil(lambda: view.plan is not None and check(view.plan), timeout=timeout)
    return view.plan


def write_notes(window, qtbot):
    """Memory, a note, and two lore entries (Aldric's key is in STORY, Dunmore's is not)."""
    story = window.story_panel
    type_into(qtbot, story.notes_tab.memory, MEMORY)
    type_into(qtbot, story.notes_tab.note, "[Tone: tense]")
    click_tab(qtbot, story.tabs, "Lorebook")
    add_entry(qtbot, story.lorebook, "Ser Aldric", "Aldric, the knight", ALDRIC)
    add_entry(qtbot, story.lorebook, "Dunmore", "Dunmore", "A ruined fortress two days' ride north.")


def test_a_lore_entry_fires_on_its_key_and_the_context_view_says_why(window, qtbot, choose):
    open_text_tab(window, qtbot)
    lorebook = window.story_panel.lorebook
    click_tab(qtbot, window.story_panel.tabs, "Lorebook")
    assert lorebook.stack.currentWidget() is lorebook.empty and "keys" in lorebook.empty.text()  # what a lorebook is for
    assert not lorebook.remove_button.isEnabled() and lorebook.fields.isHidden()  # no entry: no fields to fill
    click_tab(qtbot, window.story_panel.tabs, "Memory")
    write_notes(window, qtbot)
    assert window.story_panel.tabs.tabText(1) == "Lorebook (2)" and lorebook.list.count() == 2
    assert not lorebook.fields.isHidden() and lorebook.stack.currentWidget() is lorebook.list
    assert [e.keys for e in lorebook.entries] == [["Aldric", "the knight"], ["Dunmore"]]
    assert window.isWindowModified()  # the notes are part of the project
    set_new_tokens(window, 40)
    type_story(window, qtbot, STORY)

    choose(window, "Text", "Show context")
    assert window.docks.context.isVisible()
    plan = planned(window, qtbot, lambda p: any(part.kind == "lore" for part in p.parts))
    kinds = [part.kind for part in plan.parts]
    assert kinds[0] == "memory" and plan.parts[0].text == MEMORY  # memory at the top
    assert kinds.count("lore") == 1 and "note" in kinds and "story" in kinds
    lore = next(part for part in plan.parts if part.kind == "lore")
    assert lore.name == "Ser Aldric" and lore.text == ALDRIC and "“Aldric”" in lore.reason
    assert plan.prompt.startswith(MEMORY) and "Dunmore" not in plan.prompt.split(ALDRIC)[1]

    view = window.context_view
    shown = view.body.toPlainText()
    assert shown.index("MEMORY") < shown.index("LORE") < shown.index("STORY")
    assert "Ser Aldric" in shown and "Key “Aldric” in the story" in shown and ALDRIC in shown
    assert f"{lore.tokens} tokens" in shown
    assert (view.bar.maximum(), view.bar.value()) == (256 - 40, plan.tokens) == (plan.limit, plan.tokens)
    assert view.bar.text() == f"{plan.tokens} / {plan.limit} tokens"
    assert view.cut.text() == "Nothing is cut: all of it fits."
    assert lorebook.fired == {"Ser Aldric": lore.reason}  # the list shows which entries are in
    memory_part = plan.parts[0]
    assert window.story_panel.notes_tab.memory_tokens.text() == f"{memory_part.tokens} tokens"  # what the memory costs
    assert lorebook.list.item(0).toolTip().startswith("In the context now")

    # Turned off (its check box in the list), the entry leaves the context.
    item = lorebook.list.item(0)
    rect = lorebook.list.visualItemRect(item)
    click(qtbot, lorebook.list.viewport(), rect.center())
    assert lorebook.list.currentRow() == 0
    lorebook.enabled.click()
    assert not lorebook.entries[0].enabled
    planned(window, qtbot, lambda p: not any(part.kind == "lore" for part in p.parts))
    assert lorebook.fired == {}

    # Remove asks first (its text would be lost): Cancel keeps it, Remove removes it.
    def question():
        boxes = [b for b in lorebook.findChildren(QMessageBox, "remove_lore_entry") if b.isVisible()]
        return boxes[-1] if boxes else None

    click(qtbot, lorebook.remove_button)
    qtbot.waitUntil(lambda: question() is not None)
    assert "Ser Aldric" in question().text()
    click(qtbot, question().button(QMessageBox.StandardButton.Cancel))
    assert len(lorebook.entries) == 2
    click(qtbot, lorebook.remove_button)
    qtbot.waitUntil(lambda: question() is not None)
    click(qtbot, next(b for b in question().buttons() if b.text() == "Remove"))
    assert [e.name for e in lorebook.entries] == ["Dunmore"] and lorebook.list.count() == 1
    click(qtbot, lorebook.add_button)  # an empty entry goes without a question
    click(qtbot, lorebook.remove_button)
    assert [e.name for e in lorebook.entries] == ["Dunmore"]


def test_a_long_story_is_cut_and_the_view_says_how_much(window, qtbot, choose):
    open_text_tab(window, qtbot)
    set_new_tokens(window, 60)
    type_into(qtbot, window.story_panel.notes_tab.memory, MEMORY)
    long_story = "".join(f"Night {n} came down on Harrowmere, and the rain went on.\n" for n in range(60))
    QApplication.clipboard().setText(long_story)
    editor = window.text.editor
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)  # pasted
    assert editor.toPlainText() == long_story
    choose(window, "Text", "Show context")
    plan = planned(window, qtbot, lambda p: p.story_cut_chars > 0)
    view = window.context_view
    assert plan.parts[0].kind == "memory" and plan.tokens <= plan.limit
    assert f"The first {plan.story_cut_chars:,} characters of the story are left out." in view.cut.text()
    story = "".join(part.text for part in plan.parts if part.kind == "story")
    assert long_story.endswith(story) and len(story) < len(long_story)

    # More new tokens leave less room: the limit follows the form.
    before = plan.limit
    set_new_tokens(window, 100)
    plan = planned(window, qtbot, lambda p: p.limit == 256 - 100)
    assert before == 256 - 60 and plan.limit < before and view.bar.maximum() == plan.limit

    # The cursor moved up: the view plans for the text before it, as Continue reads it.
    cursor = editor.textCursor()
    cursor.setPosition(len("Night 0 came down on Harrowmere"))
    editor.setTextCursor(cursor)
    plan = planned(window, qtbot, lambda p: p.story_cut_chars == 0)
    assert plan.parts[-1].text.endswith("Night 0 came down on Harrowmere")


def test_the_notes_reach_the_job_and_its_history_entry(window, qtbot):
    open_text_tab(window, qtbot)
    write_notes(window, qtbot)
    set_new_tokens(window, 6)
    type_story(window, qtbot, STORY)
    qtbot.keyClick(window.text.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Continue
    job = window.text.last.job
    qtbot.waitUntil(lambda: job.state.done, timeout=60000)
    assert job.state is JobState.FINISHED, job.message
    params = job.request.params
    assert params["memory"] == MEMORY and params["authors_note"] == "[Tone: tense]" and params["note_depth"] == 3
    lore = json.loads(params["lorebook"])
    assert [(e["name"], e["keys"], e["text"]) for e in lore][0] == ("Ser Aldric", ["Aldric", "the knight"], ALDRIC)
    assert params["prompt"] == STORY  # the page, as the writer left it: the notes travel beside it
    context = job.result.info["context"]
    assert [p["kind"] for p in context["parts"]][0] == "memory" and any(p["name"] == "Ser Aldric" for p in context["parts"])
    qtbot.waitUntil(lambda: any(e.kind == "text" for e in window.history_panel.entries()), timeout=5000)
    entry = next(e for e in window.history_panel.entries() if e.kind == "text")
    assert entry.params["memory"] == MEMORY and json.loads(entry.params["lorebook"]) == lore


def test_the_view_plans_only_while_it_is_shown(window, qtbot, choose):
    open_text_tab(window, qtbot)
    choose(window, "Text", "Show context")
    view = window.context_view
    first = planned(window, qtbot, lambda p: True)
    window.docks.history.raise_()  # its tab clicked: the Context view is behind it
    qtbot.waitUntil(lambda: not view.on_screen())
    type_story(window, qtbot, STORY)
    qtbot.wait(REFRESH_MS + 300)
    assert view.stale and view.plan is first  # nothing worked out for a view no one sees
    choose(window, "Text", "Show context")
    plan = planned(window, qtbot, lambda p: p is not first)
    assert plan.prompt.endswith(STORY) and not view.stale


def test_a_generator_that_does_not_say_what_it_reads(window, qtbot, choose):
    open_text_tab(window, qtbot)
    assert window.generate_panel.select("test-mute")
    choose(window, "Text", "Show context")
    view = window.context_view
    qtbot.waitUntil(lambda: "does not say what it reads" in view.heading.text(), timeout=5000)
    assert view.plan is None and not view.bar.isVisible() and view.body.toPlainText() == ""
    assert window.generate_panel.select("shakespeare")
    planned(window, qtbot, lambda p: True)
    assert view.bar.isVisible()


def test_the_notes_survive_save_and_reopen(window, qtbot, tmp_path, monkeypatch, choose):
    open_text_tab(window, qtbot)
    write_notes(window, qtbot)
    spin = window.story_panel.notes_tab.depth
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Up)  # 3 -> 4 lines before the end
    assert window.story_panel.notes().note_depth == 4
    before = window.story_panel.notes()
    path = tmp_path / "Harrowmere.studio"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Save project")
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=5000)

    choose(window, "File", "New project")
    empty = window.story_panel.notes()
    assert (empty.memory, empty.authors_note, empty.lore) == ("", "", [])
    assert window.story_panel.lorebook.stack.currentWidget() is window.story_panel.lorebook.empty
    assert not window.isWindowModified()  # showing a project's notes is not an edit

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Open project…")
    qtbot.waitUntil(lambda: window.story_panel.notes().memory == MEMORY, timeout=10000)
    assert window.story_panel.notes() == before
    assert window.story_panel.notes_tab.memory.toPlainText() == MEMORY
    assert [window.story_panel.lorebook.list.item(i).text() for i in range(2)] == ["Ser Aldric  ·  Aldric, the knight", "Dunmore  ·  Dunmore"]
    assert not window.isWindowModified()


def test_a_paste_past_what_a_project_keeps_is_cut_there_and_says_so(window, qtbot):
    open_text_tab(window, qtbot)
    memory = window.story_panel.notes_tab.memory
    QApplication.clipboard().setText(("word " * (MAX_NOTE_CHARS // 5 + 5))[: MAX_NOTE_CHARS + 25])
    memory.setFocus()
    qtbot.keyClick(memory, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(memory.toPlainText()) == MAX_NOTE_CHARS == len(window.story_panel.notes().memory)
    warning = window.story_panel.notes_tab.memory_warning
    assert warning.isVisible() and f"{MAX_NOTE_CHARS:,}" in warning.text()
    qtbot.keyClick(memory, Qt.Key.Key_Backspace)
    assert not warning.isVisible()


def test_a_project_with_a_bad_lore_entry_opens_with_the_good_ones_and_names_it(window, qtbot, tmp_path, monkeypatch, choose):
    open_text_tab(window, qtbot)
    write_notes(window, qtbot)
    good = tmp_path / "good.studio"
    assert window.project.save_to(good)
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    # The same file with the second entry's priority made nonsense, as a hand-edited file might be.
    hostile = tmp_path / "hostile.studio"
    with zipfile.ZipFile(good) as source:
        writing = json.loads(source.read("writing.json"))
        writing["notes"]["lore"][1]["priority"] = "very high"
        body = json.dumps(writing).encode()
        with zipfile.ZipFile(hostile, "w") as target:
            for info in source.infolist():
                content = source.read(info)
                if info.filename == "manifest.json":
                    manifest = json.loads(content)
                    manifest["members"]["writing.json"] = len(body)
                    content = json.dumps(manifest).encode()
                target.writestr(info, body if info.filename == "writing.json" else content)
    choose(window, "File", "New project")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(hostile), ""))
    choose(window, "File", "Open project…")
    qtbot.waitUntil(lambda: window.story_panel.notes().memory == MEMORY, timeout=10000)
    assert [e.name for e in window.story_panel.lorebook.entries] == ["Ser Aldric"]  # the good one, kept
    warnings = [box for box in window.findChildren(QMessageBox, "warning") if box.isVisible()]
    assert warnings and "Dunmore" in warnings[-1].text() and "priority" in warnings[-1].text()
    assert window.isWindowModified()  # opened under a new name: the damaged file stays as it was
