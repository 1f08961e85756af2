"""Soak: hundreds of generations with undo and redo in one process — does anything grow?

    python bench/soak.py                          # 200 generations, warm-up 20 (the issue's figure)
    python bench/soak.py --discard                # ...each take undone at the end: the documents stay empty
    python bench/soak.py --undo-limit 10 --trace  # cap the undo stack; tracemalloc top growth
    python bench/soak.py --generations 30 --json  # the short run tests/ui/test_soak.py makes
    python bench/soak.py --smoke                  # 4 generations: checks that the benchmark works

The real window (``studio.ui.app.create_window``, offscreen Qt, a scratch STUDIO_HOME) runs
the built-in generators in turn — CPPN at 256 px, Shakespeare for a few dozen tokens, a
one-bar chorale — each through ``MainWindow.generate`` with the Generate panel's values
(the generator's defaults) and a few overridden, and then undoes and redoes it as a user
would: the window's undo stack for the canvas and the timeline, the editor's own document
undo for text. The script runs inside ``app.exec()`` (a timer steps it), so deferred
deletes and queued signals are handled by the real event loop, not by a test's loop.

Resident memory (VmRSS) and the live threads (Python's and the kernel's count, which
includes onnxruntime's and Qt's native threads) are read from /proc/self/status after a
warm-up (sessions loaded, caches filled) and at the end. Flat after the warm-up is the goal;
the documents themselves grow by design in the default mode (every take stays on the
canvas or timeline after the redo), so the table also prints what the documents hold
("content") and the growth that content does not explain. ``--discard`` ends every
generation undone, so the documents stay empty and any growth is a leak.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if "STUDIO_HOME" not in os.environ:  # never the user's profile
    os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="studio-soak-home-")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import log  # noqa: E402 - after the environment above

#: The rotation: generator id -> the values the panel's defaults are overridden with.
ROTATION = (
    ("cppn", {"width": 256, "height": 256}),
    ("shakespeare", {"max_new_tokens": 32}),
    ("chorale", {"bars": 1}),
)
JOB_TIMEOUT_S = 120.0
OPENING_TEXT = "ROMEO:\n"


def proc_status() -> dict[str, int]:
    """VmRSS (kB) and Threads from /proc/self/status (psutil is not a dependency)."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            values[key] = int(rest.split()[0])
    return values


@dataclass
class Sample:
    generations: int
    rss_mb: float
    threads_python: int
    threads_native: int
    content_mb: float  # what the documents hold: layer pixels, clip audio (each Audio once), text
    undo_steps: int  # the window's undo stack plus the editor's document undo steps
    seconds: float  # since the first generation was submitted


@dataclass
class SoakReport:
    generations: int
    warmup: int
    mode: str
    undo_limit: int
    text_kb: int = 0
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    per_generator_s: dict[str, float] = field(default_factory=dict)  # mean seconds per generation
    trace: list[str] = field(default_factory=list)  # tracemalloc's top growth, when asked

    def at(self, generations: int) -> Sample:
        return next(s for s in self.samples if s.generations == generations)

    @property
    def warm(self) -> Sample:
        return self.at(self.warmup)

    @property
    def end(self) -> Sample:
        return self.samples[-1]


def content_mb(window) -> float:
    """The bytes the three documents hold: what legitimately grows as takes are kept."""
    layers = sum(layer.pixels.nbytes for layer in window.canvas.document.layers)
    audio = {id(clip.audio): clip.audio.samples.nbytes for clip in window.audio.timeline.clips}
    text = len(window.text.editor.toPlainText()) * 2  # QString: UTF-16
    return (layers + sum(audio.values()) + text) / 2**20


def outputs(window, kind: str) -> int:
    """How many outputs of ``kind`` the documents show: layers, clips, text characters."""
    if kind == "image":
        return len(window.canvas.document.layers)
    if kind == "audio":
        return len(window.audio.timeline.clips)
    return len(window.text.editor.toPlainText())


def filler(kilobytes: int) -> str:
    """About ``kilobytes`` of prose-like text (a long manuscript the writer continues)."""
    line = "Now is the winter of our discontent made glorious summer by this sun of York.\n"
    return line * (kilobytes * 1024 // len(line))


class Driver:
    """Steps a script inside the running event loop. The script yields conditions; it goes
    on when the condition holds, so the loop keeps delivering signals, repaints and deletes."""

    def __init__(self, app, script: Iterator[Callable[[], bool]], timeout_s: float = JOB_TIMEOUT_S) -> None:
        from PySide6.QtCore import QTimer

        self.app = app
        self.script = script
        self.timeout_s = timeout_s
        self.waiting: Callable[[], bool] | None = None
        self.deadline = 0.0
        self.error: BaseException | None = None
        self.timer = QTimer()
        self.timer.setInterval(2)
        self.timer.timeout.connect(self.tick)

    def run(self) -> None:
        self.timer.start()
        self.app.exec()

    def tick(self) -> None:
        try:
            while self.waiting is None or self.waiting():
                self.waiting = next(self.script)
                self.deadline = time.monotonic() + self.timeout_s
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"a step waited more than {self.timeout_s:.0f} s")
        except StopIteration:
            self._stop()
        except BaseException as exc:  # noqa: BLE001 - reported by soak(), never lost in a slot
            self.error = exc
            self._stop()

    def _stop(self) -> None:
        self.timer.stop()
        self.app.exit(0)  # not quit(): that first asks every window to close, and an unsaved one says no


