"""What Import MIDI… costs on a long file: reading it, and playing its notes on the synthesizer.

    python bench/midi_import.py [--parts 8] [--notes 6000] [--smoke]

Writes a 10-minute type 1 file of 8 string parts, 48,000 notes (a note take's limit is 50,000)
to a temporary folder, then times ``read_midi`` and the render the import runs off the GUI
thread, and prints the peak memory of the process.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

import mido

from studio.core.audio import note_takes as takes
from studio.core.audio.midi_read import read_midi


def long_file(path: Path, parts: int = 8, notes: int = 6000) -> Path:
    rng = random.Random(1)
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    for part in range(parts):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=f"Part {part + 1}"), mido.Message("program_change", program=48, channel=part)])
        for _ in range(notes):  # a fifth of a beat each: 1,200 beats, 10 minutes at 120 bpm
            pitch = rng.randint(40, 84)
            track += [mido.Message("note_on", note=pitch, velocity=80, channel=part), mido.Message("note_off", note=pitch, channel=part, time=96)]
        midi.tracks.append(track)
    midi.save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--notes", type=int, default=6000, help="notes per part (a fifth of a beat each)")
    parser.add_argument("--smoke", action="store_true", help="2 parts of 200 notes: checks the bench runs, not what it measures")
    args = parser.parse_args()
    if args.smoke:
        args.parts, args.notes = 2, 200
    with tempfile.TemporaryDirectory() as folder:
        path = long_file(Path(folder) / "long.mid", args.parts, args.notes)
        started = time.perf_counter()
        piece = read_midi(path)
        read = time.perf_counter()
        take = takes.read_take(piece.take_info())
        takes.render_take(take, cache=None)
        done = time.perf_counter()
        size = path.stat().st_size / 1e6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{size:.2f} MB, {len(piece.notes):,} notes, {take.seconds / 60:.1f} min on the {take.instrument}: "
          f"read {read - started:.2f} s, render {done - read:.2f} s, peak memory {peak:,.0f} MB")
    # The render runs off the GUI thread; what a user waits for is the music's length in render time.
    print(f"render x real time: {take.seconds / max(done - read, 1e-9):.1f} (the import plays once rendered; the window stays live)")


if __name__ == "__main__":
    main()
