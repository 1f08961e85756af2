"""The Context panel works its plan out once typing pauses, not at every key: a plan copies the
whole text and tokenizes it, so planning per key would make typing in a long manuscript lag."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.ui.editor.context_view import REFRESH_MS


def test_after_it_is_shown_the_context_panel_still_waits_for_a_pause_in_typing(window, qtbot, choose):
    window.tabs.setCurrentWidget(window.text)
    choose(window, "Text", "Show context")
    view = window.context_view
    qtbot.waitUntil(lambda: view.plan is not None, timeout=10000)  # shown: planned at once
    editor = window.text.editor
    editor.setFocus()
    plans = []
    view.timer.timeout.connect(lambda: plans.append(editor.toPlainText()))
    for key in "Romeo":
        qtbot.keyClick(editor, key)
    assert view.timer.isActive() and view.timer.interval() == REFRESH_MS
    qtbot.waitUntil(lambda: bool(plans), timeout=5000)
    assert plans == ["Romeo"]  # one plan for the five keys, after they paused