def next_tick() -> Callable[[], bool]:
    """A condition that holds from the loop's next turn: lets paints and posted events run."""
    turns = [0]

    def passed() -> bool:
        turns[0] += 1
        return turns[0] > 1

    return passed


def soak(
    generations: int = 200,
    warmup: int = 20,
    every: int = 20,
    discard: bool = False,
    undo_limit: int = 0,
    trace: bool = False,
    text_kb: int = 0,
) -> SoakReport:
    """Run the soak in this process and return its samples (the window is closed after)."""
    from studio.host import Host
    from studio.ui.app import application, create_window

    app = application()
    window = create_window(host=Host())
    window.show()
    if undo_limit:
        window.undo_stack.setUndoLimit(undo_limit)  # only possible while the stack is empty
    report = SoakReport(generations, warmup, "discard" if discard else "keep", undo_limit, text_kb)
    ended: set[int] = set()
    failed: dict[int, str] = {}

    def on_state(job, state, message) -> None:
        if state.done:
            ended.add(job.id)
            if state.name != "FINISHED":
                failed[job.id] = f"{job.generator.id} {state.name.lower()}: {message}"

    window.bridge.state_changed.connect(on_state)
    editor = window.text.editor
    # Shakespeare continues a speech, not an empty page; --text-kb: a manuscript's worth before it.
    editor.setPlainText(filler(text_kb) + OPENING_TEXT)
    spent: dict[str, list[float]] = {gid: [] for gid, _ in ROTATION}
    began = [0.0]

    def sample(done: int) -> None:
        gc.collect()
        status = proc_status()
        steps = window.undo_stack.count() + editor.document().availableUndoSteps()
        report.samples.append(
            Sample(done, status["VmRSS"] / 1024, threading.active_count(), status["Threads"], content_mb(window), steps, time.monotonic() - began[0])
        )
        log(f"{done:4d} generations: RSS {status['VmRSS'] / 1024:7.1f} MB, threads {threading.active_count()}/{status['Threads']}, content {report.samples[-1].content_mb:6.1f} MB")

    def undo(kind: str) -> None:
        if kind == "text":
            editor.undo()
        else:
            window.undo_stack.undo()

    def redo(kind: str) -> None:
        if kind == "text":
            editor.redo()
        else:
            window.undo_stack.redo()

    def script() -> Iterator[Callable[[], bool]]:
        yield lambda: not window.probe_thread.is_alive()  # the device probe's thread has ended
        began[0] = time.monotonic()
        for number in range(1, generations + 1):
            generator_id, overrides = ROTATION[(number - 1) % len(ROTATION)]
            kind = window.host.generators[generator_id].kind
            panel = window.generate_panel
            panel.select(generator_id)
            values = {**panel.form.values(), **overrides, "seed": number}
            if kind == "text":
                editor.moveCursor(editor.textCursor().MoveOperation.End)
            before = outputs(window, kind)
            start = time.monotonic()
            job = window.generate(generator_id, values)
            if job is None:
                report.failures.append(f"generation {number} ({generator_id}) was refused: {window.statusBar().currentMessage()}")
                continue
            yield lambda: job.id in ended
            yield next_tick()  # the result's paint
            spent[generator_id].append(time.monotonic() - start)
            if job.id in failed:
                report.failures.append(f"generation {number}: {failed[job.id]}")
                continue
            made = outputs(window, kind)
            if made <= before:
                report.failures.append(f"generation {number} ({generator_id}) finished but nothing appeared")
            undo(kind)
            yield next_tick()
            if outputs(window, kind) != before:
                report.failures.append(f"generation {number} ({generator_id}): undo left {outputs(window, kind)} (expected {before})")
            redo(kind)
            yield next_tick()
            if outputs(window, kind) != made:
                report.failures.append(f"generation {number} ({generator_id}): redo gave {outputs(window, kind)} (expected {made})")
            if discard:
                undo(kind)  # the next edit drops this redo step, and the take with it
                yield next_tick()
            if number == warmup or number % every == 0 or number == generations:
                sample(number)
            if number == warmup and trace:
                tracemalloc.start(12)  # from here on: what is allocated after the warm-up and stays
                snapshots.append(tracemalloc.take_snapshot())
        if trace and snapshots:
            gc.collect()
            report.trace = top_growth(snapshots[0], tracemalloc.take_snapshot())
            tracemalloc.stop()

    snapshots: list = []
    driver = Driver(app, script())
    driver.run()
    report.per_generator_s = {gid: sum(s) / len(s) for gid, s in spent.items() if s}
    editor.document().setModified(False)  # nothing to save: no question on close
    window.audio.shutdown()
    window.host.shutdown()
    window.probe_thread.join(10)
    window.close()
    window.deleteLater()
    if driver.error is not None:
        raise driver.error
    return report


