"""Settings ▸ Devices: a painter points Studio at the studio's Ray cluster, tests it, and
generates on it from the window as before; a wrong address is said plainly, never a hang."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QTabWidget

from ray_cluster import free_port, ray_or_skip
from studio.core.engine.jobs import JobState

ray_or_skip()


def in_settings(window, qtbot, choose, act) -> None:
    """Tools ▸ Settings… as a person opens it; ``act(dialog)`` once it is up (it ends it)."""
    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, answer)
            return
        try:
            act(dialog)
        finally:
            if dialog.isVisible():
                dialog.reject()

    QTimer.singleShot(20, answer)
    choose(window, "Tools", "Settings…")


def devices_tab(dialog):
    tabs = dialog.findChild(QTabWidget, "settings_tabs")
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "Devices"))
    return tabs.currentWidget()


def click_ok(qtbot, dialog):
    box = dialog.findChild(QDialogButtonBox)
    qtbot.mouseClick(box.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def test_choose_the_cluster_test_it_and_generate_on_it(window, qtbot, choose, ray_cluster):
    qtbot.waitUntil(lambda: window.report is not None, timeout=30000)  # the devices probed
    seen = {}

    def act(dialog):
        page = devices_tab(dialog)
        combo = page.findChild(type(dialog.device), "device_combo")
        combo.setFocus()
        qtbot.keyClicks(combo, "Ray")  # typed as a person picks from a list by its first letters
        assert combo.currentData() == "ray", combo.currentText()
        click_ok(qtbot, dialog)  # no address yet: refused, said, and the dialog stays
        problem = page.findChild(QLabel, "device_problem")
        assert dialog.isVisible() and "Give the Ray cluster's address" in problem.text()
        address = page.findChild(QLineEdit, "cluster_address")
        qtbot.keyClicks(address, ray_cluster.direct)
        qtbot.mouseClick(page.findChild(QPushButton, "cluster_test"), Qt.MouseButton.LeftButton)
        report = page.findChild(QPlainTextEdit, "cluster_report")
        qtbot.waitUntil(lambda: "worker(s)" in report.toPlainText() or problem.isVisible(), timeout=120000)
        seen["report"] = report.toPlainText()
        click_ok(qtbot, dialog)
        seen["closed"] = not dialog.isVisible()

    in_settings(window, qtbot, choose, act)
    assert seen["closed"], "OK saves the cluster once it has an address"
    assert "2 worker(s)" in seen["report"] and "plugins: chorale" in seen["report"], seen["report"]
    assert window.host.settings.device == "ray" and window.host.settings.cluster_address == ray_cluster.direct
    assert "Ray cluster" in window.status_labels.device_label.text()

    window.generate_panel.select("cppn")
    for name, value in (("width", 40), ("height", 32)):
        window.generate_panel.form.widgets[name].spin.setValue(value)
    with qtbot.waitSignal(window.bridge.result, timeout=120000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    job = next(j for j in window.host.runner.jobs() if j.generator.id == "cppn")
    qtbot.waitUntil(lambda: job.state.done, timeout=10000)  # the result is heard just before the end
    assert job.state is JobState.FINISHED and job.device.id == "ray" and job.result.info["node"]
    here = window.host.runner.submit(job.generator, job.request)
    assert here.wait(60)
    layer = window.canvas.document.layers[-1]
    assert layer.generator == "cppn" and np.array_equal(layer.pixels[..., :3], here.result.value[..., :3])


def test_an_unreachable_address_is_said_within_seconds(window, qtbot, choose):
    seen = {}

    def act(dialog):
        page = devices_tab(dialog)
        address = page.findChild(QLineEdit, "cluster_address")
        qtbot.keyClicks(address, f"ray://127.0.0.1:{free_port()}")
        qtbot.mouseClick(page.findChild(QPushButton, "cluster_test"), Qt.MouseButton.LeftButton)
        problem = page.findChild(QLabel, "device_problem")
        qtbot.waitUntil(problem.isVisible, timeout=10000)
        seen["problem"] = problem.text()
        qtbot.keyClick(address, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select it all, type over it
        qtbot.keyClicks(address, "gpu box")
        assert address.text() == "gpu box"
        qtbot.mouseClick(page.findChild(QPushButton, "cluster_test"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "not one Ray understands" in problem.text(), timeout=5000)

    in_settings(window, qtbot, choose, act)
    assert "cannot reach the Ray cluster" in seen["problem"] and "Traceback" not in seen["problem"]
    assert window.host.settings.cluster_address == "", "Cancel keeps what was saved"
