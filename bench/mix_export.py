"""Export mix: wall time, and the longest the GUI thread went without handling a 10 ms timer
(what a user sees as a freeze), rendering on the GUI thread ("on GUI": render + write_audio)
beside the workspace's export (``render_to_file``: a worker, the master meter following it).

    QT_QPA_PLATFORM=offscreen python bench/mix_export.py [--minutes 5] [--tracks 8] [--smoke]
"""
import os, sys, time, tempfile
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--minutes", type=float, default=5.0)
parser.add_argument("--tracks", type=int, default=8)
parser.add_argument("--smoke", action="store_true", help="2 tracks of 3 s: checks the bench runs, not what it measures")
args = parser.parse_args()
if args.smoke:
    args.minutes, args.tracks = 0.05, 2
os.environ["STUDIO_HOME"] = tempfile.mkdtemp()
import numpy as np
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QTimer
from PySide6.QtGui import QUndoStack
app = QApplication(sys.argv[:1])
from studio.ui.timeline import AudioWorkspace
from studio.core.audio.timeline import Clip
from studio.core.audio.mixer import render
from studio.core.media.sound_files import write_audio
from studio.ui.timeline.mix_export import render_to_file
from pathlib import Path
ws = AudioWorkspace(QUndoStack()); ws.show()
rng = np.random.default_rng(0)
for t in range(args.tracks):
    ws.add_track()
    ws.add_clip(Clip.from_samples(f"t{t}", (rng.standard_normal((int(args.minutes * 60 * 48000), 2)) * 0.05).astype(np.float32), 48000), ws.timeline.tracks[-1].id, "add")
ticks = []
timer = QTimer(); timer.setInterval(10); timer.timeout.connect(lambda: ticks.append(time.perf_counter())); timer.start()
out = Path(tempfile.mkdtemp())
stalls = {}
for suffix in (".wav", ".flac"):
    for name in ("on GUI", "worker"):
        app.processEvents(); ticks.clear(); ticks.append(time.perf_counter())
        began = time.perf_counter()
        if name == "on GUI":
            write_audio(out / f"b{suffix}", render(ws.timeline), 48000)
        else:
            render_to_file(ws, out / f"n{suffix}", ws.timeline)
        took = time.perf_counter() - began
        app.processEvents(); ticks.append(time.perf_counter())
        gap = max(np.diff(ticks)) if len(ticks) > 1 else took
        print(f"{suffix:6}{name:8} {took:6.2f} s   longest GUI stall {gap * 1000:7.0f} ms")
        stalls[suffix, name] = gap
print(f"({args.tracks} tracks of {args.minutes:g} min)")
for suffix in (".wav", ".flac"):
    print(f"{suffix:6}GUI stall on GUI/worker: {stalls[suffix, 'on GUI'] / max(stalls[suffix, 'worker'], 1e-9):.1f}x")
os._exit(0)
