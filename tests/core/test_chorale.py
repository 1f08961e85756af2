"""The built-in chorale sketcher: the committed model, the sampler, the synthesizer and the
generator run for real (onnxruntime on the shipped model, the real job runner and host)."""

from __future__ import annotations

import ast
import json
import shutil
import threading
from pathlib import Path

import mido
import numpy as np
import onnx
import pytest

import studio_plugins.chorale as chorale_plugin
from studio.core.engine.generators import Progress, Result, check_generator
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.audio.midi import Note
from studio.core.engine.onnx_import import import_onnxruntime
from studio.core.project.outputs import write_result
from studio.core.models.loaders import find_loader, load_folder
from studio.core.base.paths import builtin_models
from studio.core.engine.runtime import Runtime
from studio.errors import ModelError, ParamError
from studio.host import Host
from studio.plugins import PluginInfo
from studio_plugins.chorale import data
from studio.core.audio import synth
from studio_plugins.chorale.generator import ChoraleGenerator, ChoraleLoader
from studio_plugins.chorale.sampler import (
    KEYS,
    ChoraleConfig,
    parse_key,
    sample_notes,
    session_runner,
    tokens_to_notes,
    transposition,
)

ort = import_onnxruntime()
FOLDER = builtin_models() / "chorale"
RECIPE = Path(chorale_plugin.__file__).parent / "recipe.py"
MAJOR_SCALE = {0, 2, 4, 5, 7, 9, 11}
MINOR_SCALES = {0, 2, 3, 5, 7, 8, 10, 9, 11}  # natural minor with the raised 6th and 7th


@pytest.fixture(scope="module")
def config():
    return ChoraleConfig.read(FOLDER)


@pytest.fixture(scope="module")
def run():
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(FOLDER / "model.onnx"), options, providers=["CPUExecutionProvider"])
    return session_runner(session)


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner(Runtime())
    yield runner
    runner.shutdown()


@pytest.fixture(scope="module")
def generator():
    return ChoraleGenerator(FOLDER)


def scale_of(key: str) -> set[int]:
    tonic, mode = parse_key(key)
    return {(tonic + degree) % 12 for degree in (MAJOR_SCALE if mode == "major" else MINOR_SCALES)}


# -- the committed model is the one the recipe describes ------------------------------------


