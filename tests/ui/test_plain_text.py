"""Text from plugins, models and files is shown as plain text, never as rich text: a
failure "lacks <weights.bin>" showed as "lacks" in the Jobs panel (Qt took it for HTML)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as QtText, QTextDocument
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox

import studio
from studio.core.engine.jobs import JobState

MARKUP = "lacks <weights.bin> and <b>config.json</b> & co"


def read(text: str, text_format: Qt.TextFormat = Qt.TextFormat.AutoText) -> str:
    """What a person reads where Qt shows ``text`` in ``text_format`` (a tool tip: AutoText)."""
    rich = text_format == Qt.TextFormat.RichText or (text_format == Qt.TextFormat.AutoText and QtText.mightBeRichText(text))
    if not rich:
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def reads(label: QLabel) -> str:
    return read(label.text(), label.textFormat())


class Fails(studio.Generator):
    id = "test-markup"
    title = "<i>Tiny</i> & <b>co</b>"
    kind = "image"
    description = f"A model that {MARKUP}"
    params = (studio.Param("seed", "seed"), studio.Param("strength", "float", 0.5, min=0.0, max=1.0, help=f"needs {MARKUP}", label="<b>Strength</b>"))

    def generate(self, request, ctx):
        raise studio.ModelError(f"the model folder {MARKUP}")
        yield  # pragma: no cover


@pytest.fixture
def window(open_window):
    return open_window(Fails())


def test_a_failure_with_angle_brackets_reads_literally_in_the_jobs_panel(window, qtbot):
    assert window.generate_panel.select("test-markup")
    with qtbot.waitSignal(window.bridge.state_changed, timeout=10000, check_params_cb=lambda j, s, m: s is JobState.FAILED):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    row = next(iter(window.jobs_panel.rows.values()))
    assert MARKUP in reads(row.status) and row.status.textFormat() == Qt.TextFormat.PlainText
    assert Fails.title in reads(row.title) and row.title.textFormat() == Qt.TextFormat.PlainText
    assert MARKUP in window.statusBar().currentMessage()  # the status bar draws plain text


def test_plugin_text_in_the_generate_panel_reads_literally(window):
    assert window.generate_panel.select("test-markup")
    assert reads(window.generate_panel.description) == Fails.description
    form = window.generate_panel.form
    row_label = form.layout().itemAt(0).layout().labelForField(form.widgets["strength"])
    assert reads(row_label) == "<b>Strength</b>"
    for widget in (form.widgets["strength"].spin, form.widgets["strength"].slider):
        assert read(widget.toolTip()) == f"needs {MARKUP}"


def test_a_message_box_with_a_file_name_in_angle_brackets_reads_literally(window, qtbot, tmp_path, monkeypatch, choose):
    folder = tmp_path / "<b>model <weights.bin>"  # a file name may hold any of it but "/"
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    choose(window, "File", "Add model folder…")
    box = next(b for b in window.findChildren(QMessageBox, "warning") if b.isVisible())
    label = box.findChild(QLabel, "qt_msgbox_label")
    assert str(folder) in reads(label) and label.textFormat() == Qt.TextFormat.PlainText
    box.close()
