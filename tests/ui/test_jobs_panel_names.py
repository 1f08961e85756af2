"""A long model name in the narrow Jobs dock: shortened with "…" where it is painted, never
widening the dock or cut off without a sign; the whole name stays in the row's tool tip."""

from __future__ import annotations

import socket

from PySide6.QtGui import QPixmap

from studio.core.models.download import start_download

NAME = "Qwen2.5-Coder-1.5B-Instruct-abliterated-uncensored-GGUF-to-ONNX-q4f16-webgpu-2025"


def test_a_long_download_name_is_elided_and_the_dock_keeps_its_width(window, qtbot, monkeypatch):
    with socket.socket() as probe:  # a hub nobody answers: the job fails at once, its row stays
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{probe.getsockname()[1]}")
    window.docks.jobs.raise_()  # its tab clicked: the Jobs dock shares a place with others
    qtbot.waitUntil(lambda: window.jobs_panel.isVisible())
    dock_width = window.jobs_panel.width()
    job = start_download(window.host, f"someone/{NAME}", listeners=[window.bridge.listener])
    row = window.jobs_panel.add(job)
    qtbot.waitUntil(lambda: job.state.done, timeout=20000)
    qtbot.wait(50)
    assert window.jobs_panel.width() == dock_width
    assert row.minimumSizeHint().width() < dock_width
    assert row.title.text() == f"Download {NAME}"  # the text is whole; only its painting is shortened
    assert NAME in row.title.toolTip()
    assert row.title.width() < row.title.fontMetrics().horizontalAdvance(row.title.text())
    shot = QPixmap(row.title.size())
    row.title.render(shot)  # paints without raising, inside its own width
    assert not shot.isNull()