def recipe_constants() -> dict:
    """The recipe's module-level constants, read without importing it (it needs torch)."""
    tree = ast.parse(RECIPE.read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


def test_the_committed_model_matches_the_recipe_and_its_config():
    recipe = recipe_constants()
    raw = json.loads((FOLDER / "config.json").read_text(encoding="utf-8"))
    assert raw["format"] == "studio-chorale"
    assert raw["representation"] == json.loads(json.dumps(data.representation()))
    model = raw["model"]
    assert (model["embed"], model["hidden"], model["layers"], model["max_bars_left"]) == (
        recipe["EMBED"], recipe["HIDDEN"], recipe["LAYERS"], recipe["MAX_BARS_LEFT"],
    )
    assert raw["training"]["seed"] == recipe["SEED"] and raw["training"]["epochs"] == recipe["EPOCHS"]
    assert raw["training"]["validation_loss"] < 1.0  # a trained model, not an initialised one

    graph = onnx.load(str(FOLDER / "model.onnx")).graph
    assert [i.name for i in graph.input] == recipe["INPUT_NAMES"]
    assert [o.name for o in graph.output] == recipe["OUTPUT_NAMES"]
    shapes = {i.name: onnx.numpy_helper.to_array(i).shape for i in graph.initializer}
    vocab, embed, hidden = data.VOCAB_SIZE, recipe["EMBED"], recipe["HIDDEN"]
    assert shapes["model.token.weight"] == (vocab, embed)
    assert shapes["model.position.weight"] == (data.STEPS_PER_BAR, embed)
    assert shapes["model.head.weight"] == (vocab, hidden)
    assert shapes[f"model.gru.weight_hh_l{recipe['LAYERS'] - 1}"] == (3 * hidden, hidden)
    parameters = sum(int(np.prod(s)) for s in shapes.values())
    assert parameters == model["parameters"]
    assert (FOLDER / "model.onnx").stat().st_size < 5_000_000
    attribution = (FOLDER / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "music21" in attribution and "public domain" in attribution


def test_the_step_model_runs_with_the_shapes_the_config_gives(config, run):
    state = np.zeros((config.layers, 1, config.hidden), dtype=np.float32)
    one = np.array([0], dtype=np.int64)
    logits, next_state = run({"token": np.array([config.start]), "voice": one, "position": one, "bars_left": one, "mode": one, "state": state})
    assert logits.shape == (1, config.vocab_size) and next_state.shape == state.shape
    assert np.isfinite(logits).all() and not np.array_equal(next_state, state)


def test_a_broken_config_is_a_model_error(tmp_path):
    (tmp_path / "config.json").write_text('{"format": "studio-chorale", "representation": {}}')
    with pytest.raises(ModelError, match="incomplete"):
        ChoraleConfig.read(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not readable JSON"):
        ChoraleConfig.read(tmp_path)


# -- the sampler ----------------------------------------------------------------------------


def test_same_seed_same_notes_and_another_seed_other_notes(config, run):
    one = sample_notes(run, config, "D minor", 4, 1.0, seed=7)
    again = sample_notes(run, config, "D minor", 4, 1.0, seed=7)
    other = sample_notes(run, config, "D minor", 4, 1.0, seed=8)
    assert one == again
    assert one != other


def test_temperature_zero_ignores_the_seed(config, run):
    assert sample_notes(run, config, "C major", 2, 0.0, seed=1) == sample_notes(run, config, "C major", 2, 0.0, seed=2)


def test_keys_of_one_mode_are_the_same_chorale_transposed(config, run):
    c_major = sample_notes(run, config, "C major", 3, 0.9, seed=11)
    shift, _ = transposition(config, "Eb major")
    eb_major = sample_notes(run, config, "Eb major", 3, 0.9, seed=11)
    assert shift == 3
    assert [(n.pitch - shift, n.start, n.duration, n.voice) for n in eb_major] == [(n.pitch, n.start, n.duration, n.voice) for n in c_major]


@pytest.mark.parametrize("key", ["G major", "Bb major", "E minor", "C minor"])
def test_the_sketch_is_in_the_key_asked_for(config, run, key):
    notes = sample_notes(run, config, key, 8, 0.8, seed=3)
    pitch_classes = np.array([n.pitch % 12 for n in notes])
    weights = np.array([n.duration for n in notes])
    in_scale = weights[np.isin(pitch_classes, list(scale_of(key)))].sum() / weights.sum()
    assert in_scale > 0.9, f"only {in_scale:.0%} of the music is in {key}"
    tonic, mode = parse_key(key)
    histogram = np.bincount(pitch_classes, weights=weights, minlength=12)
    third = (tonic + (4 if mode == "major" else 3)) % 12
    # the tonic triad's notes are among the five commonest pitch classes, as in any chorale
    assert {tonic, third, (tonic + 7) % 12} <= set(np.argsort(histogram)[-5:].tolist())


@pytest.mark.parametrize("bars", [1, 5])
def test_bars_give_the_length_and_every_voice_stays_in_its_range(config, run, bars):
    key = "A major"
    notes = sample_notes(run, config, key, bars, 1.2, seed=bars)
    shift, _ = transposition(config, key)
    beats = bars * config.beats_per_bar
    assert max(n.end for n in notes) <= beats
    for voice, (low, high) in enumerate(config.voice_ranges):
        sung = sorted((n for n in notes if n.voice == voice), key=lambda n: n.start)
        assert sung, f"voice {voice} is silent"
        assert all(low + shift <= n.pitch <= high + shift for n in sung)
        assert all(a.end <= b.start for a, b in zip(sung, sung[1:])), "a voice sings two notes at once"
    assert any(n.end == beats for n in notes)


def test_tokens_become_notes(config):
    p = config.token_of
    tokens = np.array([[p(72), config.rest], [config.hold, config.hold], [p(74), p(60)], [config.hold, config.hold]])
    notes = tokens_to_notes(tokens, config, shift=2)
    assert notes == [Note(74, 0.0, 1.0, notes[0].velocity, 0), Note(76, 1.0, 1.0, notes[0].velocity, 0), Note(62, 1.0, 1.0, notes[2].velocity, 1)]


def test_keys_are_parsed_or_refused_plainly(config):
    assert parse_key("Bb major") == (10, "major") and parse_key("F# minor") == (6, "minor")
    for key in KEYS:  # every offered key moves the voices by at most a tritone
        assert abs(transposition(config, key)[0]) <= 6
    with pytest.raises(ParamError, match="not a key"):
        parse_key("H dorian")


# -- the synthesizer ------------------------------------------------------------------------


@pytest.mark.parametrize("instrument", sorted(synth.INSTRUMENTS))
def test_the_synth_is_exactly_as_long_as_the_bars_and_never_clips(config, run, instrument):
    notes = sample_notes(run, config, "F major", 2, 0.9, seed=5)
    tempo = 96
    audio = synth.render(notes, tempo, 2 * 4, instrument)
    assert audio.dtype == np.float32 and audio.shape == (round(2 * 4 * 60 / tempo * 48000), 2)
    peak = np.abs(audio).max()
    assert 0.5 < peak <= synth.PEAK + 1e-6
    assert np.sqrt(np.mean(audio**2)) > 0.05  # not silent
    assert np.abs(audio[-10:]).max() < 0.01  # the end fades, it never clicks


def spectrum_peak(signal: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    freqs = np.fft.rfftfreq(len(signal), 1 / synth.SAMPLE_RATE)
    band = (freqs >= low) & (freqs <= high)
    return float(freqs[band][np.argmax(spectrum[band])])


@pytest.mark.parametrize("instrument", sorted(synth.INSTRUMENTS))
def test_every_voice_sounds_at_its_pitch_and_place(instrument):
    # soprano A4 alone for a beat, then bass A2 alone: each is heard at its own frequency,
    # soprano from the left, bass from the right
    notes = [Note(69, 0.0, 1.0, 90, 0), Note(45, 2.0, 1.0, 90, 3)]
    audio = synth.render(notes, 60, 4, instrument)
    second = synth.SAMPLE_RATE
    soprano, bass = audio[int(0.2 * second) : int(0.9 * second)], audio[int(2.2 * second) : int(2.9 * second)]
    assert abs(spectrum_peak(soprano.mean(axis=1), 300, 500) - 440) < 3
    assert abs(spectrum_peak(bass.mean(axis=1), 80, 140) - 110) < 3
    assert np.abs(soprano[:, 0]).max() > np.abs(soprano[:, 1]).max()
    assert np.abs(bass[:, 1]).max() > np.abs(bass[:, 0]).max()
    silence = audio[int(1.5 * second) : int(1.9 * second)]  # after the soprano's release
    assert np.abs(silence).max() < 1e-6


def test_the_envelope_rises_holds_and_releases():
    sound = synth.INSTRUMENTS["strings"]
    t = np.array([0.0, sound.attack / 2, sound.attack, 0.5, 1.0, 1.0 + sound.release / 2, 1.0 + sound.release], dtype=np.float32)
    level = synth.envelope(t, np.full_like(t, 1.0), sound)
    assert level[0] == 0 and level[1] == pytest.approx(0.5) and level[2] == pytest.approx(1.0)
    assert level[3] == pytest.approx(sound.sustain) and level[5] == pytest.approx(sound.sustain / 2) and level[6] == 0


def test_an_empty_score_is_silence_of_the_right_length():
    audio = synth.render([], 120, 4)
    assert audio.shape == (96000, 2) and not audio.any()


# -- the generator, through the real runner and host -----------------------------------------


def run_job(runner, generator, **values):
    events: list = []
    lock = threading.Lock()

    def listen(job, event):
        with lock:
            events.append(event)

    job = runner.submit(generator, generator.request(values), listeners=[listen])
    assert job.wait(60), "the sketch did not finish"
    assert job.state is JobState.FINISHED, job.message
    return job.result, [e for e in events if isinstance(e, (Progress, Result))]


def test_the_builtin_generator_meets_the_contract(generator):
    check_generator(generator)
    assert (generator.id, generator.kind, generator.title) == ("chorale", "audio", "Bach chorale sketch")
    assert [p.name for p in generator.params] == ["key", "tempo", "bars", "temperature", "instrument", "seed"]
    with pytest.raises(ParamError):
        generator.request({"bars": 0})
    with pytest.raises(ParamError):
        generator.request({"key": "H major"})


def test_a_sketch_end_to_end_reports_each_bar_and_reproduces(runner, generator):
    result, events = run_job(runner, generator, key="E minor", bars=3, tempo=100, seed=42, instrument="choir")
    progress = [e for e in events if isinstance(e, Progress) and e.total > 0]  # the runner's own "loading" has none
    assert [(p.step, p.total) for p in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert isinstance(events[-1], Result) and events[-1] is result
    assert result.kind == "audio" and result.sample_rate == 48000
    assert result.value.dtype == np.float32 and result.value.shape == (round(3 * 4 * 0.6 * 48000), 2)
    assert result.info["tempo"] == 100 and result.info["beats"] == 12
    assert result.info["score"] and all(isinstance(n, Note) for n in result.info["score"])
    assert result.params["seed"] == 42
    again, _ = run_job(runner, generator, **result.params)
    assert np.array_equal(again.value, result.value)


def test_cancel_stops_the_sketch_between_steps(runner, generator):
    bars_done = []

    def listen(job, event):
        if isinstance(event, Progress) and event.total > 0:
            bars_done.append(event.step)
            job.cancel()  # after the first bar of 32

    job = runner.submit(generator, generator.request({"bars": 32, "seed": 1}), listeners=[listen])
    assert job.wait(60)
    assert job.state is JobState.CANCELLED and job.result is None
    assert bars_done == [1]


def test_the_plugin_is_registered_through_its_entry_point():
    host = Host()
    try:
        assert "chorale" in host.generators, 'pyproject needs chorale = "studio_plugins.chorale" in [project.entry-points.studio]'
        assert any(loader.id == "chorale" for loader in host.plugins.loaders)
    finally:
        host.shutdown()


def test_the_host_generates_a_sketch_and_its_notes_save_as_midi(tmp_path):
    host = Host()
    try:
        if "chorale" not in host.generators:  # until the entry point is installed (test above)
            host.plugins.add_plugin(chorale_plugin, PluginInfo("chorale", "studio_plugins.chorale", builtin=True))
        job = host.submit("chorale", {"bars": "2", "seed": "9", "instrument": "strings"})
        assert job.wait(60) and job.state is JobState.FINISHED, job.message
        notes = job.result.info["score"]
        path = write_result(job.result, tmp_path / "sketch.mid")  # as `studio generate ... -o x.mid` does
        midi = mido.MidiFile(path)
        assert {m.program for t in midi.tracks for m in t if m.type == "program_change"} == {48}  # string ensemble
        assert [t.name for t in midi.tracks[1:]] == ["soprano", "alto", "tenor", "bass"]
        assert sum(m.type == "note_on" for t in midi.tracks for m in t) == len(notes)
    finally:
        host.shutdown()


def test_a_retrained_model_folder_is_found_by_its_loader(tmp_path):
    folder = tmp_path / "my-chorales"
    shutil.copytree(FOLDER, folder)
    assert isinstance(find_loader(folder, [ChoraleLoader()]), ChoraleLoader)
    entry = load_folder(folder, [ChoraleLoader()])
    assert entry.ok and entry.generator.id == "chorale:my-chorales"
    (folder / "model.onnx").unlink()
    assert "no model.onnx" in load_folder(folder, [ChoraleLoader()]).error
    assert not ChoraleLoader().detect(tmp_path)
