"""The status bar's permanent labels and what feeds them.

The device label shows where generators run; onnxruntime's words about it come from a probe
on a thread of its own, so the window shows at once. On the Text tab two more labels show
what a writer watches: the last generation's speed and the document's size. At start-up
the status bar also names the plugins and model folders that failed to load.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from studio.core.engine.runtime import RuntimeReport
from studio.core.text.document import counts_label
from studio.errors import StudioError
from studio.ui.plain import plain_label, plain_tip
from studio.ui.window.device_status import device_summary

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

log = logging.getLogger(__name__)


class StatusBarLabels(QObject):
    """The device label (and the probe behind it) and the Text tab's speed and size labels."""

    report_ready = Signal(object)  # RuntimeReport (or the exception), from the probe thread

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self._said_gpu_status = False
        self.device_label = plain_label("Checking devices…")  # onnxruntime's words may follow
        self.device_label.setObjectName("device_label")
        self.text_stats_label = QLabel()
        self.text_stats_label.setObjectName("text_stats_label")
        self.text_stats_label.setToolTip("Tokens per second and time to the first token of the last generation")
        self.text_counts_label = QLabel(counts_label(""))
        self.text_counts_label.setObjectName("text_counts_label")
        window.text.stats_changed.connect(self.text_stats_label.setText)
        window.text.counts_changed.connect(self.text_counts_label.setText)
        for label in (self.text_stats_label, self.text_counts_label):
            label.setContentsMargins(10, 0, 10, 0)  # apart from each other and the device label
        bar = window.statusBar()
        bar.addPermanentWidget(self.text_stats_label)
        bar.addPermanentWidget(self.text_counts_label)
        bar.addPermanentWidget(self.device_label)
        self.report_ready.connect(self.on_report)
        self.probe_thread = threading.Thread(target=self._probe_devices, name="studio-probe", daemon=True)

    def show_text_labels(self, on_text: bool) -> None:
        """The speed and size labels are the Text tab's: hidden on the others."""
        for label in (self.text_stats_label, self.text_counts_label):
            label.setVisible(on_text)

    def warn_about_failures(self) -> None:
        host = self.window.host
        failed = host.plugins.failed()
        broken_models = [m for m in host.plugins.model_folders if not m.ok]
        if failed or broken_models:
            names = ", ".join(p.name for p in failed) + (", " if failed and broken_models else "")
            names += ", ".join(m.path.name for m in broken_models)
            self.window.statusBar().showMessage(f"Left out because they failed to load: {names} — see Tools ▸ Plugins", 15000)

    # -- devices -------------------------------------------------------------------------

    def start_probe(self) -> None:
        self.probe_thread.start()

    def _probe_devices(self) -> None:
        try:
            report = self.window.host.runtime.report()
        except StudioError as exc:
            log.warning("device probe failed: %s", exc)
            report = exc
        except Exception as exc:  # never let a probe failure take the window down
            log.exception("device probe failed")
            report = exc
        self.report_ready.emit(report)

    def on_report(self, report) -> None:
        if not isinstance(report, RuntimeReport):
            self.device_label.setText(f"onnxruntime unavailable: {report}")
            return
        window = self.window
        window.report = report
        device = window.host.device()
        text, tip = device_summary(report, device)
        self.device_label.setText(text)
        self.device_label.setToolTip(plain_tip(tip))
        if device.is_cpu and report.gpu_reason and not self._said_gpu_status:
            self._said_gpu_status = True  # once a session, plainly (Settings ▸ OK reports again)
            current = window.statusBar().currentMessage()  # e.g. plugins left out: keep it in view
            window.statusBar().showMessage(f"{current} · {report.gpu_status}" if current else report.gpu_status, 15000)
