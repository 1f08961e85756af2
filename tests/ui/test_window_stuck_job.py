"""A generator that ignores Cancel, in the window: the Jobs panel's Cancel abandons it and
says so, the next generation runs, and closing the window does not hang on it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

import studio
from studio.core.engine.jobs import CANCEL_GRACE, JobState
from studio.host import Host
from studio.plugins import PluginInfo
from studio.ui.app import create_window

STUCK_FOR = 60.0  # seconds: the old code waited this long (or for ever) before the next job


class Stuck(studio.Generator):
    """Sleeps in a loop and never checks for cancel (a long pure-Python loop in a plugin);
    once released it yields a picture that must never reach the canvas."""

    id = "test-stuck"
    title = "Stuck loop"
    kind = "image"
    params = (studio.Param("seed", "seed"),)

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.left = threading.Event()

    def generate(self, request, ctx):
        try:
            self.entered.set()
            deadline = time.monotonic() + STUCK_FOR
            while time.monotonic() < deadline and not self.release.is_set():
                time.sleep(0.01)
            yield studio.Result("image", np.zeros((8, 8, 4), np.uint8), self.id, dict(request.params))
        finally:
            self.left.set()


class StuckPlugin:
    def __init__(self) -> None:
        self.generator = Stuck()

    @studio.hookimpl
    def register_generators(self, register):
        register(self.generator)


@pytest.fixture
def stuck_window(qtbot):
    plugin = StuckPlugin()
    host = Host()
    host.plugins.add_plugin(plugin, PluginInfo("stuck-plugin", __name__))
    win = create_window(host=host)
    qtbot.addWidget(win)
    win.show()
    yield win, plugin.generator
    plugin.generator.release.set()
    win.probe_thread.join(20)
    host.shutdown()


def start_stuck(win, stuck, qtbot):
    assert win.generate_panel.select("test-stuck")
    qtbot.mouseClick(win.generate_panel.button, Qt.MouseButton.LeftButton)
    assert stuck.entered.wait(20)
    return next(row for row in win.jobs_panel.rows.values() if row.job.generator is stuck)


def test_cancel_abandons_a_job_that_ignores_it_and_the_next_generation_runs(stuck_window, qtbot):
    win, stuck = stuck_window
    row = start_stuck(win, stuck, qtbot)

    with qtbot.waitSignal(win.bridge.state_changed, timeout=int((CANCEL_GRACE + 8) * 1000), check_params_cb=lambda job, state, msg: job is row.job):
        qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
        assert row.status.text() == "Cancelling…"
    assert row.job.state is JobState.CANCELLED and row.job.abandoned
    said = row.status.text()
    assert "Stuck loop" in said and "did not stop" in said and "abandoned" in said and "discarded" in said
    assert "abandoned" in win.statusBar().currentMessage()

    win.generate_panel.select("cppn")
    for name, value in (("width", 16), ("height", 16)):
        win.generate_panel.form.widgets[name].spin.setValue(value)
    with qtbot.waitSignal(win.bridge.result, timeout=20000):  # the device is free: it runs now
        qtbot.mouseClick(win.generate_panel.button, Qt.MouseButton.LeftButton)
    assert not stuck.left.is_set()  # while the stuck job is still stuck

    stuck.release.set()  # its late picture goes nowhere
    assert stuck.left.wait(20)
    qtbot.wait(200)
    assert [layer.name for layer in win.canvas.document.layers] == [win.canvas.document.layers[0].name]
    assert win.canvas.document.layers[0].pixels.shape == (16, 16, 4)


def test_closing_the_window_with_a_stuck_job_does_not_hang(stuck_window, qtbot):
    win, stuck = stuck_window
    row = start_stuck(win, stuck, qtbot)

    asked = time.monotonic()
    assert win.close()  # the title bar's close button
    took = time.monotonic() - asked
    assert took < 3.0, f"closing took {took:.1f} s with a job stuck"
    assert row.job.state is JobState.CANCELLED and row.job.abandoned
