"""Settings ▸ Devices: where jobs run — automatic, a device of this machine, or a Ray cluster —
and the cluster's address, with a Test button that joins it off the GUI thread and lists its
nodes, their GPUs and plugins (the lines ``studio doctor`` prints)."""

from __future__ import annotations

import os
import threading

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.cluster.address import CLUSTER_DEVICE_ID, ENVIRONMENT_VARIABLE, cluster_address
from studio.core.engine.runtime import RuntimeReport
from studio.errors import StudioError
from studio.host import Host
from studio.ui.plain import plain_label

START_HINT = (
    "Start a cluster on the GPU machines with `ray start --head --ray-client-server-port=10001` "
    "(and `ray start --address=HEAD:6379` on the others), each with Studio and the same plugins "
    "installed; then give ray://HEAD:10001 here. Jobs go to one worker per GPU."
)


class DevicesPage(QWidget):
    tested = Signal(object)  # the report's lines (list of str), or a StudioError

    def __init__(self, host: Host, report: RuntimeReport | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.device = QComboBox()
        self.device.setObjectName("device_combo")
        self.device.addItem("Automatic (the GPU when it really works)", "auto")
        probes = {p.device.id: p for p in report.devices} if report else {}
        for device in host.runtime.devices():
            probe = probes.get(device.id)
            label = device.name if probe is None or probe.usable else f"{device.name} — not usable: {probe.reason}"
            self.device.addItem(label, device.id)
        self.device.addItem("Ray cluster (the address below)", CLUSTER_DEVICE_ID)
        self.device.setCurrentIndex(max(self.device.findData(host.settings.device), 0))

        self.address = QLineEdit(host.settings.cluster_address)
        self.address.setObjectName("cluster_address")
        self.address.setPlaceholderText("ray://gpu-server:10001, gpu-server:6379, or auto")
        self.address.setClearButtonEnabled(True)
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("cluster_test")
        self.test_button.setToolTip("Join the cluster and list its nodes, their GPUs and plugins")
        self.test_button.clicked.connect(self.test_connection)
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        row.addWidget(self.test_button)
        env = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
        env_note = plain_label(
            f"{ENVIRONMENT_VARIABLE} is set to {env}: it is used while this is empty or auto." if env
            else f"Left empty, the {ENVIRONMENT_VARIABLE} environment variable is used when set, as Ray's own tools do."
        )
        env_note.setObjectName("cluster_env_note")
        self.problem = plain_label()
        self.problem.setObjectName("device_problem")
        self.problem.setStyleSheet("color: #ff7b72;")
        self.problem.hide()
        self.result = QPlainTextEdit()  # plain text: node names and plugin errors are not markup
        self.result.setObjectName("cluster_report")
        self.result.setReadOnly(True)
        self.result.setPlaceholderText(START_HINT)
        self.result.setMinimumHeight(120)
        self.tested.connect(self._show_test)

        form = QFormLayout()
        form.addRow("Run jobs on", self.device)
        form.addRow("Ray cluster", row)
        form.addRow("", env_note)
        for label in (env_note,):
            label.setWordWrap(True)
            label.setStyleSheet("color: #999;")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.result, 1)

    def test_connection(self) -> None:
        """Join the cluster at the address typed (not yet saved), off the GUI thread."""
        address = cluster_address(self.address.text())
        if address is None:
            self._show_test(StudioError("give the cluster's address first (ray://HOST:10001, HOST:6379 or auto)"))
            return
        busy = [job for job in self.host.runner.active() if job.device.id == CLUSTER_DEVICE_ID]
        if busy and address != self.host.cluster.address:  # the gateway joins one cluster at a time
            self._show_test(StudioError(f"{len(busy)} job(s) are running on the cluster; test another address once they end"))
            return
        self.test_button.setEnabled(False)
        self.result.setPlainText(f"Connecting to {address}…")
        self.problem.hide()

        def work() -> None:
            try:
                outcome: object = self.host.cluster.report(self.host, address)
            except StudioError as exc:
                outcome = exc
            except Exception as exc:  # never a traceback dialog from a test of an address
                outcome = StudioError(f"the test failed: {type(exc).__name__}: {exc}")
            try:
                self.tested.emit(outcome)
            except RuntimeError:  # the dialog was closed meanwhile
                return

        threading.Thread(target=work, name="studio-cluster-test", daemon=True).start()

    def _show_test(self, outcome: object) -> None:
        self.test_button.setEnabled(True)
        lines = [] if isinstance(outcome, StudioError) else list(outcome)  # type: ignore[call-overload]
        failed = str(outcome) if isinstance(outcome, StudioError) else next(
            (line.strip().removeprefix("not usable: ") for line in lines if line.strip().startswith("not usable:")), "")
        self.result.setPlainText("" if failed else "\n".join(lines))
        self.problem.setText(failed)
        self.problem.setVisible(bool(failed))

    def check(self) -> bool:
        """Whether the choice can be saved: the cluster needs an address."""
        if self.device.currentData() == CLUSTER_DEVICE_ID and cluster_address(self.address.text()) is None:
            self.problem.setText(f"Give the Ray cluster's address (or set {ENVIRONMENT_VARIABLE}) to run jobs on it.")
            self.problem.show()
            return False
        return True

    def apply(self) -> None:
        self.host.settings.cluster_address = self.address.text()
        self.host.settings.device = self.device.currentData()