def top_growth(before, after, limit: int = 15) -> list[str]:
    """tracemalloc's biggest growth between two snapshots, by line, with the allocating stack."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")]
    stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "traceback")
    lines = []
    for stat in stats[:limit]:
        if stat.size_diff <= 0:
            continue
        lines.append(f"{stat.size_diff / 2**20:+8.2f} MB in {stat.count_diff:+6d} blocks")
        for frame in list(stat.traceback)[-4:][::-1]:  # the innermost frames, outermost last
            lines.append(f"      {_short(frame.filename)}:{frame.lineno}")
    return lines


def _short(filename: str) -> str:
    for marker in ("/studio/", "/plugins/", "/site-packages/", "/bench/"):
        if marker in filename:
            return marker.strip("/") + "/" + filename.split(marker, 1)[1]
    return filename


def table(report: SoakReport) -> str:
    warm, end = report.warm, report.end
    span = max(end.generations - warm.generations, 1)
    growth = end.rss_mb - warm.rss_mb
    content = end.content_mb - warm.content_mb
    rows = [
        ("generations", f"{report.generations} (warm-up {report.warmup}; mode {report.mode}"
         + (f"; undo limit {report.undo_limit}" if report.undo_limit else "")
         + (f"; text starts at {report.text_kb} kB" if report.text_kb else "") + ")"),
        ("RSS at warm-up", f"{warm.rss_mb:.1f} MB"),
        ("RSS at end", f"{end.rss_mb:.1f} MB"),
        ("growth", f"{growth:+.1f} MB  ({growth / span * 100:+.1f} MB per 100 generations)"),
        ("content growth", f"{content:+.1f} MB  (layers, clips' audio, text the documents hold)"),
        ("growth not content", f"{growth - content:+.1f} MB  ({(growth - content) / span * 100:+.1f} MB per 100 generations)"),
        ("undo steps (window + text) warm-up/end", f"{warm.undo_steps} / {end.undo_steps}"),
        ("threads (Python)", f"{warm.threads_python} / {end.threads_python}"),
        ("threads (native, /proc)", f"{warm.threads_native} / {end.threads_native}"),
        ("time", f"{end.seconds:.1f} s ({end.seconds / end.generations:.2f} s per generation; "
         + ", ".join(f"{gid} {s:.2f} s" for gid, s in report.per_generator_s.items()) + ")"),
        ("failures", str(len(report.failures))),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines.append("")
    lines.append(f"{'gen':>5} {'RSS MB':>8} {'content MB':>11} {'undo':>5} {'thr py/native':>14} {'time s':>7}")
    for s in report.samples:
        lines.append(f"{s.generations:5d} {s.rss_mb:8.1f} {s.content_mb:11.1f} {s.undo_steps:5d} {s.threads_python:>6}/{s.threads_native:<7} {s.seconds:7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20, help="generations before the first measurement")
    parser.add_argument("--every", type=int, default=20, help="a sample every N generations")
    parser.add_argument("--discard", action="store_true", help="end each generation undone: the documents stay empty")
    parser.add_argument("--undo-limit", type=int, default=0, help="QUndoStack.setUndoLimit for the window's stack (0: none)")
    parser.add_argument("--trace", action="store_true", help="tracemalloc from the warm-up: where the growth was allocated")
    parser.add_argument("--text-kb", type=int, default=0, help="start the text with this many kB (a long manuscript)")
    parser.add_argument("--json", action="store_true", help="the report as one JSON line on stdout (for tests)")
    parser.add_argument("--smoke", action="store_true", help="4 generations, warm-up 2: checks that the benchmark works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.generations, args.warmup, args.every = 4, 2, 2
    if not 0 < args.warmup < args.generations:
        parser.error("--warmup must be between 0 and --generations")
    report = soak(args.generations, args.warmup, args.every, args.discard, args.undo_limit, args.trace, args.text_kb)
    print(table(report), file=sys.stderr if args.json else sys.stdout)
    for failure in report.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    if report.trace:
        print("\ntracemalloc: the largest growth from the warm-up to the end", file=sys.stderr if args.json else sys.stdout)
        print("\n".join(report.trace), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(asdict(report)))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
