"""The Generation history panel, driven as a person would: real widgets, offscreen Qt."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from studio.core.project.history import HistoryEntry, entry_for
from studio.ui.panels.history_panel import ALIVE_ROLE, EMPTY_HINT, ENTRY_ROLE, NO_MATCH_HINT, HistoryPanel, clock_time, duration


def make_entries() -> list[HistoryEntry]:
    """Three generations, oldest first (the order a project keeps them)."""
    return [
        entry_for("image", "cppn", "CPPN abstract art", {"seed": 11, "width": 256, "height": 128, "colour_mode": "hsv"}, target=101, seconds=0.4),
        entry_for("text", "shakespeare", "Shakespeare", {"prompt": "ROMEO: But soft", "max_new_tokens": 24, "seed": 22}, target=102, seconds=1.5),
        entry_for("audio", "chorale", "Chorale sketcher", {"key": "D minor", "bars": 2, "seed": 33}, target=103, model="/models/chorale", seconds=3.0),
    ]


class Project:
    """What the window answers for ``target_exists``: the ids of outputs still in the documents."""

    def __init__(self, targets):
        self.targets = set(targets)
        self.asked = 0

    def exists(self, entry: HistoryEntry) -> bool:
        self.asked += 1
        return entry.target in self.targets


@pytest.fixture
def project():
    return Project({101, 102, 103})


@pytest.fixture
def panel(qtbot, project):
    widget = HistoryPanel(project.exists)
    qtbot.addWidget(widget)
    widget.resize(340, 480)
    widget.show()
    return widget


def shown(panel: HistoryPanel) -> list[HistoryEntry]:
    model = panel.view.model()
    return [model.index(row, 0).data(ENTRY_ROLE) for row in range(model.rowCount())]


def row_centre(panel: HistoryPanel, entry: HistoryEntry):
    panel.select(entry)
    return panel.view.visualRect(panel.view.currentIndex()).center()


def test_rows_appear_newest_first_and_entries_keep_the_project_order(panel):
    entries = make_entries()
    panel.set_entries(entries)
    assert shown(panel) == entries[::-1]
    assert panel.entries() == entries
    newer = entry_for("image", "cppn", "CPPN abstract art", {"seed": 44}, target=101)
    panel.add(newer)
    assert shown(panel)[0] is newer
    assert panel.entries() == entries + [newer]


def test_adding_does_not_steal_the_selection_and_scrolls_to_the_new_row(panel):
    entries = make_entries() * 20  # long enough to scroll
    entries = [entry_for(e.kind, e.generator, e.title, e.params, e.target) for e in entries]
    panel.set_entries(entries)
    oldest = entries[0]
    panel.select(oldest)
    panel.view.scrollToBottom()
    assert panel.view.verticalScrollBar().value() > 0
    newest = entry_for("text", "shakespeare", "Shakespeare", {"prompt": "JULIET", "seed": 1}, target=102)
    panel.add(newest)
    assert panel.selected() is oldest
    assert panel.view.verticalScrollBar().value() == 0  # the new row, on top, is in view


def test_buttons_follow_the_selection_and_carry_its_entry(panel, qtbot):
    entries = make_entries()
    panel.set_entries(entries)
    buttons = (panel.reuse_button, panel.regenerate_button, panel.show_button)
    assert not any(b.isEnabled() for b in buttons)
    panel.select(entries[1])
    assert all(b.isEnabled() for b in buttons)
    for button, signal in zip(buttons, (panel.reuse_requested, panel.regenerate_requested, panel.jump_requested)):
        with qtbot.waitSignal(signal, timeout=1000) as caught:
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert caught.args == [entries[1]]
    panel.select(None)
    assert not any(b.isEnabled() for b in buttons)


def test_clicking_a_row_selects_it_and_double_click_shows_it(panel, qtbot):
    entries = make_entries()
    panel.set_entries(entries)
    point = row_centre(panel, entries[2])
    panel.select(None)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert panel.selected() is entries[2]
    with qtbot.waitSignal(panel.jump_requested, timeout=1000) as caught:
        qtbot.mouseDClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert caught.args == [entries[2]]


def test_a_removed_output_greys_its_row_and_cannot_be_shown(panel, project, qtbot):
    entries = make_entries()
    panel.set_entries(entries)
    panel.select(entries[0])
    assert panel.show_button.isEnabled()
    project.targets.discard(101)  # the layer was undone
    panel.refresh_targets()
    index = panel.view.currentIndex()
    assert index.data(ENTRY_ROLE) is entries[0] and index.data(ALIVE_ROLE) is False
    assert not panel.show_button.isEnabled()
    assert panel.reuse_button.isEnabled() and panel.regenerate_button.isEnabled()  # its parameters still serve
    jumps = []
    panel.jump_requested.connect(jumps.append)
    qtbot.mouseClick(panel.show_button, Qt.MouseButton.LeftButton)
    qtbot.mouseDClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=panel.view.visualRect(index).center())
    assert jumps == []
    project.targets.add(101)  # redo brings it back
    panel.refresh_targets()
    assert panel.show_button.isEnabled() and panel.view.currentIndex().data(ALIVE_ROLE) is True


def test_an_entry_without_a_target_cannot_be_shown(panel):
    entry = entry_for("image", "cppn", "CPPN abstract art", {"seed": 5}, target=None)
    panel.add(entry)
    panel.select(entry)
    assert panel.reuse_button.isEnabled() and not panel.show_button.isEnabled()


def test_the_tooltip_lists_every_parameter_and_the_model(panel):
    entries = make_entries()
    panel.set_entries(entries)
    model = panel.view.model()
    tips = {model.index(r, 0).data(ENTRY_ROLE).generator: model.index(r, 0).data(Qt.ItemDataRole.ToolTipRole) for r in range(3)}
    assert all(f"{name} = {value}" in tips["cppn"] for name, value in (("seed", 11), ("width", 256), ("height", 128)))
    assert 'colour_mode = "hsv"' in tips["cppn"] and "built-in model" in tips["cppn"]
    assert "Model: /models/chorale" in tips["chorale"] and 'key = "D minor"' in tips["chorale"]
    assert "max_new_tokens = 24" in tips["shakespeare"]


def test_the_tooltip_escapes_markup_in_a_prompt(panel):
    entry = entry_for("text", "shakespeare", "Shakespeare", {"prompt": "<b>bold</b> & co", "seed": 1}, target=102)
    panel.add(entry)
    tip = panel.view.model().index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in tip and "<b>bold</b>" not in tip


def test_the_context_menu_offers_the_actions_and_copies_the_parameters(panel, project, qtbot):
    entries = make_entries()
    panel.set_entries(entries)
    point = row_centre(panel, entries[1])
    panel.select(None)
    panel.view.customContextMenuRequested.emit(point)  # what a right-click on the row sends
    menu = panel.menu
    assert menu is not None and panel.selected() is entries[1]
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert list(actions) == ["Reuse parameters", "Regenerate", "Show", "Copy parameters"]
    for text, signal in (("Reuse parameters", panel.reuse_requested), ("Regenerate", panel.regenerate_requested), ("Show", panel.jump_requested)):
        with qtbot.waitSignal(signal, timeout=1000) as caught:
            actions[text].trigger()
        assert caught.args == [entries[1]]
    actions["Copy parameters"].trigger()
    copied = json.loads(QGuiApplication.clipboard().text())
    assert copied == {"generator": "shakespeare", "params": entries[1].params}
    menu.close()

    project.targets.clear()
    panel.refresh_targets()
    gone = {a.text(): a for a in panel.menu_for(entries[0]).actions() if a.text()}
    assert not gone["Show"].isEnabled() and gone["Regenerate"].isEnabled()


def test_a_right_click_on_empty_space_opens_nothing(panel):
    panel.set_entries(make_entries()[:1])
    panel.view.customContextMenuRequested.emit(panel.view.viewport().rect().bottomLeft())
    assert panel.menu is None


def test_filters_by_words_and_kind(panel, qtbot):
    entries = make_entries()
    panel.set_entries(entries)
    panel.search.setText("romeo")
    assert shown(panel) == [entries[1]]
    panel.search.setText("cppn")  # the generator id
    assert shown(panel) == [entries[0]]
    panel.search.setText("")
    panel.kind.setCurrentIndex(panel.kind.findData("audio"))
    assert shown(panel) == [entries[2]]
    panel.search.setText("minor chorale")  # every word, anywhere: the key and the title
    assert shown(panel) == [entries[2]]
    panel.search.setText("romeo")
    assert shown(panel) == [] and panel.view.hint == NO_MATCH_HINT
    panel.kind.setCurrentIndex(0)
    assert shown(panel) == [entries[1]]


def test_a_selection_the_filter_hides_disables_the_buttons(panel):
    entries = make_entries()
    panel.set_entries(entries)
    panel.select(entries[0])
    panel.search.setText("romeo")
    assert panel.selected() is None and not panel.reuse_button.isEnabled()
    panel.search.setText("")
    assert panel.selected() is None  # not brought back by itself either
    panel.select(entries[1])
    panel.search.setText("romeo")  # the selected row stays shown: it stays selected
    assert panel.selected() is entries[1] and panel.reuse_button.isEnabled()


def test_an_added_entry_hidden_by_the_filter_stays_hidden(panel):
    entries = make_entries()
    panel.set_entries(entries)
    panel.kind.setCurrentIndex(panel.kind.findData("text"))
    panel.add(entry_for("image", "cppn", "CPPN abstract art", {"seed": 9}, target=101))
    assert shown(panel) == [entries[1]]
    panel.kind.setCurrentIndex(0)
    assert len(shown(panel)) == 4


def test_empty_state_hint(panel):
    assert panel.view.hint == EMPTY_HINT and panel.view.model().rowCount() == 0
    panel.set_entries(make_entries())
    panel.set_entries([])
    assert panel.view.hint == EMPTY_HINT
    assert not panel.grab().isNull()  # the hint paints


def test_a_thousand_entries(panel, project):
    entries = [
        entry_for(("image", "text", "audio")[i % 3], "cppn", "CPPN abstract art", {"seed": i, "prompt": f"take {i}"}, target=101 + i % 3)
        for i in range(1000)
    ]
    project.asked = 0
    panel.set_entries(entries)
    assert panel.view.model().rowCount() == 1000 and project.asked == 1000
    assert shown(panel)[0] is entries[-1]
    panel.search.setText("take 999")
    assert shown(panel) == [entries[999]]
    panel.search.setText("")
    panel.select(entries[500])
    panel.refresh_targets()
    assert panel.selected() is entries[500]
    assert not panel.grab().isNull()


def test_without_a_target_check_every_named_output_counts_as_there(qtbot):
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    entry = make_entries()[0]
    panel.add(entry)
    panel.select(entry)
    assert panel.show_button.isEnabled()


def test_time_and_duration_read_as_a_person_writes_them():
    import time

    now = time.mktime((2025, 6, 14, 15, 0, 0, 0, 0, -1))
    assert clock_time(time.mktime((2025, 6, 14, 14, 32, 5, 0, 0, -1)), now) == "14:32"
    assert clock_time(time.mktime((2025, 3, 2, 9, 5, 0, 0, 0, -1)), now) == "2 Mar 09:05"
    assert clock_time(time.mktime((2024, 3, 2, 9, 5, 0, 0, 0, -1)), now) == "2 Mar 2024 09:05"
    assert [duration(s) for s in (0, 0.42, 12.4, 65, 120)] == ["", "0.4 s", "12 s", "1 min 5 s", "2 min"]


def test_the_panel_survives_the_application_palette(panel):
    """Rows paint with the palette's roles: under the app's dark palette the text is light."""
    from studio.ui.app import dark_palette

    panel.setPalette(dark_palette())
    panel.set_entries(make_entries())
    image = panel.view.viewport().grab().toImage()
    first = panel.view.visualRect(panel.view.model().index(0, 0))
    lightest = max(image.pixelColor(x, y).lightness() for x in range(first.left() + 40, first.right(), 3) for y in range(first.top(), first.bottom(), 2))
    darkest_background = image.pixelColor(first.right() - 2, first.bottom() + 2).lightness()
    assert darkest_background < 80 and lightest > 180
