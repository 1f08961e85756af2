"""The `studio` command, run as a user runs it: `python -m studio ...` in a subprocess.

Each test has its own STUDIO_HOME (tests/conftest.py), so model folders added here are
never seen by another test or by the user's real profile.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.project.outputs import read_parameters
from studio.core.base.paths import builtin_models

SMALL = ["--param", "width=96", "--param", "height=64"]


def studio(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).copy()


def assert_user_error(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    # The error is the last thing said (a progress line may come before it).
    assert run.stderr.strip().splitlines()[-1].startswith("studio: error: "), run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


# -- generate ------------------------------------------------------------------------------


def test_generate_writes_a_png_that_says_how_it_was_made(tmp_path):
    run = studio("generate", "cppn", "-o", "x.png", "--param", "seed=7", *SMALL, cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    path_line, command_line = run.stdout.splitlines()
    assert Path(path_line) == tmp_path / "x.png"
    with Image.open(tmp_path / "x.png") as image:
        assert image.format == "PNG" and image.size == (96, 64)
        a1111 = image.text["parameters"]
    assert a1111.startswith("Seed: 7, Width: 96, Height: 64, ") and a1111.endswith(", Generator: cppn")
    stored = read_parameters(tmp_path / "x.png")
    assert stored["generator"] == "cppn"
    latent = stored["params"].pop("latent")  # the numbers the seed drew (the CPPN's latent), kept exactly
    assert len(latent) == 8 and np.array_equal(np.float32(latent), np.random.default_rng(7).standard_normal(8).astype(np.float32))
    assert stored["params"] == {"seed": 7, "width": 96, "height": 64, "scale": 2.0, "complexity": 1.0, "colour_mode": "colour", "batch_count": 1}
    assert command_line.startswith("studio generate cppn --param seed=7 --param width=96 --param height=64")


def test_the_printed_command_reproduces_the_picture(tmp_path):
    first = studio("generate", "cppn", "-o", "first.png", "--param", "seed=31", *SMALL, cwd=tmp_path)
    command = shlex.split(first.stdout.splitlines()[1])
    assert command[:2] == ["studio", "generate"]

    again = studio(*command[1:], "-o", "again.png", cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert np.array_equal(pixels(tmp_path / "first.png"), pixels(tmp_path / "again.png"))


def test_same_seed_same_pixels_other_seed_other_pixels(tmp_path):
    for name, seed in (("a.png", 7), ("b.png", 7), ("c.png", 8)):
        run = studio("generate", "cppn", "-q", "-o", name, "--param", f"seed={seed}", *SMALL, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
    a, b, c = (pixels(tmp_path / name) for name in ("a.png", "b.png", "c.png"))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_default_output_name_and_no_overwrite(tmp_path):
    first = studio("generate", "cppn", "--param", "seed=11", *SMALL, cwd=tmp_path)
    second = studio("generate", "cppn", "--param", "seed=11", "--param", "width=32", "--param", "height=32", cwd=tmp_path)

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert Path(first.stdout.splitlines()[0]) == tmp_path / "cppn-11.png"
    assert Path(second.stdout.splitlines()[0]) == tmp_path / "cppn-11-2.png"
    assert Image.open(tmp_path / "cppn-11.png").size == (96, 64)  # the first is still there


def test_a_random_seed_is_recorded_in_the_name_and_the_file(tmp_path):
    run = studio("generate", "cppn", "-q", *SMALL, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    written = Path(run.stdout.splitlines()[0])
    seed = read_parameters(written)["params"]["seed"]
    assert written.name == f"cppn-{seed}.png"


def test_progress_goes_to_stderr_and_quiet_silences_it(tmp_path):
    loud = studio("generate", "cppn", "-o", "a.png", *SMALL, cwd=tmp_path)
    quiet = studio("generate", "cppn", "-q", "-o", "b.png", *SMALL, cwd=tmp_path)
    assert "100% (1/1)" in loud.stderr and "done in" in loud.stderr  # stderr is a pipe: plain lines
    assert quiet.stderr == ""
    assert quiet.stdout.splitlines()[0] == str(tmp_path / "b.png")


@pytest.mark.parametrize(
    "args, words",
    [
        (["generate", "cpnn"], ["unknown generator 'cpnn'", "Did you mean: cppn?"]),
        (["generate", "cppn", "--param", "width=9000"], ["width", "out of range", "8192"]),
        (["generate", "cppn", "--param", "width=abc"], ["width", "whole number", "'abc'"]),
        (["generate", "cppn", "--param", "colour=red"], ["no parameter colour", "colour_mode"]),
        (["generate", "cppn", "--param", "seed"], ["--param 'seed'", "NAME=VALUE"]),
        (["generate", "cppn", "--prompt", "a cat"], ["cppn takes no prompt", "--prompt"]),
        (["generate", "cppn", "-o", "missing/x.png"], ["missing/x.png", "the folder missing does not exist"]),
        (["generate", "cppn", "-o", "."], ["it is a folder"]),
        (["generate", "cppn", "-o", "x.gif"], [".gif", ".png"]),
        (["generate", "cppn", "--device", "tpu:3"], ["unknown device 'tpu:3'", "cpu"]),
    ],
    ids=["unknown-generator", "out-of-range", "wrong-type", "unknown-param", "no-equals", "no-prompt",
         "missing-folder", "output-is-folder", "bad-extension", "unknown-device"],
)
def test_bad_input_is_a_plain_error(tmp_path, args, words):
    run = studio(*args, cwd=tmp_path)

    assert_user_error(run, *words)
    assert "Loading model" not in run.stderr  # refused before any work started
    assert run.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_cancels_the_job_and_exits_130(tmp_path):
    # Large enough to take seconds, so the interrupt lands mid-job.
    process = subprocess.Popen(
        [sys.executable, "-m", "studio", "generate", "cppn", "-o", "big.png",
         "--param", "width=4096", "--param", "height=4096"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first_line = process.stderr.readline()  # "Loading model…": the job has started
    assert "Loading model" in first_line
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "cancel" in stderr
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []


# -- models --------------------------------------------------------------------------------


def test_models_add_refuses_a_folder_no_loader_understands(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "readme.txt").write_text("not a model")

    assert_user_error(studio("models", "add", "stuff", cwd=tmp_path), "no installed plugin understands", "cppn.json")
    assert "none yet" in studio("models", cwd=tmp_path).stdout  # nothing was remembered


def test_models_add_of_a_missing_path(tmp_path):
    assert_user_error(studio("models", "add", str(tmp_path / "gone"), cwd=tmp_path), "model folder not found", "gone")


def test_a_damaged_model_file_fails_the_job_with_a_message(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(builtin_models() / "cppn", broken)
    added = studio("models", "add", str(broken), cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "cppn:broken" in added.stdout
    # Damaged after it was added (adding refuses a damaged one: test_models_add_check.py).
    (broken / "model.onnx").write_bytes(b"this is not an onnx model \x00\xff" * 40)

    run = studio("generate", "cppn:broken", "-o", "out.png", *SMALL, cwd=tmp_path)
    assert_user_error(run, str(broken / "model.onnx"), "damaged")
    assert not (tmp_path / "out.png").exists()


def test_models_list_add_and_remove(tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(builtin_models() / "cppn", mine)

    assert studio("models", "add", str(mine), cwd=tmp_path).returncode == 0
    listed = studio("models", "list", cwd=tmp_path)
    assert str(mine) in listed.stdout and "generator cppn:mine" in listed.stdout
    assert "Built-in models" in listed.stdout and "cppn" in listed.stdout

    made = studio("generate", "cppn:mine", "-q", "-o", "m.png", "--param", "seed=2", *SMALL, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert read_parameters(tmp_path / "m.png")["generator"] == "cppn:mine"

    removed = studio("models", "remove", str(mine), cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert str(mine) not in studio("models", cwd=tmp_path).stdout
    assert_user_error(studio("models", "remove", str(mine), cwd=tmp_path), "not one of your model folders")


# -- plugins, generators, doctor -----------------------------------------------------------


def test_plugins_lists_cppn_as_loaded(tmp_path):
    run = studio("plugins", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    header, *rows = run.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "STATUS", "SOURCE"]
    cppn = next(row for row in rows if row.startswith("cppn "))
    assert cppn.split()[:3] == ["cppn", "loaded", "built-in"]


@pytest.mark.parametrize("args", [["--safe-mode", "plugins"], ["plugins", "--safe-mode"]])
def test_safe_mode_plugins(tmp_path, args):
    run = studio(*args, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Safe mode" in run.stdout
    assert any(row.split()[:2] == ["cppn", "loaded"] for row in run.stdout.splitlines())


def test_generators_lists_what_param_accepts(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one line per row here (tests/core/test_terminal_width.py wraps)
    run = studio("generators", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "cppn  (image)" in run.stdout
    rows = {line.split()[0]: line for line in run.stdout.splitlines()[3:] if line.startswith("  ")}
    assert "16 to 8192" in rows["width"] and "512" in rows["width"]
    assert "colour | grayscale | hsv" in rows["colour_mode"]
    assert "random" in rows["seed"]
    assert_user_error(studio("generators", "cpnn", cwd=tmp_path), "Did you mean: cppn?")


def test_doctor_tells_the_truth_about_the_gpu(tmp_path):
    run = studio("doctor", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "onnxruntime: " in out and "Python: " in out
    available = next(line for line in out.splitlines() if "providers in this build" in line)
    assert "CPUExecutionProvider" in available
    from studio.core.engine.onnx_import import import_onnxruntime

    if "CUDAExecutionProvider" in import_onnxruntime().get_available_providers():
        assert "CUDAExecutionProvider" in available
        assert "cuda:0" in out
    # The GPU line either names the GPU in use or says why it is not used.
    gpu = next(line.strip() for line in out.splitlines() if line.strip().startswith("GPU: "))
    assert gpu.startswith("GPU: used") or len(gpu) > len("GPU: not used: ") + 10
    if gpu.startswith("GPU: not used"):
        assert "really got: CPUExecutionProvider" in out
    assert "cppn: loaded" in out
    assert "Audio output: " in out
    assert f"Settings file: {os.environ['STUDIO_HOME']}" in out
    assert "Log file: " in out


def test_version(tmp_path):
    from studio import __version__

    run = studio("--version", cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == f"studio {__version__}"


def test_subcommands_never_import_qt_widgets(tmp_path):
    code = (
        "import sys; from studio.cli import main\n"
        "for args in (['plugins'], ['generators'], ['models'], ['doctor'],\n"
        "             ['generate', 'cppn', '-q', '-o', 'w.png', '--param', 'width=32', '--param', 'height=32']):\n"
        "    assert main(args) == 0, args\n"
        "assert 'PySide6.QtWidgets' not in sys.modules and 'PySide6.QtGui' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_one_line_on_a_terminal():
    from studio.cli.progress import ProgressBar
    from studio.core.engine.generators import Progress

    stream = TerminalStream()
    bar = ProgressBar(stream)
    bar(None, Progress(0, 0, "Loading model…"))
    bar(None, Progress(1, 4, "16 of 64 rows"))
    bar(None, Progress(4, 4, "64 of 64 rows"))
    bar.finish()

    drawn = stream.getvalue()
    assert "\n" not in drawn  # redrawn in place, never scrolled
    frames = drawn.split("\r")[1:]
    assert "Loading model…" in frames[0]
    assert frames[1].startswith("[######" + "-" * 18 + "]  25% 1/4 16 of 64 rows")
    assert frames[2].startswith("[" + "#" * 24 + "] 100% 4/4")
    assert frames[-2].strip() == "" and frames[-1] == ""  # wiped, so the next message starts clean


def test_generators_say_a_sound_or_picture_parameter_takes_a_file():
    from studio.cli.generators import describe_accepts
    from studio.core.engine.generators import Param

    assert describe_accepts(Param("audio_prompt", "audio", optional=True)) == "sound file (WAV, FLAC, OGG), or empty"
    assert describe_accepts(Param("init_image", "image")) == "image file (PNG, JPEG, WebP)"
    assert "mask" in describe_accepts(Param("mask", "mask", optional=True))


# -- projects: `studio P.studio` and `generate --project` ------------------------------------


def load(path: Path):
    from studio.core.project.load import load_project

    loaded = load_project(path)
    assert loaded.problems == []
    return loaded.project


def test_generate_into_a_project_adds_a_layer_text_and_a_take(tmp_path):
    """Four real generations into one project, then the file loaded as the window loads it."""
    first = studio("generate", "cppn", "-q", "--param", "seed=7", *SMALL, "--project", "P.studio", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == f"Added layer 'CPPN abstract art · 7' to new project {tmp_path / 'P.studio'}"
    assert list(tmp_path.iterdir()) == [tmp_path / "P.studio"]  # no picture file without -o

    both = studio("generate", "cppn", "-q", "-o", "x.png", "--param", "seed=8", "--param", "width=32", "--param", "height=48",
                  "--project", "P.studio", cwd=tmp_path)
    text = studio("generate", "shakespeare", "-q", "--prompt", "ROMEO:", "--param", "max_new_tokens=8", "--param", "seed=3",
                  "--project", "P.studio", cwd=tmp_path)
    audio = studio("generate", "chorale", "-q", "--param", "bars=1", "--param", "seed=5", "--project", "P.studio", cwd=tmp_path)
    for run in (both, text, audio):
        assert run.returncode == 0, run.stderr
    assert both.stdout.splitlines()[0] == str(tmp_path / "x.png")  # -o is still written
    assert both.stdout.splitlines()[-1] == f"Added layer 'CPPN abstract art · 8' to {tmp_path / 'P.studio'}"
    assert text.stdout.splitlines()[-1].startswith("Added text (")
    assert audio.stdout.splitlines()[-1].startswith("Added clip 'C major · 5' (3.0 s) on track 'C major · 5'")
    assert (tmp_path / "P.studio.bak").is_file()  # each save keeps the previous version

    project = load(tmp_path / "P.studio")

    image, history = project.image, project.history
    assert [layer.name for layer in image.layers] == ["CPPN abstract art · 7", "CPPN abstract art · 8"]
    assert (image.width, image.height) == (96, 64)  # the first picture sized the empty canvas
    assert image.layers[1].pixels.shape == (48, 32, 4) and (image.layers[1].x, image.layers[1].y) == (0, 0)
    assert np.array_equal(image.layers[1].pixels, pixels(tmp_path / "x.png"))
    assert image.layers[0].params["seed"] == 7 and image.layers[0].generator == "cppn"

    (span,) = project.text_spans
    assert span.start == 0 and span.end == len(project.text) > 0  # an empty text: the generation is all of it

    timeline = project.timeline
    (track,) = timeline.tracks
    (clip,) = track.clips
    assert track.name == clip.name == "C major · 5" and clip.start == 0  # named after its take
    assert clip.audio.sample_rate == timeline.sample_rate == 48000
    assert timeline.tempo == clip.info["tempo"] == 80  # the first clip set the piece's tempo
    assert clip.info["score"] and clip.params["bars"] == 1

    assert [(e.kind, e.generator, e.seed) for e in history] == [("image", "cppn", 7), ("image", "cppn", 8), ("text", "shakespeare", 3), ("audio", "chorale", 5)]
    assert [e.target for e in history] == [image.layers[0].id, image.layers[1].id, span.job, clip.id]
    assert all(e.model == "" and e.seconds > 0 for e in history)  # built-in models have no folder
    assert history[2].params["prompt"] == "ROMEO:" and history[3].title == "Bach chorale sketch"


def test_a_generator_from_a_model_folder_records_the_folder(tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(builtin_models() / "cppn", mine)
    assert studio("models", "add", str(mine), cwd=tmp_path).returncode == 0

    run = studio("generate", "cppn:mine", "-q", *SMALL, "--project", "P.studio", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    (entry,) = load(tmp_path / "P.studio").history
    assert entry.generator == "cppn:mine" and entry.model == str(mine)


def damaged_copy(source: Path, target: Path, member: str) -> None:
    """``source`` with one member's bytes spoiled: a project that opens only in part."""
    import zipfile

    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as out:
        for info in original.infolist():
            data = original.read(info.filename)
            out.writestr(info, b"not a png" + data[9:] if info.filename == member else data)


