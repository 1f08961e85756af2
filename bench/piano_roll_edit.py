"""The piano roll's edits: GUI-thread time per edit beside rendering on the GUI thread.

    python bench/piano_roll_edit.py [--bars 32] [--rounds 5]

A chorale of ``--bars`` bars is generated on the built-in model in the real window (offscreen)
and opened in the piano roll; every note is selected and transposed a semitone with the Up key,
``--rounds`` times. Printed, as medians:

  edit      the key press handled on the GUI thread (the new notes pushed as one undo step,
            the render queued): what the user waits for (goal: under 16 ms, one frame);
  audio     from the key press until the new audio is swapped in (rendered on a worker thread);
  blocking  the reference: the same render done on the GUI thread, what an edit would freeze
            the window for if it rendered there;
  undo      Edit > Undo of such an edit (its audio comes from the cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="4 bars, one round: checks the bench runs, not what it measures")
    args = parser.parse_args()
    if args.smoke:
        args.bars, args.rounds = 4, 1

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from studio.core.audio import note_takes as takes
    from studio.host import Host
    from studio.ui.app import create_window

    app = QApplication.instance() or QApplication(sys.argv)
    window = create_window(host=Host())
    window.resize(1280, 720)
    window.show()
    window.tabs.setCurrentWidget(window.audio)

    def wait(condition, timeout=300.0):
        end = time.time() + timeout
        while not condition() and time.time() < end:
            app.processEvents()
            time.sleep(0.001)
        if not condition():
            raise SystemExit("timed out")

    job = window.generate("chorale", {"bars": args.bars, "seed": 5, "instrument": "choir"})
    wait(lambda: job.state.done and window.audio.timeline.clips)
    workspace = window.audio
    clip = workspace.timeline.clips[0]
    workspace.piano_roll.open_clip(clip.id)
    view = workspace.piano_roll.view
    QTest.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    edit, audio, blocking, undo = [], [], [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        QTest.keyClick(view, Qt.Key.Key_Up)
        edit.append(time.perf_counter() - started)
        wait(lambda: not workspace.piano_roll.notes.pending())
        audio.append(time.perf_counter() - started)
        take = takes.read_take(workspace.timeline.clip(clip.id).info)
        started = time.perf_counter()
        takes.render_take(take, cache=None)
        blocking.append(time.perf_counter() - started)
    for _ in range(args.rounds):
        started = time.perf_counter()
        window.undo_stack.undo()
        undo.append(time.perf_counter() - started)
    pending = workspace.piano_roll.notes.pending()
    window._closing = True
    window.close()

    def ms(values):
        return statistics.median(values) * 1000

    notes, seconds = len(clip.info["score"]), clip.seconds
    print(f"{args.bars} bars: {notes} notes, {seconds:.0f} s of music (choir), {args.rounds} rounds, medians")
    print(f"  edit (GUI thread)      {ms(edit):8.1f} ms   goal < 16 ms: {'ok' if ms(edit) < 16 else 'MISSED'}")
    print(f"  audio (worker thread)  {ms(audio):8.1f} ms   until the new notes are heard")
    print(f"  blocking reference     {ms(blocking):8.1f} ms   the render on the GUI thread: {ms(blocking) / ms(edit):.0f}x the edit")
    print(f"  undo (from the cache)  {ms(undo):8.1f} ms   renders left after undo: {'none' if not pending else 'some'}")


if __name__ == "__main__":
    main()
