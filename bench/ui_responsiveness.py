"""UI responsiveness and start-up, printed side by side with their goals.

    python bench/ui_responsiveness.py            # offscreen Qt unless DISPLAY is set
    python bench/ui_responsiveness.py --smoke    # 256 px, one start-up: checks that the benchmark works

1. Heartbeat: a 5 ms timer on the GUI thread of the real window. Its lateness (how much
   later than due each tick fires) is measured while idle, while the CPPN model loads
   (fresh session) and while a 2048x2048 CPPN job runs and lands on the canvas.
   Goal: p99 < 16 ms, max < 50 ms.
2. Start-up: a fresh process, from spawn to the window shown and to the first generated
   layer. Goal: < 1.5 s to the window.

Each window is closed as a person would who answers "Don't save" to the unsaved-project
question (the generated layer is scratch): a plain close would wait on that question forever.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
os.environ.setdefault("STUDIO_HOME", os.path.join(tempfile.gettempdir(), "studio-bench-home"))

HEARTBEAT_MS = 5
GOAL_P99_MS, GOAL_MAX_MS, GOAL_STARTUP_S = 16.0, 50.0, 1.5
SIZE = 2048
SMOKE_SIZE = 256
START_TIMEOUT_S = 120


def close_discarding(window) -> None:
    """Close ``window`` through its own question, answered "Don't save" (Discard)."""
    from PySide6.QtWidgets import QMessageBox

    window.close()  # the generated layer left the project unsaved: this asks first (not modal)
    box = window.findChild(QMessageBox, "unsaved_project")
    if box is not None and box.isVisible():
        box.button(QMessageBox.StandardButton.Discard).click()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def heartbeat_phases(size: int = SIZE, threads: int | None = None) -> dict[str, list[float]]:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer, Qt

    from studio.core.engine.generators import Progress
    from studio.core.engine.jobs import StateChanged
    from studio.core.engine.runtime import Runtime
    from studio.host import Host
    from studio.ui.app import application, create_window

    application()
    # threads=None: the window's own default (runtime.window_cpu_threads), as a person gets it
    window = create_window(host=Host(runtime=Runtime(cpu_threads=threads) if threads else None))
    window.show()
    phases: dict[str, list[float]] = {"idle": [], "model load": [], f"generate {size}x{size}": [], "result lands": []}
    phase = ["idle"]
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        phases[phase[0]].append(max(0.0, (now - last[0]) / 1e6 - HEARTBEAT_MS))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    timer.start(HEARTBEAT_MS)

    def wait(seconds: float, until=lambda: False) -> None:
        loop = QEventLoop()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            QTimer.singleShot(HEARTBEAT_MS, loop.quit)
            loop.exec()

    wait(1.5)  # the device probe runs in the background at start-up: let it settle first
    phases["idle"].clear()
    wait(1.0)

    def follow(job, event) -> None:  # worker thread: only flips the phase label
        if isinstance(event, Progress) and event.total > 0:
            phase[0] = f"generate {size}x{size}"
        elif isinstance(event, StateChanged) and event.state.done:
            phase[0] = "result lands"

    window.host.runtime.clear()  # a fresh session, so the model really loads
    phase[0] = "model load"
    job = window.host.submit("cppn", {"seed": 1, "width": size, "height": size}, listeners=[window.bridge.listener, follow])
    window.jobs_panel.add(job)
    wait(120, until=lambda: job.state.done)
    wait(0.5)  # the result's layer, thumbnail and repaint happen here
    timer.stop()
    assert job.state.name == "FINISHED", job.message
    assert len(window.canvas.document.layers) == 1
    close_discarding(window)
    return phases


def startup_child() -> None:
    """Run in a fresh process: print when the window was shown and the first layer landed."""
    spawned = float(os.environ["STUDIO_BENCH_SPAWNED"])
    from PySide6.QtCore import QTimer

    from studio.ui.app import application, create_window

    app = application()
    window = create_window()
    marks: dict[str, float] = {}

    def shown() -> None:
        marks["window"] = time.time() - spawned
        window.generate("cppn", {"seed": 1, "width": 512, "height": 512})

    def landed(*_args) -> None:
        marks["first layer"] = time.time() - spawned
        print(json.dumps(marks), flush=True)
        close_discarding(window)
        app.quit()

    window.bridge.result.connect(lambda *a: QTimer.singleShot(0, landed))
    window.show()
    QTimer.singleShot(0, shown)  # runs once the event loop has shown the window
    app.exec()


def startup(runs: int = 5) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"window": [], "first layer": []}
    for _ in range(runs):
        env = dict(os.environ, STUDIO_BENCH_SPAWNED=repr(time.time()))
        try:
            out = subprocess.run([sys.executable, __file__, "--startup-child"], env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise SystemExit(f"the start-up child did not exit within {START_TIMEOUT_S} s:\n{exc.stderr or ''}")
        line = [l for l in out.stdout.splitlines() if l.startswith("{")]
        if not line:
            raise SystemExit(f"start-up child failed:\n{out.stderr}")
        for key, value in json.loads(line[-1]).items():
            results[key].append(value)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=SIZE, help="the CPPN picture generated while the heartbeat ticks")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes timed for start-up")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SIZE} px, one start-up: checks that the benchmark works")
    parser.add_argument("--threads", type=int, help="onnxruntime threads for the job (default: the window's own default)")
    parser.add_argument("--no-startup", action="store_true", help="the heartbeat only (comparing thread counts)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.runs = SMOKE_SIZE, 1
    from studio.core.engine.runtime import Runtime

    threads = Runtime(cpu_threads=args.threads).cpu_threads
    print(f"Studio UI benchmark — {os.cpu_count()} cores, {threads} onnxruntime thread(s), Qt platform {os.environ['QT_QPA_PLATFORM']}\n")
    phases = heartbeat_phases(args.size, args.threads)
    print(f"Heartbeat lateness on the GUI thread ({HEARTBEAT_MS} ms timer), ms")
    print(f"{'phase':<22}{'ticks':>7}{'p50':>8}{'p99':>8}{'max':>8}   {'p99/goal':>9}{'max/goal':>9}")
    for name, values in phases.items():
        p99, worst = percentile(values, 99), max(values) if values else float("nan")
        print(f"{name:<22}{len(values):>7}{percentile(values, 50):>8.2f}{p99:>8.2f}{worst:>8.2f}   {p99 / GOAL_P99_MS:>9.2f}{worst / GOAL_MAX_MS:>9.2f}")
    print(f"goal: p99 < {GOAL_P99_MS:g} ms, max < {GOAL_MAX_MS:g} ms (ratios < 1 meet it)\n")
    if args.no_startup:
        return

    times = startup(args.runs)
    print(f"Start-up from process spawn, s (median of {args.runs} fresh processes)")
    print(f"{'to':<22}{'median':>8}{'min':>8}{'max':>8}   {'median/goal':>11}")
    for name, values in times.items():
        ratio = f"{statistics.median(values) / GOAL_STARTUP_S:>11.2f}" if name == "window" else f"{'':>11}"
        print(f"{name:<22}{statistics.median(values):>8.3f}{min(values):>8.3f}{max(values):>8.3f}   {ratio}")
    print(f"goal: window < {GOAL_STARTUP_S:g} s")


if __name__ == "__main__":
    if "--startup-child" in sys.argv:
        startup_child()
    else:
        main()
