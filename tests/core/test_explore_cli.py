"""``studio explore`` and the latent parameter on the command line, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from studio.core.project.outputs import read_parameters

SMALL = ("--param", "width=32", "--param", "height=32")


def studio(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def user_error(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("studio: error: "), run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA")).copy()


def frames_of(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGBA")).copy() for frame in ImageSequence.Iterator(image)]


def test_a_latent_kept_in_a_png_makes_the_same_picture_again(tmp_path):
    first = studio("generate", "cppn", "-o", "a.png", "--param", "seed=7", *SMALL, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    latent = read_parameters(tmp_path / "a.png")["params"]["latent"]
    assert len(latent) == 8 and all(isinstance(v, float) for v in latent)
    # The printed command reproduces it, the latent exact and unquoted (commas, no spaces).
    assert "--param latent=" in first.stdout
    again = studio("generate", "cppn", "-o", "b.png", "--param", "seed=99", "--param", "latent=" + ",".join(map(repr, latent)), *SMALL, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert np.array_equal(pixels(tmp_path / "a.png"), pixels(tmp_path / "b.png"))
    user_error(studio("generate", "cppn", "--param", "latent=1,2,3", *SMALL, cwd=tmp_path), "3 numbers, but this model's latent has 8")
    user_error(studio("generate", "cppn", "--param", "latent=1,x", *SMALL, cwd=tmp_path), "latent", "numbers separated by commas")


def test_explore_writes_a_morph_whose_ends_are_the_two_pictures(tmp_path):
    for seed in ("7", "9"):
        run = studio("generate", "cppn", "-o", f"{seed}.png", "--param", f"seed={seed}", *SMALL, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
    run = studio("explore", "cppn", "--from", "7", "--to", "9", "--frames", "6", "-o", "morph.webp", "-q", *SMALL, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()) == (tmp_path / "morph.webp").resolve()
    assert run.stderr == ""  # -q: no progress
    frames = frames_of(tmp_path / "morph.webp")
    assert len(frames) == 6 and all(frame.shape == (32, 32, 4) for frame in frames)
    assert np.array_equal(frames[0], pixels(tmp_path / "7.png")) and np.array_equal(frames[-1], pixels(tmp_path / "9.png"))
    assert not np.array_equal(frames[2], frames[0])
    # Kept latents from pictures, through a stop on the way, as a GIF.
    run = studio("explore", "cppn", "--from", "7.png", "--via", "3", "--to", "9.png", "--frames", "5", "--fps", "5", "-o", "m.gif", "-q", *SMALL, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    with Image.open(tmp_path / "m.gif") as gif:
        assert gif.n_frames == 5 and gif.info.get("duration") == 200 and gif.info.get("loop") == 0


@pytest.mark.parametrize("args, words", [
    (("explore", "resize", "--from", "1", "--to", "2"), ("has no latent space", "cppn")),
    (("explore", "cppn", "--from", "1", "--to", "2", "--frames", "1"), ("--frames 1",)),
    (("explore", "cppn", "--from", "1", "--to", "2", "-o", "x.mp4"), (".webp or .gif",)),
    (("explore", "cppn", "--from", "1", "--to", "2", "-o", "nowhere/x.gif"), ("does not exist",)),
    (("explore", "cppn", "--from", "1", "--to", "2", "--param", "latent=1"), ("explore sets these itself",)),
    (("explore", "cppn", "--from", "missing.png", "--to", "2"), ("missing.png",)),
    (("explore", "cppn", "--from", "1", "--to", "2", "--param", "width=5"), ("width",)),
    (("explore", "nobody", "--from", "1", "--to", "2"), ("nobody",)),
])
def test_explore_refuses_what_it_cannot_do_in_words(tmp_path, args, words):
    user_error(studio(*args, cwd=tmp_path), *words)


def test_explore_refuses_a_picture_of_another_model(tmp_path):
    (tmp_path / "plain.png").write_bytes(b"")
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    user_error(studio("explore", "cppn", "--from", "plain.png", "--to", "2", cwd=tmp_path), "holds no latent")
    made = studio("generate", "resize", "--param", "image=plain.png", "-o", "r.png", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    user_error(studio("explore", "cppn", "--from", "r.png", "--to", "2", cwd=tmp_path), "holds no latent")
