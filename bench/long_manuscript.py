"""A long manuscript in the editor: opening, typing, scrolling and streaming into 1 MB of prose.

    python bench/long_manuscript.py                 # a 1 MB (about 300-page) Markdown manuscript
    python bench/long_manuscript.py --mb 4          # a larger one
    python bench/long_manuscript.py --no-plain      # Studio only, not the bare QPlainTextEdit too
    python bench/long_manuscript.py --smoke         # 64 kB, one place typed: what tests/test_bench_smoke.py runs

The real window (``studio.ui.app.create_window``, offscreen Qt, a scratch STUDIO_HOME) with a
manuscript made deterministically (chapter headings, narration, dialogue, a little *emphasis*,
as a novelist's Markdown draft has), through a person's roads:

1. Open: File ▸ Open project (a project holding it, a thousand generated passages marked) and
   File ▸ Open text file (the .md manuscript), each timed from the menu entry to the text
   painted and the window answering again (a zero-delay timer firing); then the lateness of
   the GUI thread for the second after it, while what is deferred (counts, History) catches up.
2. Typing: a phrase typed with real key events (``QTest.keyClick``) at the end, in the middle
   and at the start, at a fast typist's pace with pauses (so deferred work runs too).
3. Scrolling: Page Down through the document, then the scroll bar dragged end to end.
4. Streaming: a text generator registered as a plugin yields 1,000 word-sized chunks at 200 a
   second (a fast local model) at the end of the manuscript and in the middle of a paragraph
   half-way through it, then as fast as it can (as ``bench/text_streaming.py`` does with
   characters) at the end; each checked to have landed whole where it belongs.

Throughout, a 4 ms precise timer ticks on the GUI thread; its lateness (actual interval - 4 ms)
is what a writer feels as a window that stops answering. Printed per phase: p50 / p99 / max
lateness, the time per key or per page, and the goals as ratios (below 1 meets it): open < 1 s,
p99 < 16 ms. The same phases on a bare ``QPlainTextEdit`` holding the same text (no
highlighter, no counts, no window around it) show what the toolkit itself costs.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_HOME", os.path.join(tempfile.gettempdir(), "studio-bench-manuscript-home"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import studio  # noqa: E402
from text_streaming import HEARTBEAT_MS, heartbeat, percentile  # noqa: E402  bench/ is the script's folder

GOAL_OPEN_S, GOAL_P99_MS = 1.0, 16.0
KEY_INTERVAL_MS = 60  # a fast typist: 200 words a minute
PHRASE = "She said nothing for a long while. "
STREAM_WORDS = 1000
STREAM_RATE = 200  # tokens a second: a fast local model


# -- the manuscript ---------------------------------------------------------------------------

NAMES = ("Mara", "Tobias", "Ilse", "the captain", "Old Wren", "Jonah", "Edda", "the stranger")
SUBJECTS = ("The rain", "The harbour", "A lamp", "The road north", "Her letter", "The house", "Morning", "The wind off the marsh")
VERBS = ("pressed against", "wandered past", "settled over", "hid", "circled", "remembered", "leaned toward", "swallowed")
OBJECTS = ("the shuttered windows", "the long grey pier", "a table scarred by knives", "the last of the light",
           "the ledger nobody read", "the smell of tar and salt", "a door left open", "the bells of Saint Aldric")
CLAUSES = ("as if it had somewhere better to be", "while the kettle ticked on the stove", "and nobody said a word",
           "though the tide was already turning", "before the clocks agreed on the hour", "in the way old things do")
SAID = ("said", "whispered", "asked", "muttered", "called", "answered")
LINES = ("We should have left before the frost.", "You never told me about the boat.", "Is that all you kept?",
         "Put the lamp out, they'll see it from the hill.", "I counted them twice. There were seven.",
         "Don't look at me like that.", "The letter was never meant for you.", "How far is it to the ford?")


def _sentence(rng: random.Random) -> str:
    sentence = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    if rng.random() < 0.5:
        sentence += f", {rng.choice(CLAUSES)}"
    if rng.random() < 0.08:
        sentence += f", *{rng.choice(('again', 'always', 'never', 'still'))}*"
    return sentence + "."


def _paragraph(rng: random.Random) -> str:
    if rng.random() < 0.3:  # dialogue
        line = rng.choice(LINES)
        return f"\u201c{line}\u201d {rng.choice(NAMES).capitalize()} {rng.choice(SAID)}. " + " ".join(_sentence(rng) for _ in range(rng.randint(0, 2)))
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 9)))


def manuscript(size: int, seed: int = 16) -> str:
    """About ``size`` characters of a novel in Markdown, the same every time: a title, then
    chapters (``# Chapter N``) of blank-line-separated paragraphs, a third of them dialogue,
    some with a scene break (``* * *``) or **bold** word, as a draft has."""
    rng = random.Random(seed)
    parts = ["# The Salt Ledger", ""]
    length, chapter = 0, 0
    while length < size:
        chapter += 1
        parts += [f"## Chapter {chapter}", ""]
        for n in range(rng.randint(25, 45)):
            paragraph = _paragraph(rng)
            if rng.random() < 0.03:
                paragraph = f"**{rng.choice(NAMES).capitalize()}** " + paragraph
            parts += [paragraph, ""]
            if n and n % 15 == 0:
                parts += ["* * *", ""]
            length += len(paragraph) + 2
    return "\n".join(parts)[:size].rstrip() + "\n"


# -- driving the GUI thread ------------------------------------------------------------------

def run_steps(steps) -> tuple[list[float], list[float]]:
    """Run ``steps``, (callable, ms to wait after it) pairs, from the event loop while the
    heartbeat ticks; returns (lateness per tick, seconds per step)."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    late, timer = heartbeat()
    costs: list[float] = []
    loop = QEventLoop()
    pending = list(steps)
    pace = QTimer(singleShot=True)
    pace.setTimerType(Qt.TimerType.PreciseTimer)

    def next_step() -> None:
        if not pending:
            QTimer.singleShot(300, loop.quit)  # and what they left for later (counts, History) runs
            return
        step, delay = pending.pop(0)
        began = time.perf_counter()
        step()
        costs.append(time.perf_counter() - began)
        pace.start(int(delay))

    pace.timeout.connect(next_step)
    pace.start(0)
    loop.exec()
    timer.stop()
    return late, costs


def wait(seconds: float, until=lambda: False) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        QTimer.singleShot(HEARTBEAT_MS, loop.quit)
        loop.exec()


def settle(seconds: float = 0.5) -> list[float]:
    """Lateness while the window catches up with deferred work for ``seconds``."""
    late, timer = heartbeat()
    wait(seconds)
    timer.stop()
    return late


class PaintWatch:
    """When a widget last painted (an event filter on it)."""

    def __init__(self, widget) -> None:
        from PySide6.QtCore import QEvent, QObject

        watch = self

        class Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
                if event.type() == QEvent.Type.Paint:
                    watch.painted = time.perf_counter()
                return False

        self.painted = 0.0
        self._filter = Filter()
        widget.installEventFilter(self._filter)


def opened_in(trigger, editor, watch: PaintWatch, expected: int) -> float:
    """Seconds from ``trigger()`` to the text painted and a zero-delay timer firing after it."""
    from PySide6.QtCore import QEventLoop, QTimer

    began = time.perf_counter()
    watch.painted = 0.0
    trigger()
    loop = QEventLoop()
    answered = [0.0]

    def check() -> None:
        if watch.painted > began and editor.document().characterCount() >= expected:
            answered[0] = time.perf_counter()
            loop.quit()
        else:
            QTimer.singleShot(0, check)

    QTimer.singleShot(0, check)
    QTimer.singleShot(30_000, loop.quit)
    loop.exec()
    return (answered[0] or float("inf")) - began


def typing_steps(editor, places: dict[str, int], phrase: str):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    steps = []
    for position in places.values():
        def place(position=position) -> None:
            cursor = editor.textCursor()
            cursor.setPosition(min(position, editor.document().characterCount() - 1))
            editor.setTextCursor(cursor)
            editor.ensureCursorVisible()
        steps.append((place, KEY_INTERVAL_MS))
        for char in phrase:
            key = Qt.Key.Key_Space if char == " " else Qt.Key(ord(char.upper()))
            steps.append((lambda key=key, char=char: QTest.keyClick(editor, key, Qt.KeyboardModifier.NoModifier if not char.isupper() else Qt.KeyboardModifier.ShiftModifier), KEY_INTERVAL_MS))
        steps[-1] = (steps[-1][0], 500)  # a pause: the counts and History catch up
    return steps


def page_down_steps(editor, pages: int):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextCursor
    from PySide6.QtTest import QTest

    steps = [(lambda: editor.moveCursor(QTextCursor.MoveOperation.Start), 50)]
    return steps + [(lambda: QTest.keyClick(editor, Qt.Key.Key_PageDown), 16)] * pages


def scroll_bar_steps(editor, drags: int):
    """The scroll bar dragged from the top to the bottom in ``drags`` moves (each a jump of
    1/drags of the book: pages never laid out before)."""
    bar = editor.verticalScrollBar()
    steps = [(lambda: bar.setValue(0), 50)]
    return steps + [(lambda n=n: bar.setValue(bar.maximum() * n // drags), 16) for n in range(1, drags + 1)]


def row(name: str, late: list[float], per: str = "", opened: float | None = None) -> str:
    p50, p99, worst = percentile(late, 50), percentile(late, 99), max(late, default=float("nan"))
    open_text = f"{opened:>8.3f}" if opened is not None else f"{'':>8}"
    open_ratio = f"{opened / GOAL_OPEN_S:>10.2f}" if opened is not None else f"{'':>10}"
    return f"{name:<34}{open_text}{per:>11}{len(late):>7}{p50:>8.2f}{p99:>8.2f}{worst:>9.2f}   {p99 / GOAL_P99_MS:>8.2f}{open_ratio}"


HEADER = f"{'':<34}{'open s':>8}{'per step':>11}{'ticks':>7}{'p50':>8}{'p99':>8}{'max':>9}   {'p99/goal':>8}{'open/goal':>10}"


def ms(costs: list[float]) -> str:
    return f"{1000 * sum(costs) / max(len(costs), 1):.2f} ms" if costs else ""


# -- streaming --------------------------------------------------------------------------------

class ProseStreamer(studio.Generator):
    """Yields ``words`` word-sized text chunks (a token each) as fast as it can, then the text."""

    id = "bench-prose-streamer"
    title = "Bench prose streamer"
    kind = "text"
    params = (studio.Param("prompt", "text", ""), studio.Param("words", "int", STREAM_WORDS, min=1, max=1_000_000),
              studio.Param("rate", "int", 0, min=0, max=100_000), studio.Param("seed", "seed"))

    def generate(self, request, ctx):
        rng = random.Random(request["seed"] or 1)
        words = " ".join(_sentence(rng) for _ in range(request["words"] // 8 + 1)).split(" ")[: request["words"]]
        chunks = [" " + word for word in words]
        began, rate = time.perf_counter(), request["rate"]
        for n, chunk in enumerate(chunks):
            ctx.check_cancelled()
            # a model step releases the GIL (onnxruntime runs without it); ``rate`` tokens a second, or no wait
            time.sleep(max(0.0, began + n / rate - time.perf_counter()) if rate else 0)
            yield studio.Preview("text", chunk)
        yield studio.Result("text", "".join(chunks), self.id, dict(request.params), info={"new_tokens": len(chunks)})


class ProseStreamerPlugin:
    @studio.hookimpl
    def register_generators(self, register):
        register(ProseStreamer())


def stream_into(window, position: int, words: int, rate: int, limit_s: float = 120.0) -> tuple[list[float], float, bool]:
    """Continue at ``position``, ``words`` chunks at ``rate`` a second (0: as fast as they come);
    (lateness per tick, seconds to the whole generation, whether it landed whole where it belongs)."""
    window.generate_panel.form.widgets["words"].spin.setValue(words)
    window.generate_panel.form.widgets["rate"].spin.setValue(rate)
    editor = window.text.editor
    cursor = editor.textCursor()
    cursor.setPosition(position)
    editor.setTextCursor(cursor)
    editor.ensureCursorVisible()
    wait(0.3)
    before = editor.toPlainText()
    landed = []

    def on_landed(job, result) -> None:  # connected after the window's own slot: it has handled the result
        landed.append(job)

    window.bridge.result.connect(on_landed)
    started = time.perf_counter()
    late, timer = heartbeat()
    job = window.continue_text()
    wait(limit_s, until=lambda: job in landed)
    total = time.perf_counter() - started
    timer.stop()
    window.bridge.result.disconnect(on_landed)
    right = job in landed and editor.toPlainText() == before[:position] + job.result.value + before[position:]
    return late, total, right


# -- the phases -------------------------------------------------------------------------------

def studio_rows(text: str, folder: Path, typing_places: int, pages: int, drags: int, stream_words: int, emit):
    """Print (``emit``) the rows for Studio's window; returns the look of its editor (for the bare one)."""
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QFileDialog

    from studio.core.project.format import Project
    from studio.core.project.save import save_project
    from studio.core.text.document import Span
    from studio.host import Host
    from studio.plugins import PluginInfo
    from studio.ui.app import create_window

    manuscript_path = folder / "manuscript.md"
    manuscript_path.write_text(text, encoding="utf-8")
    spans, step = [], max(len(text) // 1000, 1)  # a thousand generated passages, kept as the project saved them
    for start in range(step // 2, len(text) - 200, step):
        spans.append(Span(start, start + 150, len(spans) + 1))
    project_path = save_project(Project(text=text, text_spans=spans), folder / "manuscript.studio", backup=False)

    host = Host()
    host.plugins.add_plugin(ProseStreamerPlugin(), PluginInfo("bench-prose-streamer", __name__))
    window = create_window(host=host)
    window.resize(1280, 860)
    window.show()
    window.tabs.setCurrentWidget(window.text)
    window.generate_panel.set_generators(host.generators)
    if not window.generate_panel.select(ProseStreamer.id):
        raise SystemExit("the benchmark's generator did not register")
    wait(1.5)  # the device probe runs at start-up: let it settle
    editor = window.text.editor
    watch = PaintWatch(editor.viewport())
    emit(row("idle (the machine's floor)", settle(1.0)))

    def menu(*path):
        actions = window.menuBar().actions()
        for depth, name in enumerate(path):
            action = next(a for a in actions if a.text().replace("&", "").split("\t")[0] == name)
            if depth + 1 < len(path):
                action.menu().aboutToShow.emit()
                actions = action.menu().actions()
        return action

    QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (str(project_path), ""))
    opened = opened_in(menu("File", "Open project…").trigger, editor, watch, len(text))
    if editor.toPlainText() != text:
        raise SystemExit("the project's text is not what the editor shows")
    emit(row("open the project", settle(1.0), opened=opened))
    window.project._mark_saved()  # noqa: SLF001 - nothing to ask about before the next open

    QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (str(manuscript_path), ""))
    opened = opened_in(menu("File", "Open text file…").trigger, editor, watch, len(text))
    if editor.toPlainText() != text or not window.text.highlighter.markdown:
        raise SystemExit("the manuscript is not what the editor shows")
    emit(row("open the .md file", settle(1.0), opened=opened))

    editor.setFocus()
    length = len(text)
    places = {"end": length, "middle": text.index("\n\n", length // 2) - 40, "start": len("# The Salt Ledger\n\n")}
    places = dict(list(places.items())[:typing_places])
    for name, position in places.items():
        late, costs = run_steps(typing_steps(editor, {name: position}, PHRASE))
        emit(row(f"typing at the {name}", late, ms(costs[1:]) + "/key"))
    late, costs = run_steps(page_down_steps(editor, pages))
    emit(row(f"Page Down x{pages}", late, ms(costs[1:]) + "/page"))
    late, costs = run_steps(scroll_bar_steps(editor, drags))
    emit(row(f"scroll bar dragged in {drags} moves", late, ms(costs[1:]) + "/move"))

    runs = (("the end", -1, STREAM_RATE), ("the middle", 0, STREAM_RATE), ("the end", -1, 0))
    for name, where, rate in runs:
        text_now = editor.toPlainText()
        position = len(text_now) if where else text_now.index(". ", len(text_now) // 2) + 1
        late, total, right = stream_into(window, position, stream_words, rate)
        if not right:
            raise SystemExit(f"the generation streamed into {name} is not where it belongs")
        pace = f"{rate} tok/s" if rate else "flood"
        emit(row(f"streaming {stream_words} words ({pace}): {name[4:]}", late, f"{total:.2f} s"))
    editor.document().setModified(False)
    window.project._mark_saved()  # noqa: SLF001 - nothing to ask about on the way out
    like = SimpleNamespace(font=QFont(editor.font()), margin=editor.document().documentMargin(), size=editor.size())
    return like


def plain_rows(text: str, typing_places: int, pages: int, drags: int, like) -> list[str]:
    """The same on a bare QPlainTextEdit, of the size and font of Studio's (``like``): what the
    toolkit itself costs (no menu to open it from: setPlainText)."""
    from PySide6.QtWidgets import QPlainTextEdit

    editor = QPlainTextEdit()
    editor.setFont(like.font)
    editor.document().setDocumentMargin(like.margin)
    editor.resize(like.size)
    editor.show()
    wait(0.3)
    watch = PaintWatch(editor.viewport())
    opened = opened_in(lambda: editor.setPlainText(text), editor, watch, len(text))
    rows = [row("bare QPlainTextEdit: setPlainText", settle(1.0), opened=opened)]
    editor.setFocus()
    places = {"end": len(text), "middle": text.index("\n\n", len(text) // 2) - 40, "start": len("# The Salt Ledger\n\n")}
    for name, position in list(places.items())[:typing_places]:
        late, costs = run_steps(typing_steps(editor, {name: position}, PHRASE))
        rows.append(row(f"bare: typing at the {name}", late, ms(costs[1:]) + "/key"))
    late, costs = run_steps(page_down_steps(editor, pages))
    rows.append(row(f"bare: Page Down x{pages}", late, ms(costs[1:]) + "/page"))
    late, costs = run_steps(scroll_bar_steps(editor, drags))
    rows.append(row(f"bare: scroll bar in {drags} moves", late, ms(costs[1:]) + "/move"))
    editor.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="the manuscript's size in MB (characters / 2^20)")
    parser.add_argument("--pages", type=int, default=150, help="Page Down presses")
    parser.add_argument("--words", type=int, default=STREAM_WORDS, help="word-sized chunks streamed per generation")
    parser.add_argument("--no-plain", action="store_true", help="skip the bare QPlainTextEdit rows")
    parser.add_argument("--smoke", action="store_true", help="64 kB, one place typed, 10 pages: checks that the benchmark works")
    args = parser.parse_args(argv)
    size, places, pages, drags, words = int(args.mb * 2**20), 3, args.pages, 20, args.words
    if args.smoke:
        size, places, pages, drags, words = 64 * 1024, 1, 10, 4, 100

    from studio.ui.app import application

    application()
    text = manuscript(size)
    print(f"A long manuscript in the editor — {len(text):,} characters, {text.count(chr(10)):,} lines, {len(text.split()):,} words; "
          f"{os.cpu_count()} cores, Qt platform {os.environ['QT_QPA_PLATFORM']}")
    print(f"GUI-thread lateness of a {HEARTBEAT_MS} ms timer, ms; keys every {KEY_INTERVAL_MS} ms with pauses; streaming: word-sized chunks\n")
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="studio-manuscript-") as folder:
        like = studio_rows(text, Path(folder), places, pages, drags, words, lambda line: print(line, flush=True))
    if not args.no_plain:
        for line in plain_rows(text, places, pages, drags, like):
            print(line, flush=True)
    print(f"\ngoal: open < {GOAL_OPEN_S:g} s, lateness p99 < {GOAL_P99_MS:g} ms (ratios < 1 meet it); "
          "the bare QPlainTextEdit rows are the toolkit's own floor")
    sys.stdout.flush()
    os._exit(0)  # skip Qt's teardown of a window with a megabyte of layout


if __name__ == "__main__":
    sys.exit(main())
