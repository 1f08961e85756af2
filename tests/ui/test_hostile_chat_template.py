"""A downloaded model's chat template that asks for a 300 MB prompt, used from the window as a
writer would (select, Rewrite, type an instruction, Return). Before the fix the tokenizer aborted
the process on that prompt: the window vanished with the writer's text. Now the job fails with a
plain message and the text and the window stay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from studio.core.engine.jobs import JobState
from studio.host import Host
from studio.ui.app import create_window

LLAMA = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"


def test_rewrite_with_a_chat_template_that_builds_a_huge_prompt_fails_plainly_and_keeps_the_text(qtbot, tmp_path):
    folder = tmp_path / "repeats"
    shutil.copytree(LLAMA, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["chat_template"] = "{{ 'ab ' * 10**8 }}"
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")

    host = Host()
    window = create_window(host=host)
    qtbot.addWidget(window)
    window.show()
    try:
        assert window.add_model_folder_path(str(folder))
        assert window.generate_panel.select("lm:repeats")
        text, editor = window.text, window.text.editor
        editor.setPlainText("Keep this. To be or not to be. And this.")
        cursor = editor.textCursor()
        cursor.setPosition(11)
        cursor.setPosition(30, QTextCursor.MoveMode.KeepAnchor)
        editor.setTextCursor(cursor)
        assert text.open_rewrite()
        text.rewrite_bar.instruction.setText("Modernise")
        with qtbot.waitSignal(window.bridge.state_changed, timeout=20000, check_params_cb=lambda j, s, m: s is JobState.FAILED) as failed:
            qtbot.keyClick(text.rewrite_bar.instruction, Qt.Key.Key_Return)
        message = failed.args[2]
        assert "chat template" in message and "repeats a text 100,000,000 times" in message
        assert "internal error" not in message
        assert editor.toPlainText() == "Keep this. To be or not to be. And this."
        assert "chat template" in window.statusBar().currentMessage()
    finally:
        editor.document().setModified(False)  # no unsaved-changes question at teardown
        window.probe_thread.join(20)
        host.shutdown()
