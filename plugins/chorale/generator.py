"""The chorale sketcher: a four-part chorale sampled as notes, played by the built-in synthesizer.

The audio is the Result (float32 stereo at 48 kHz, exactly ``bars`` bars long at the tempo, so
it lines up with the timeline's beat grid); the notes ride along in ``info["score"]`` with the
tempo, the voice names and the General MIDI program, so the window or the CLI can export the
same sketch as MIDI::

    write_midi(path, info["score"], info["tempo"], voice_names=info["voices"], program=info["midi_program"])
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator


import studio
from studio.core.models.loaders import read_json

from studio.core.audio import synth
from studio.core.audio.note_takes import MIDI_PROGRAMS
from .sampler import KEYS, ChoraleConfig, compose

OUTPUTS = ["logits", "next_state"]


class ChoraleGenerator(studio.Generator):
    kind = "audio"
    description = (
        "A four-part chorale in the style of J.S. Bach, from a small model trained on his chorales, "
        "played by a built-in organ, string or choir sound. The notes can be saved as MIDI."
    )
    params = (
        studio.Param("key", "choice", "C major", choices=KEYS, help="The key of the sketch."),
        studio.Param("tempo", "int", 80, min=30, max=240, step=1, label="Tempo (bpm)", help="Quarter notes per minute."),
        studio.Param("bars", "int", 8, min=1, max=32, step=1, help="Length in 4/4 bars."),
        studio.Param("temperature", "float", 0.9, min=0.0, max=2.0, step=0.05, help="Lower: safer, plainer harmony. Higher: more adventurous. 0 always takes the likeliest note."),
        studio.Param("instrument", "choice", "organ", choices=tuple(synth.INSTRUMENTS), help="The sound that plays the four voices."),
        studio.Param("seed", "seed", None, help="Picks the chorale. Fix it to get the same notes again."),
    )

    def __init__(self, folder: Path, generator_id: str = "chorale", title: str = "") -> None:
        self.folder = Path(folder)
        self.config = ChoraleConfig.read(self.folder)
        self.model_path = self.folder / "model.onnx"
        if not self.model_path.is_file():
            raise studio.ModelError(f"{self.folder} has a chorale config.json but no model.onnx")
        self.id = generator_id
        self.title = title or self.config.title

    def load(self, ctx: studio.JobContext) -> None:
        ctx.session(self.model_path)

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        loaded = ctx.session(self.model_path)
        bars, tempo = request["bars"], request["tempo"]
        total = bars + 1  # one step per bar, and one for the synthesizer

        def run(feeds):  # through the job, so cancel stops it between (and inside) steps
            return ctx.run(loaded, OUTPUTS, feeds)

        started = time.perf_counter()
        notes = yield from compose(run, self.config, request["key"], bars, request["temperature"], request.seed, total)
        composed = time.perf_counter()

        ctx.check_cancelled()
        beats = bars * self.config.beats_per_bar
        audio = synth.render(notes, tempo, beats, request["instrument"])
        yield studio.Progress(total, total, f"Played on the {request['instrument']}")
        info = {
            "score": notes,
            "tempo": tempo,
            "beats": beats,
            "key": request["key"],
            "voices": list(self.config.voices),
            "instrument": request["instrument"],
            "midi_program": MIDI_PROGRAMS.get(request["instrument"]),
            "provider": loaded.providers[0],
            "device": ctx.device.id,
            "compose_s": round(composed - started, 4),
            "synth_s": round(time.perf_counter() - composed, 4),
        }
        yield studio.Result("audio", audio, self.id, dict(request.params), sample_rate=synth.SAMPLE_RATE, info=info)


def is_chorale_folder(folder: Path) -> bool:
    """A config.json whose format is studio-chorale (read only when it is small, as a config is)."""
    path = folder / "config.json"
    try:
        if not path.is_file() or path.stat().st_size > 1 << 20:
            return False
        return read_json(path, "config.json").get("format") == "studio-chorale"
    except (OSError, studio.ModelError):
        return False


class ChoraleLoader(studio.ModelLoader):
    """A chorale model retrained with the recipe (other data, other sizes) in a folder of its own."""

    id = "chorale"
    title = "Chorale sketcher"
    layout = "a folder with model.onnx and a config.json of format studio-chorale (plugins/chorale/recipe.py)"

    def detect(self, folder: Path) -> bool:
        return is_chorale_folder(folder)

    def load(self, folder: Path) -> ChoraleGenerator:
        return ChoraleGenerator(folder, f"chorale:{folder.name}", f"Chorale sketch ({folder.name})")
