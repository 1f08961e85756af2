"""The window's layout: docks that close, come back through the View menu and reset; a layout
remembered across launches (and one that no longer applies ignored); and a canvas that gets
most of a laptop's window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QDockWidget, QTabBar

from studio.host import Host
from studio.settings import Settings
from studio.ui.app import create_window
from studio.ui.window.docks import GEOMETRY_KEY, STATE_KEY

RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
LEFT = Qt.DockWidgetArea.LeftDockWidgetArea


def dock(window, name: str) -> QDockWidget:
    found = window.findChild(QDockWidget, f"dock_{name}")
    assert found is not None, name
    return found


def click_close(qtbot, widget: QDockWidget) -> None:
    """The dock's own close button in its title bar, clicked."""
    button = widget.findChild(QAbstractButton, "qt_dockwidget_closebutton")
    assert button is not None and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def view_entry(window, name: str):
    """The View menu's entry named ``name``."""
    view = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "View")
    return next(a for a in view.actions() if a.text().replace("&", "") == name)


def layout_of(window) -> dict:
    """Where each dock is: its area, floating or not, shown or not, and what it is tabbed with."""
    return {
        d.objectName(): (window.dockWidgetArea(d), d.isFloating(), d.isVisible(), sorted(t.objectName() for t in window.tabifiedDockWidgets(d)))
        for d in window.findChildren(QDockWidget)
    }


def new_window(qtbot):
    win = create_window(host=Host())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    QApplication.processEvents()
    return win


def close(win) -> None:
    """Close as the user does (the layout is saved on the way out)."""
    win._closing = True
    win.probe_thread.join(20)
    win.close()


def test_a_closed_dock_comes_back_through_the_view_menu(window, qtbot, choose):
    jobs = dock(window, "jobs")
    jobs.raise_()  # its tab clicked
    qtbot.waitUntil(jobs.isVisible)
    click_close(qtbot, jobs)
    assert not jobs.isVisible()
    entry = view_entry(window, "Jobs")
    assert entry.isCheckable() and not entry.isChecked()
    choose(window, "View", "Jobs")
    qtbot.waitUntil(jobs.isVisible)
    assert entry.isChecked()
    choose(window, "View", "Generate")  # checked: hides it, as the tick says
    assert not dock(window, "generate").isVisible()


def test_reset_layout_puts_every_dock_back(window, qtbot, choose):
    default = layout_of(window)
    assert {area for area, *_ in default.values()} == {RIGHT}  # one column: the canvas has the rest
    text_docks = {"dock_story", "dock_context"}  # the text's own: shown on the Text tab only
    assert all(shown for name, (_, _, shown, _) in default.items() if name not in text_docks)
    assert not any(default[name][2] for name in text_docks)
    window.addDockWidget(LEFT, dock(window, "history"))  # dragged to the other side
    dock(window, "layers").setFloating(True)  # torn off
    click_close(qtbot, dock(window, "generate"))
    assert layout_of(window) != default

    choose(window, "View", "Reset layout")
    QApplication.processEvents()
    assert layout_of(window) == default


def test_the_layers_dock_shows_on_the_canvas_tab_only_and_keeps_the_users_choice(window, qtbot, choose):
    layers = dock(window, "layers")
    assert layers.isVisible()
    window.tabs.setCurrentWidget(window.text)
    assert not layers.isVisible() and dock(window, "generate").isVisible()
    qtbot.waitUntil(lambda: dock(window, "story").isVisible() and dock(window, "context").isVisible())  # in front, the first time
    window.tabs.setCurrentWidget(window.canvas)
    assert layers.isVisible()
    choose(window, "View", "Layers")  # hidden by the user
    window.tabs.setCurrentWidget(window.audio)
    window.tabs.setCurrentWidget(window.canvas)
    assert not layers.isVisible()  # the tabs do not undo the user's choice
    choose(window, "View", "Layers")
    assert layers.isVisible()


def test_the_layout_is_remembered_for_the_next_window(qtbot):
    first = new_window(qtbot)
    first.resize(720, 700)  # (the offscreen screen is 800 x 800)
    click_close(qtbot, dock(first, "generate"))
    first.addDockWidget(LEFT, dock(first, "history"))
    QApplication.processEvents()
    size = first.size()
    close(first)
    first.host.shutdown()

    second = new_window(qtbot)
    try:
        assert not dock(second, "generate").isVisible()
        assert second.dockWidgetArea(dock(second, "history")) == LEFT
        assert second.size() == size
    finally:
        close(second)
        second.host.shutdown()


