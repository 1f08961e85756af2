"""What a new user sees first: a window that fits the screen, a seed box that tells the
truth, one plain sentence about the GPU, and playback's problem said once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from studio.host import Host
from studio.ui.app import create_window
from studio.ui.window.docks import COLUMN_WIDTH


def screen(width: int, height: int) -> dict:
    return {"name": f"{width}x{height}", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}


LAPTOP = screen(1280, 720)
NETBOOK = screen(1024, 600)  # the smallest laptop screens still sold
DESKTOP = screen(1920, 1080)


@pytest.fixture(scope="module")
def on_a_laptop(tmp_path_factory):
    return start_on(tmp_path_factory, LAPTOP)


@pytest.fixture(scope="module", params=[NETBOOK, LAPTOP, DESKTOP], ids=lambda s: s["name"])
def on_a_screen(request, tmp_path_factory):
    return start_on(tmp_path_factory, request.param)


_started: dict[str, dict] = {}  # screen name -> what its window showed: one process per screen


def start_on(tmp_path_factory, screen: dict) -> dict:
    """The window started on ``screen`` in a machine without PortAudio, and Play pressed:
    its geometry, its docks' widths and every status bar message, from a process of its own
    (a screen and a missing library are the process's)."""
    if screen["name"] in _started:
        return _started[screen["name"]]
    folder = tmp_path_factory.mktemp(screen["name"])
    screens = folder / "screens.json"
    screens.write_text(json.dumps({"screens": [screen]}))
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules["sounddevice"] = None  # as if libportaudio2 were not installed
        from PySide6.QtWidgets import QApplication, QDockWidget, QToolButton
        app = QApplication([])
        from studio.ui.app import create_window
        window = create_window()
        messages = []
        window.statusBar().messageChanged.connect(messages.append)
        window.show()
        for _ in range(3):  # the shown window refits itself by its real frame
            app.processEvents()
        room, frame = window.screen().availableGeometry(), window.frameGeometry()
        docks = {name: window.findChild(QDockWidget, "dock_" + name).width() for name in ("generate", "layers")}
        window.tabs.setCurrentWidget(window.audio)
        window.audio.actions_by_name["play"].trigger()
        app.processEvents()
        bar = window.audio.transport_bar
        folded = bar.findChild(QToolButton, "qt_toolbar_ext_button")
        shown = {}
        for action in bar.actions():
            widget = bar.widgetForAction(action)
            if widget is not None and not action.isSeparator():
                inside = widget.geometry().right() <= bar.contentsRect().right()
                shown[widget.objectName() or widget.toolTip()[:20] or type(widget).__name__] = widget.isVisible() and inside
        print(json.dumps({
            "transport_folded": bool(folded and folded.isVisible()),
            "transport_shown": shown,
            "room": [room.x(), room.y(), room.width(), room.height()],
            "frame": [frame.x(), frame.y(), frame.width(), frame.height()],
            "docks": docks,
            "messages": messages,
            "footer": window.audio.transport_bar.status.full_text,
        }))
        window.probe_thread.join(20)
        window._closing = True
        window.close()
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screens}", STUDIO_HOME=str(folder / "home"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    _started[screen["name"]] = json.loads(done.stdout.strip().splitlines()[-1])
    return _started[screen["name"]]


def test_the_window_fits_its_screen_and_is_centred(on_a_screen):
    x, y, width, height = on_a_screen["frame"]
    left, top, room_width, room_height = on_a_screen["room"]
    assert left <= x and top <= y and x + width <= left + room_width and y + height <= top + room_height, on_a_screen
    assert abs((x - left) - (left + room_width - x - width)) <= 2  # centred
    assert abs((y - top) - (top + room_height - y - height)) <= 2


def test_on_a_large_screen_the_docks_keep_their_width(tmp_path_factory):
    on_a_desktop = start_on(tmp_path_factory, DESKTOP)  # only a smaller screen narrows them
    assert on_a_desktop["docks"] == {"generate": COLUMN_WIDTH, "layers": COLUMN_WIDTH}, on_a_desktop  # one column


def test_playback_says_once_that_it_is_off(on_a_laptop):
    said = [m for m in on_a_laptop["messages"] if "playback" in m.lower()]
    assert not said, on_a_laptop["messages"]  # the footer says it: a message as well would say it twice
    assert on_a_laptop["footer"] == "The sound library (PortAudio) is not installed — playback is off", on_a_laptop["footer"]


def test_the_transport_bar_fits_a_laptop_window(on_a_laptop):
    """At 1280 x 720, with the docks as they open, every control of the transport is on the
    bar: none folded behind the tool bar's » button."""
    assert not on_a_laptop["transport_folded"], on_a_laptop
    assert all(on_a_laptop["transport_shown"].values()), on_a_laptop["transport_shown"]


@pytest.fixture
def window(qtbot):
    win = create_window(host=Host())
    qtbot.addWidget(win)
    messages: list[str] = []
    win.statusBar().messageChanged.connect(messages.append)
    win.messages = messages
    win.show()
    yield win
    win.probe_thread.join(20)
    win.host.shutdown()


def test_the_seed_box_shows_random_not_a_number_that_will_not_be_used(window, qtbot):
    assert window.generate_panel.select("cppn")
    seed = window.generate_panel.form.widgets["seed"]
    assert seed.random_each.isChecked() and window.generate_panel.form.values()["seed"] is None
    assert seed.edit.text() == "" and seed.edit.placeholderText() == "random"  # no grey number

    qtbot.mouseClick(seed.dice, Qt.MouseButton.LeftButton)  # "New": a seed of its own, used from now on
    drawn = seed.edit.text()
    assert drawn.isdigit() and not seed.random_each.isChecked() and seed.edit.isEnabled()
    assert window.generate_panel.form.values()["seed"] == int(drawn)

    qtbot.mouseClick(seed.random_each, Qt.MouseButton.LeftButton)  # random again: no number shown
    assert seed.edit.text() == "" and window.generate_panel.form.values()["seed"] is None
    qtbot.mouseClick(seed.random_each, Qt.MouseButton.LeftButton)  # and back: the seed it had
    assert seed.edit.text() == drawn and window.generate_panel.form.values()["seed"] == int(drawn)


def test_without_a_usable_gpu_the_status_bar_says_so_once(window, qtbot, choose):
    qtbot.waitUntil(lambda: window.report is not None, timeout=30000)
    report = window.report
    if not report.best.device.is_cpu:
        pytest.skip("this machine runs on its GPU")
    assert sum(report.gpu_status in m for m in window.messages) == 1, window.messages
    assert "running on the CPU" in report.gpu_status and "EP Error" not in report.gpu_status

    QTimer.singleShot(200, lambda: QApplication.activeModalWidget().accept())
    choose(window, "Tools", "Settings…")  # OK there reports the devices again: not the sentence
    assert sum(report.gpu_status in m for m in window.messages) == 1, window.messages
