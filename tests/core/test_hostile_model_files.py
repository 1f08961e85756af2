"""Model files and inputs that asked Studio for gigabytes, or hung or aborted it (issue 11, item 5).

Each case runs the real command line in a child process under an address-space limit
(``ulimit -v``), the way a user's machine with little free memory would run it: before the
fix the child was killed, aborted or failed with an internal error; now it exits with status 2
and one plain line that names the cause. The hostile folders are copies of the tiny test
models with one JSON value changed.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LIMIT = 1536 << 20  # the tiny models run in far less; each reported case asked for several GB


def limited(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def studio(*args: str, cwd: Path, limit: int = LIMIT, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        preexec_fn=limited(limit), env=dict(os.environ),
    )


def assert_plain_error(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("studio: error: "), run.stderr
    for word in words:
        assert word in last, last


def hostile_copy(tmp_path: Path, fixture: Path, name: str, edit) -> Path:
    folder = tmp_path / name
    shutil.copytree(fixture, folder)
    edit(folder)
    return folder


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def added(folder: Path, cwd: Path) -> subprocess.CompletedProcess:
    """``studio models add`` as a user runs it: it loads the folder and says what became of it."""
    return studio("models", "add", str(folder), cwd=cwd)


# -- sizes read from model folders ---------------------------------------------------------------


def test_musicgen_with_a_billion_codebooks_is_refused_naming_the_file_and_the_value(tmp_path):
    folder = hostile_copy(tmp_path, FIXTURES / "musicgen" / "model", "codebooks",
                          lambda f: edit_json(f / "config.json", lambda c: c["decoder"].update(num_codebooks=1_000_000_000)))
    # Adding the folder says why it cannot be used, before anything is allocated...
    assert_plain_error(added(folder, tmp_path), "config.json", "decoder.num_codebooks", "1,000,000,000", "from 1 to 64")
    # ...and a generation asked of it anyway ends plainly (before the fix: a 7.45 GiB array).
    run = studio("generate", "musicgen:codebooks", "--prompt", "a cello", "--param", "duration=1", "-o", "x.flac", cwd=tmp_path)
    assert_plain_error(run, "musicgen:codebooks")


def test_a_scheduler_config_with_a_billion_timesteps_is_refused_naming_the_file_and_the_value(tmp_path):
    folder = hostile_copy(tmp_path, FIXTURES / "sd" / "models" / "sd1", "timesteps",
                          lambda f: edit_json(f / "scheduler" / "scheduler_config.json",
                                              lambda c: c.update(num_train_timesteps=1_000_000_000)))
    assert_plain_error(added(folder, tmp_path), "scheduler_config.json", "num_train_timesteps", "1,000,000,000", "100,000")
    run = studio("generate", "sd:timesteps", "--prompt", "a fox", "--param", "width=64", "--param", "height=64",
                 "--param", "steps=1", "-o", "x.png", cwd=tmp_path)
    assert_plain_error(run, "sd:timesteps")


def _sparse(path: Path, size: int = 10 << 30) -> None:
    """``path`` replaced by a file of ``size`` bytes that takes no room on disk (a hole)."""
    path.unlink()
    with open(path, "wb") as file:
        file.truncate(size)


def test_a_ten_gigabyte_config_file_is_refused_by_its_size_before_it_is_read(tmp_path):
    folder = hostile_copy(tmp_path, FIXTURES / "lm" / "models" / "llama", "bigconfig",
                          lambda f: _sparse(f / "generation_config.json"))
    assert_plain_error(added(folder, tmp_path), "generation_config.json is 10.7 GB", "up to 268 MB")


def test_a_ten_gigabyte_tokenizer_is_refused_by_its_size_before_it_is_read(tmp_path):
    folder = hostile_copy(tmp_path, FIXTURES / "lm" / "models" / "llama", "bigtokenizer",
                          lambda f: _sparse(f / "tokenizer.json"))
    added(folder, tmp_path)
    run = studio("generate", "lm:bigtokenizer", "--prompt", "To be", "--param", "max_new_tokens=4", cwd=tmp_path)
    assert_plain_error(run, "tokenizer.json is 10.7 GB", "up to 268 MB")


# -- prompts and chat templates -------------------------------------------------------------------


def test_a_long_musicgen_prompt_is_cut_to_the_encoder_and_the_user_is_told(tmp_path):
    folder = hostile_copy(tmp_path, FIXTURES / "musicgen" / "model", "tiny", lambda f: None)
    assert added(folder, tmp_path).returncode == 0
    prompt = "a slow waltz for cello and harp, " * 1000  # 33 KB: a 30 KB prompt reached 23.8 GB
    run = studio("generate", "musicgen:tiny", "--prompt", prompt, "--param", "duration=0.5", "--param", "seed=1",
                 "-o", "x.flac", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "the prompt is longer than the text encoder reads: it was cut to its first 512 tokens" in run.stderr


def _with_chat_template(template: str):
    def edit(folder: Path) -> None:
        edit_json(folder / "tokenizer_config.json", lambda c: c.update(chat_template=template))

    return edit


def test_a_chat_template_that_repeats_a_string_a_hundred_million_times_is_stopped_plainly(tmp_path):
    # It made a 300 MB prompt, and the tokenizer aborted the whole process on it (SIGABRT).
    folder = hostile_copy(tmp_path, FIXTURES / "lm" / "models" / "llama", "repeats", _with_chat_template("{{ 'ab ' * 10**8 }}"))
    assert added(folder, tmp_path).returncode == 0
    run = studio("generate", "lm:repeats", "--prompt", "To be", "--param", "instruction=Modernise",
                 "--param", "max_new_tokens=4", cwd=tmp_path)
    assert_plain_error(run, "chat template", "repeats a text 100,000,000 times")


def test_a_chat_template_with_nested_loops_is_stopped_within_seconds(tmp_path):
    template = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
    folder = hostile_copy(tmp_path, FIXTURES / "lm" / "models" / "llama", "loops", _with_chat_template(template))
    assert added(folder, tmp_path).returncode == 0
    run = studio("generate", "lm:loops", "--prompt", "To be", "--param", "instruction=Modernise",
                 "--param", "max_new_tokens=4", cwd=tmp_path, timeout=60)
    assert_plain_error(run, "chat template", "range")
    # And loops small enough to pass the range bound still stop at the deadline.
    edit_json(folder / "tokenizer_config.json", lambda c: c.update(
        chat_template="{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}x"))
    run = studio("generate", "lm:loops", "--prompt", "To be", "--param", "instruction=Modernise",
                 "--param", "max_new_tokens=4", cwd=tmp_path, timeout=60)
    assert_plain_error(run, "chat template", "ran for more than")


# -- input pictures and memory ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    """A 16384 x 16384 PNG of about 1 MB: 1 GiB of pixels once decoded."""
    path = tmp_path_factory.mktemp("pictures") / "huge.png"
    Image.new("L", (16384, 16384)).save(path)
    return path


def test_a_huge_init_image_is_refused_by_its_header_before_it_is_decoded(tmp_path, huge_png):
    folder = hostile_copy(tmp_path, FIXTURES / "sd" / "models" / "sd1", "tiny", lambda f: None)
    assert added(folder, tmp_path).returncode == 0
    run = studio("generate", "sd:tiny", "--prompt", "a fox", "--param", "width=64", "--param", "height=64",
                 "--param", "steps=1", "--param", f"init_image={huge_png}", "-o", "x.png", cwd=tmp_path)
    assert_plain_error(run, "init_image", "16384 × 16384", "8192 × 8192")


def test_a_picture_larger_than_free_memory_is_refused_before_it_is_made(tmp_path):
    # 8192 x 8192 is within CPPN's range, but its 268 MB picture does not fit in 520 MB of
    # address space, in which a 512 x 512 picture (10 MB) is made: the process itself (Python,
    # Qt's core for the settings, onnxruntime and its threads' reservations) takes about 390 MB
    # of it before the picture, and a limit closer to that made the small run fail by chance.
    run = studio("generate", "cppn", "--param", "width=8192", "--param", "height=8192", "-o", "x.png",
                 cwd=tmp_path, limit=520 << 20)
    assert_plain_error(run, "8192 × 8192", "needs about", "free")
    run = studio("generate", "cppn", "--param", "width=512", "--param", "height=512", "-o", "y.png",
                 cwd=tmp_path, limit=520 << 20)
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_two_gigabyte_sound_file_as_audio_prompt_is_refused_before_it_is_read(tmp_path):
    """A WAV whose header (and size on disk, as a hole) says 950 million frames: 3.8 GB as float32."""
    path = tmp_path / "long.wav"
    soundfile.write(path, np.zeros(800, np.int16), 8000, subtype="PCM_16")
    header = bytearray(path.read_bytes())
    at = header.find(b"data")
    size = 1_900_000_000
    header[at + 4 : at + 8] = struct.pack("<I", size)
    header[4:8] = struct.pack("<I", size + at)
    with open(path, "wb") as file:
        file.write(header[: at + 8])
        file.truncate(at + 8 + size)
    folder = hostile_copy(tmp_path, FIXTURES / "musicgen" / "model", "tiny", lambda f: None)
    assert added(folder, tmp_path).returncode == 0
    run = studio("generate", "musicgen:tiny", "--prompt", "a cello", "--param", "duration=0.5",
                 "--param", f"audio_prompt={path}", "-o", "x.flac", cwd=tmp_path)
    assert_plain_error(run, "long.wav needs about 7.6 GB", "free")
