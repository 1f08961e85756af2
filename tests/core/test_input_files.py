"""Files a person names as input (an init image, a mask, an audio prompt, an imported picture,
sound or text, a project) are opened by one opener, ``studio.core.base.input_files.open_input``:
a named pipe (opening one waits for a writer, forever), a device (``/dev/zero`` never ends), a
folder or a file larger than anything Studio reads is refused with a plain sentence, at once.
`studio generate … --param init_image=FIFO` used to hang the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from studio.core.media.sound_files import read_audio
from studio.core.media.pictures import load_picture, read_picture
from studio.core.base.input_files import MAX_INPUT_BYTES, open_input
from studio.core.project.load import load_project
from studio.core.text.document import read_text
from studio.errors import StudioError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")


def refused_at_once(fifo: Path, read: Callable[[], Any]) -> StudioError:
    """Run ``read`` in a thread: a reader blocked on the pipe is released and the test fails."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(read())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        with open(fifo, "wb"):  # the blocked open returns, reads nothing
            pass
        thread.join(10)
        pytest.fail(f"opening the named pipe {fifo.name} blocked waiting for a writer")
    assert isinstance(outcome[0], StudioError), outcome
    return outcome[0]


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "input.png"
    os.mkfifo(path)
    return path


READERS = {
    "open_input": lambda path: open_input(path, "picture"),
    "read_picture": lambda path: read_picture(path),
    "init_image": lambda path: load_picture(path, "image", "init_image"),
    "mask": lambda path: load_picture(path, "mask", "mask"),
    "read_audio": lambda path: read_audio(path),
    "read_text": lambda path: read_text(path),
    "load_project": lambda path: load_project(path),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_a_named_pipe_is_refused_at_once_by_every_reader(fifo, reader):
    error = refused_at_once(fifo, lambda: READERS[reader](fifo))
    assert "named pipe" in str(error) and str(fifo) in str(error)


@pytest.mark.parametrize("reader", list(READERS))
def test_a_device_is_refused_by_every_reader(reader):
    with pytest.raises(StudioError, match="is a device, not"):
        READERS[reader]("/dev/zero")


@pytest.mark.parametrize("reader", list(READERS))
def test_a_folder_is_refused_by_every_reader(tmp_path, reader):
    with pytest.raises(StudioError, match="it is a folder, not"):
        READERS[reader](tmp_path)


def test_a_file_past_the_size_cap_is_refused_before_a_byte_is_read(tmp_path):
    huge = tmp_path / "huge.wav"
    with open(huge, "wb") as file:  # sparse: no disk is used
        file.truncate(MAX_INPUT_BYTES + 1)
    for reader in ("read_audio", "read_picture", "read_text"):
        with pytest.raises(StudioError, match="larger than"):
            READERS[reader](huge)
    with pytest.raises(StudioError, match="larger than"):
        open_input(tmp_path / "huge.wav", "sound file", max_bytes=10)


def test_a_regular_file_opens_and_reads(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Dear diary")
    with open_input(path, "text file") as file:
        assert file.read() == b"Dear diary"
    assert read_text(path) == "Dear diary"


def test_a_missing_file_says_so():
    with pytest.raises(StudioError, match="no such file"):
        open_input("/no/such/picture.png", "picture")


def studio_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=90)


@pytest.mark.parametrize("folder, generator, param", [
    ("sd/models/sd1", "sd:sd1", "init_image"),
    ("sd/models/sd1", "sd:sd1", "mask"),
    ("musicgen/model", "musicgen:model", "audio_prompt"),
])
def test_the_cli_refuses_a_pipe_as_an_input_file_in_one_line(tmp_path, fifo, folder, generator, param):
    added = studio_cli("models", "add", str(FIXTURES / folder), cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    try:
        run = studio_cli("generate", generator, "-q", "--prompt", "x", "--param", f"{param}={fifo}", cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("`studio generate` hung on a named pipe given as an input file")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"studio: error: {param}: ") and "named pipe" in last, run.stderr
