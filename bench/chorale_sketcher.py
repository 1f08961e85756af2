"""The built-in chorale sketcher: time per 8 bars, beside torch and beside a naive synthesizer.

    python bench/chorale_sketcher.py [--rounds 5] [--tempo 80] [--torch-python PYTHON]
    python bench/chorale_sketcher.py --smoke     # one round: checks that the benchmark works

One run prints, for 8 bars of 4/4 at the tempo (24 s of music at 80 bpm), medians over rounds:

  compose   sampling the notes: the shipped step model in onnxruntime (a session made by
            studio's Runtime, as the app makes it) in the sampler's loop: 256 model calls
            (64 eighth-note steps x 4 voices);
  torch     the same weights in torch (the recipe's ChoraleModel, weights read back from the
            ONNX initializers by name), stepped the natural torch way (nn.GRU, one token at a
            time, hidden state carried), in a subprocess with the fixtures venv's python
            (``--torch-python``): this process never imports torch. Both sides decode greedily
            (temperature 0) so they must produce the same tokens, which is checked;
  synth     studio/core/audio/synth.py rendering the notes, per instrument;
  naive     the same organ sound computed one sample at a time in a Python loop (what the
            vectorised synthesizer replaces), timed on one bar and scaled to eight;
  generator the whole generator through studio's JobRunner (compose + synth + job overhead).

Each figure is also given as a fraction of real time (compute seconds / seconds of music:
below 1 is faster than real time). Both runtimes get the same thread count.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import TORCH_PYTHON_HELP, default_torch_python, median_time, reference_skipped  # bench/ is the script's folder: on sys.path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
FOLDER = REPO / "resources" / "models" / "chorale"
BARS = 8


# -- torch worker (fixtures venv) ------------------------------------------------------------


def torch_worker(settings: dict) -> dict:
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    sys.path.insert(0, str(REPO / "plugins" / "chorale"))
    import recipe  # the recipe's own model class

    torch.set_num_threads(settings["threads"])
    torch.set_num_interop_threads(1)
    torch.set_grad_enabled(False)
    model = recipe.ChoraleModel().eval()
    weights = {i.name.removeprefix("model."): numpy_helper.to_array(i) for i in onnx.load(str(FOLDER / "model.onnx")).graph.initializer}
    model.load_state_dict({k: torch.from_numpy(weights[k].copy()) for k in model.state_dict()})
    config = settings["config"]

    def compose() -> list[int]:
        hidden = torch.zeros(recipe.LAYERS, 1, recipe.HIDDEN)
        token = torch.tensor([[config["start"]]])
        mode = torch.tensor([[settings["mode"]]])
        allowed = torch.from_numpy(np.array(settings["allowed"]))
        out = []
        for step in range(BARS * config["steps_per_bar"]):
            bar, position = divmod(step, config["steps_per_bar"])
            bars_left = torch.tensor([[min(BARS - 1 - bar, config["max_bars_left"])]])
            for voice in range(4):
                x = model.embed(token, torch.tensor([[voice]]), torch.tensor([[position]]), bars_left, mode)
                y, hidden = model.gru(x, hidden)
                logits = model.head(y)[0, 0]
                mask = allowed[voice] if step else settings["opening"][voice]
                logits = torch.where(torch.as_tensor(mask), logits, torch.tensor(-math.inf))
                token = logits.argmax().reshape(1, 1)
                out.append(int(token))
        return out

    tokens = compose()  # warm-up
    times = []
    for _ in range(settings["rounds"]):
        begin = time.perf_counter()
        tokens = compose()
        times.append(time.perf_counter() - begin)
    return {"tokens": tokens, "seconds": statistics.median(times), "torch": torch.__version__}


# -- our side ------------------------------------------------------------------------------


def naive_organ(notes, tempo: float, beats: float, sample_rate: int):
    """The organ sound one sample at a time: every harmonic's sine, ADSR and pan per sample."""
    import numpy as np

    from studio.core.audio import synth

    sound = synth.INSTRUMENTS["organ"]
    total = int(round(beats * 60 / tempo * sample_rate))
    left, right = [0.0] * total, [0.0] * total
    k = [float(n) for n in range(1, synth.MAX_HARMONICS + 1)]
    for note in notes:
        f = 440.0 * 2 ** ((note.pitch - 69) / 12)
        weights = [float(w) for w in sound.harmonics(np.array(k), np.array([f]))]  # the same timbre
        weights = [w if kk * f < 0.45 * sample_rate else 0.0 for w, kk in zip(weights, k)]
        norm = sum(abs(w) for w in weights)
        pan = (synth.VOICE_PANS[note.voice % 4] + 1) * math.pi / 4
        loud = (note.velocity / 127) ** 1.5
        start = int(round(note.start * 60 / tempo * sample_rate))
        held = note.duration * 60 / tempo
        for i in range(start, min(total, start + int((held + sound.release) * sample_rate))):
            t = (i - start) / sample_rate
            tt = min(t, held)
            level = tt / sound.attack if tt < sound.attack else max(1 - (1 - sound.sustain) * (tt - sound.attack) / sound.decay, sound.sustain)
            if t >= held:
                level *= max(0.0, 1 - (t - held) / sound.release)
            value = sum(w * math.sin(2 * math.pi * kk * f * t) for w, kk in zip(weights, k)) / norm * level * loud
            left[i] += value * math.cos(pan)
            right[i] += value * math.sin(pan)
    return left, right


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tempo", type=int, default=80)
    parser.add_argument("--key", default="G major")
    parser.add_argument("--torch-python", default=default_torch_python(), help=TORCH_PYTHON_HELP)
    parser.add_argument("--smoke", action="store_true", help="one round: checks that the benchmark works")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds = 1
    if args.worker:
        print(json.dumps(torch_worker(json.loads(args.worker))))
        return

    import numpy as np

    from studio.core.engine.generators import Result
    from studio.core.engine.jobs import JobRunner
    from studio.core.engine.runtime import Runtime
    from studio.core.audio import synth
    from studio_plugins.chorale.generator import ChoraleGenerator
    from studio_plugins.chorale.sampler import (
        ChoraleConfig, allowed_tokens, opening_tokens, sample_bars, sample_notes, session_runner, transposition,
    )

    config = ChoraleConfig.read(FOLDER)
    runtime = Runtime()
    session = runtime.session(FOLDER / "model.onnx").session
    run = session_runner(session)
    music_s = BARS * config.beats_per_bar * 60 / args.tempo
    shift, mode = transposition(config, args.key)
    rows = []

    def row(name: str, seconds: float, note: str = "") -> None:
        rows.append((name, seconds, note))

    compose_s, notes = median_time(lambda: sample_notes(run, config, args.key, BARS, 0.9, seed=1), args.rounds)
    row("compose (onnxruntime, sampled)", compose_s, f"{BARS * config.steps_per_bar * len(config.voices)} model calls, {len(notes)} notes")
    greedy_s, greedy = median_time(lambda: np.concatenate(list(sample_bars(run, config, BARS, mode, 0.0, np.random.default_rng(0)))).reshape(-1), args.rounds)
    row("compose (onnxruntime, greedy)", greedy_s)

    allowed, opening = allowed_tokens(config), opening_tokens(config)
    worker = {
        "rounds": args.rounds, "threads": runtime.cpu_threads, "mode": config.modes.index(mode),
        "allowed": allowed.tolist(), "opening": opening.tolist(),
        "config": {"start": config.start, "steps_per_bar": config.steps_per_bar, "max_bars_left": config.max_bars_left},
    }
    torch_result = None
    skipped = reference_skipped(args.torch_python)
    try:
        if skipped:
            raise OSError(skipped)
        out = subprocess.run([args.torch_python, str(HERE), "--worker", json.dumps(worker)], capture_output=True, text=True, check=True)
        torch_result = json.loads(out.stdout.strip().splitlines()[-1])
        same = torch_result["tokens"] == greedy.tolist()
        row(f"compose (torch {torch_result['torch']}, greedy)", torch_result["seconds"], "same tokens as ours" if same else "TOKENS DIFFER")
    except (OSError, subprocess.CalledProcessError) as exc:
        skipped = f"torch side skipped: {getattr(exc, 'stderr', '') or exc}"
        row("compose (torch, greedy)", float("nan"), skipped)

    beats = BARS * config.beats_per_bar
    for instrument in synth.INSTRUMENTS:
        seconds, audio = median_time(lambda: synth.render(notes, args.tempo, beats, instrument), args.rounds)
        row(f"synth ({instrument})", seconds, f"{audio.shape[0]} frames x 2")
    timed_beats = 1 if args.smoke else config.beats_per_bar  # the loop is slow: one bar (a smoke run: one beat), scaled
    begin = time.perf_counter()
    naive_organ([n for n in notes if n.start < timed_beats], args.tempo, timed_beats, synth.SAMPLE_RATE)
    naive_s = (time.perf_counter() - begin) * beats / timed_beats
    row("synth (organ, naive per-sample loop)", naive_s, f"{timed_beats} beat(s) timed, x{beats // timed_beats}")

    generator = ChoraleGenerator(FOLDER)
    runner = JobRunner(runtime)

    def whole() -> Result:
        job = runner.submit(generator, generator.request({"key": args.key, "tempo": args.tempo, "bars": BARS, "seed": 1}))
        job.wait()
        return job.result

    whole_s, result = median_time(whole, args.rounds)
    row("generator (JobRunner, organ)", whole_s, f"compose {result.info['compose_s']:.3f} s + synth {result.info['synth_s']:.3f} s")
    runner.shutdown()

    print(f"chorale sketcher: {BARS} bars of 4/4 at {args.tempo} bpm = {music_s:.1f} s of music; "
          f"median of {args.rounds}; {runtime.cpu_threads} thread(s) for onnxruntime and torch")
    print(f"{'':40s} {'seconds':>9s} {'x real time':>12s}  note")
    for name, seconds, note in rows:
        print(f"{name:40s} {seconds:9.4f} {seconds / music_s:12.5f}  {note}")
    print()
    organ_s = next(s for n, s, _ in rows if n == "synth (organ)")
    if torch_result:
        print(f"compose: onnxruntime is {torch_result['seconds'] / greedy_s:.1f}x the speed of torch on the same weights (greedy, same tokens: {same})")
    print(f"synth: vectorised organ is {naive_s / organ_s:.0f}x the speed of the per-sample loop")
    print(f"8 bars from Generate to audio: {whole_s:.3f} s ({music_s / whole_s:.0f}x faster than real time)")


if __name__ == "__main__":
    main()