def test_a_damaged_project_is_refused_with_its_problems_and_never_saved_over(tmp_path):
    made = studio("generate", "cppn", "-q", "--param", "seed=1", *SMALL, "--project", "good.studio", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    damaged_copy(tmp_path / "good.studio", tmp_path / "P.studio", "canvas/0.png")
    before = (tmp_path / "P.studio").read_bytes()

    run = studio("generate", "cppn", "-q", "--param", "seed=2", *SMALL, "--project", "P.studio", cwd=tmp_path)

    assert run.returncode == 2 and run.stderr.startswith("studio: error: ") and "Traceback" not in run.stderr, run.stderr
    for words in ("P.studio could not be read completely", "nothing was added", "“CPPN abstract art · 1” could not be read and was left out"):
        assert words in run.stderr, run.stderr
    assert (tmp_path / "P.studio").read_bytes() == before
    assert not (tmp_path / "P.studio.bak").exists()
    assert "Loading model" not in run.stderr  # refused before generating


@pytest.mark.parametrize(
    "project, words",
    [
        ("nowhere/P.studio", ["the folder nowhere does not exist"]),
        ("P", ["ends in .studio", "did you mean P.studio?"]),
        (".", ["it is a folder"]),
        ("junk.studio", ["junk.studio"]),  # not a project at all (written below)
    ],
    ids=["missing-folder", "no-suffix", "folder", "not-a-project"],
)
def test_project_paths_that_cannot_take_a_result(tmp_path, project, words):
    if project == "junk.studio":
        (tmp_path / project).write_bytes(b"just some bytes, not a zip archive")
    before = sorted(p.name for p in tmp_path.iterdir())

    run = studio("generate", "cppn", "-q", *SMALL, "--project", project, cwd=tmp_path)

    assert_user_error(run, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_failed_generation_creates_no_project(tmp_path):
    run = studio("generate", "cppn", "--param", "width=9000", "--project", "P.studio", cwd=tmp_path)
    assert_user_error(run, "width", "out of range")
    assert not (tmp_path / "P.studio").exists()


def test_studio_with_a_missing_project_says_so_before_any_window(tmp_path):
    code = (
        "import sys; from studio.cli import main\n"
        "code = main(['--safe-mode', 'gone.studio'])\n"
        "assert 'PySide6.QtWidgets' not in sys.modules, 'a window was started'\n"
        "sys.exit(code)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert_user_error(run, "no such project: gone.studio")


def test_studio_opens_a_project_given_on_the_command_line(tmp_path):
    made = studio("generate", "cppn", "-q", "--param", "seed=4", *SMALL, "--project", "P.studio", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    # The real window, offscreen: once it runs, report what it opened and close it.
    code = (
        "import sys\n"
        "import studio.ui.app as app\n"
        "from PySide6.QtCore import QTimer\n"
        "make = app.create_window\n"
        "def create_window(*args, **kwargs):\n"
        "    window = make(*args, **kwargs)\n"
        "    def report():\n"
        "        print(window.project.path)\n"
        "        print([layer.name for layer in window.canvas.document.layers], flush=True)\n"
        "        app.application().exit(0)\n"
        "    QTimer.singleShot(0, report)\n"
        "    return window\n"
        "app.create_window = create_window\n"
        "from studio.cli import main\n"
        "sys.exit(main(['P.studio']))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:2] == [str(tmp_path / "P.studio"), "['CPPN abstract art · 4']"], run.stdout + run.stderr


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["P.studio"], "P.studio"),
        (["--safe-mode", "sub/P.STUDIO"], "sub/P.STUDIO"),
        (["x.png"], "x.png"),  # any existing file: the window says what it is
        (["generate", "cppn", "--project", "P.studio"], None),
        (["plugins"], None),
        (["bogus"], None),  # argparse: "invalid choice"
        (["--", "P.studio"], None),
    ],
)
def test_which_word_is_a_project(tmp_path, monkeypatch, argv, expected):
    from studio.cli import build_parser
    from studio.cli.window import project_argument

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.png").write_bytes(b"")
    assert project_argument(build_parser(), argv) == expected


def test_the_cli_and_the_project_agree_on_the_suffix():
    from studio.cli.window import SUFFIX
    from studio.core.project.format import SUFFIX as PROJECT_SUFFIX

    assert SUFFIX == PROJECT_SUFFIX


# -- add_result, the Qt-free core of `--project` --------------------------------------------


def test_text_goes_after_one_blank_line_and_is_marked_in_editor_positions():
    from studio.core.engine.generators import Result
    from studio.core.project.format import Project
    from studio.core.project.results import add_result, describe_added

    project = Project(text="Dear diary 🙂\n")
    entry = add_result(project, Result("text", "It rained ☂ all day", "shakespeare", {"seed": 1}), "Shakespeare")

    assert project.text == "Dear diary 🙂\n\nIt rained ☂ all day"
    (span,) = project.text_spans
    assert span.job == entry.target and entry.kind == "text"
    units = project.text.encode("utf-16-le")  # the editor counts UTF-16 code units: 🙂 is two
    assert units[2 * span.start : 2 * span.end].decode("utf-16-le") == "It rained ☂ all day"
    assert describe_added(project, entry) == "text (19 characters: “It rained ☂ all day”)"

    add_result(project, Result("text", "More.", "shakespeare", {"seed": 2}), "Shakespeare")
    assert project.text.endswith("all day\n\nMore.") and len(project.history) == 2


def test_audio_is_resampled_onto_a_new_track_from_bar_one_and_only_the_first_sets_the_tempo():
    from studio.core.engine.generators import Result
    from studio.core.project.format import Project
    from studio.core.project.results import add_result

    project = Project()
    tone = np.sin(np.arange(22050, dtype=np.float32) / 10)
    first = add_result(project, Result("audio", tone, "chorale", {"seed": 1, "key": "G major"}, 22050, {"tempo": 96}), "Chorale")
    second = add_result(project, Result("audio", np.stack([tone, tone], 1), "chorale", {"seed": 2}, 48000, {"tempo": 140}), "Chorale")

    timeline = project.timeline
    # a take and its track are named after what it is (key and seed); the generator's title only without words
    assert [t.name for t in timeline.tracks] == ["G major · 1", "Chorale"]
    a, b = (t.clips[0] for t in timeline.tracks)
    assert (a.id, b.id) == (first.target, second.target)
    assert a.start == b.start == 0 and a.name == "G major · 1" and b.name == "Chorale · 2"
    assert a.audio.sample_rate == timeline.sample_rate == 48000 and a.length == 48000  # one second, resampled
    assert b.channels == 2 and b.length == 22050
    assert timeline.tempo == 96


def test_a_result_a_project_cannot_hold_changes_nothing():
    from studio.core.engine.generators import Result
    from studio.core.project.format import Project
    from studio.core.project.results import add_result
    from studio.errors import StudioError

    project = Project()
    with pytest.raises(StudioError, match="cannot place"):
        add_result(project, Result("image", np.zeros((4, 4), np.float32), "x", {}), "X")
    with pytest.raises(StudioError, match="cannot place"):
        add_result(project, Result("audio", np.zeros((0, 1), np.float32), "x", {}, 48000), "X")
    assert project.image.layers == [] and project.timeline.tracks == () and project.history == []