def tab_bars_outside_the_docks(window) -> list:
    """Visible tab bars of tabbed docks that lie outside the docks' column (a stale one
    left by Qt sits at the window's top-left corner, over the menus)."""
    shown = [d for d in window.findChildren(QDockWidget) if not d.isFloating() and not d.visibleRegion().isEmpty()]
    column = min(d.geometry().left() for d in shown)  # (a tab behind another is "visible", far off-window)
    return [
        bar.geometry() for bar in window.findChildren(QTabBar)
        if bar.parent() is window and bar.isVisible() and bar.geometry().intersects(window.rect()) and bar.geometry().left() < column
    ]


def test_the_next_start_and_a_reset_leave_no_tab_bar_over_the_menus(qtbot, choose):
    first = new_window(qtbot)
    assert tab_bars_outside_the_docks(first) == []
    close(first)
    first.host.shutdown()

    second = new_window(qtbot)  # its layout restored from the first's
    try:
        assert second.tabifiedDockWidgets(dock(second, "jobs"))  # the tabs came back...
        assert tab_bars_outside_the_docks(second) == []  # ...and only where the docks are
        choose(second, "View", "Reset layout")
        QApplication.processEvents()
        assert tab_bars_outside_the_docks(second) == []
    finally:
        close(second)
        second.host.shutdown()


@pytest.mark.parametrize("broken", ["garbage", "other version", "off screen"])
def test_a_saved_layout_that_does_not_apply_is_ignored(qtbot, broken):
    first = new_window(qtbot)
    default = layout_of(first)
    click_close(qtbot, dock(first, "generate"))
    close(first)
    first.host.shutdown()
    settings = Settings()
    if broken == "garbage":
        settings.set_value(STATE_KEY, QByteArray(b"\x00\x01not a layout"))
    elif broken == "other version":  # a layout another Studio (another set of docks) saved
        state = first.saveState(1)
        settings.set_value(STATE_KEY, state)
    else:  # saved on a much larger monitor than this one: Qt's restoreGeometry fits it to this one
        probe = create_window(host=first.host)
        probe.setGeometry(0, 0, 9000, 6000)
        settings.set_value(GEOMETRY_KEY, probe.saveGeometry())
        probe._closing = True
        probe.probe_thread.join(20)
        probe.deleteLater()

    second = new_window(qtbot)
    try:
        if broken == "off screen":  # the window is brought onto this screen; the docks are as left
            assert not dock(second, "generate").isVisible()
        else:
            assert layout_of(second) == default  # the default, not a crash nor half a layout
        room = second.screen().availableGeometry()
        assert second.width() <= room.width() and second.height() <= room.height()
    finally:
        close(second)
        second.host.shutdown()


# -- the canvas's share of the window ----------------------------------------------------------


def canvas_share(tmp_path, width: int, height: int) -> dict:
    """The window started on a ``width`` x ``height`` screen, resized to the screen, with a
    picture on the canvas and one generated over it: the view's area over the window's, in a
    process of its own (the screen is the process's)."""
    screens = tmp_path / "screens.json"
    screens.write_text(json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    script = textwrap.dedent(
        f"""
        import json
        import numpy as np
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from studio.core.image.document import Layer
        from studio.ui.app import create_window
        window = create_window()
        window.show()
        for _ in range(3):
            app.processEvents()
        window.resize({width}, {height})
        window.canvas.add_layer(Layer("picture", np.full((768, 1024, 4), 200, np.uint8)))
        done = []
        window.bridge.result.connect(lambda job, result: done.append(result))
        window.generate_panel.button.click()  # a picture generated (CPPN): the results strip opens too
        while not done:
            app.processEvents()
        for _ in range(3):
            app.processEvents()
        view = window.canvas.view
        print(json.dumps({{"share": view.width() * view.height() / (window.width() * window.height()), "view": [view.width(), view.height()]}}))
        window.probe_thread.join(20)
        window._closing = True
        window.close()
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screens}", STUDIO_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_canvas_gets_most_of_a_laptop_window(tmp_path):
    measured = canvas_share(tmp_path, 1366, 768)
    assert measured["share"] >= 0.60, measured
