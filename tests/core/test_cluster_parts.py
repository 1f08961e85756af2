"""The render nodes' parts that need no cluster: where the address comes from, how a model
folder is fingerprinted, hashed and received on a node (hostile paths and damaged content
refused), and how a retried job avoids passing on text or audio twice."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from studio.cluster.address import ClusterAddress, check_address, cluster_address
from studio.cluster.executor import Delivered
from studio.cluster.folders import NodeCache, digest, fingerprint, folder_size, model_files, read_chunks
from studio.core.engine.generators import Preview, Progress
from studio.errors import StudioError


def test_the_settings_address_wins_except_empty_or_auto_where_RAY_ADDRESS_does(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert cluster_address("") is None
    assert cluster_address(" ray://box:10001 ") == ClusterAddress("ray://box:10001", "the settings")
    monkeypatch.setenv("RAY_ADDRESS", "ray://env:10001")
    assert cluster_address("") == ClusterAddress("ray://env:10001", "RAY_ADDRESS")
    assert cluster_address("auto") == ClusterAddress("ray://env:10001", "RAY_ADDRESS")  # as ray.init does
    assert cluster_address("box:6379") == ClusterAddress("box:6379", "the settings")
    assert ClusterAddress("ray://box:10001", "x").is_client and not ClusterAddress("box:6379", "x").is_client
    assert ClusterAddress("ray://[::1]:10001", "x").host_port == ("::1", 10001)


@pytest.mark.parametrize("text, words", [
    ("gpu box:10001", "not one Ray understands"),
    ("http://box:10001", "not one Ray understands"),
    ("box", "not one Ray understands"),
    ("box:0", "no valid port"),
    ("ray://no-such-host.invalid:10001", "no host called"),
])
def test_a_malformed_or_unknown_address_is_said_plainly(text, words):
    with pytest.raises(StudioError, match=words):
        check_address(ClusterAddress(text, "the settings"))


def test_a_closed_port_is_said_at_once_with_how_to_start_the_cluster():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        started = time.monotonic()
        with pytest.raises(StudioError) as caught:
            check_address(ClusterAddress(f"ray://127.0.0.1:{port}", "RAY_ADDRESS"))
    assert time.monotonic() - started < 3
    assert "cannot reach the Ray cluster" in str(caught.value) and f"--ray-client-server-port={port}" in str(caught.value)
    check_address(ClusterAddress("auto", "the settings"))  # Ray finds it itself


def make_folder(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_a_folder_is_fingerprinted_by_its_files_and_hashed_by_their_content(tmp_path):
    one = make_folder(tmp_path / "one" / "bard", {"model.onnx": b"graph", "tokenizer/vocab.json": b"{}"})
    two = make_folder(tmp_path / "two" / "bard", {"model.onnx": b"graph", "tokenizer/vocab.json": b"{}"})
    assert [rel for rel, _ in model_files(one)] == ["model.onnx", "tokenizer/vocab.json"]
    assert folder_size(fingerprint(one)) == 7
    assert digest(one) == digest(two), "the same content, wherever it lies"
    (two / "model.onnx").write_bytes(b"graph2")
    assert digest(two) != digest(one) and fingerprint(two) != fingerprint(one)


def receive(cache, digest_, name, files, size):
    """What a worker does with a sent folder: begin, each file's chunks in order, finish."""
    incoming = cache.begin(digest_, name, size)
    try:
        for rel, chunks in files:
            incoming.write(rel, b"", first=True)
            for chunk in chunks:
                incoming.write(rel, chunk)
        return incoming.finish()
    finally:
        incoming.abort()


def test_a_node_receives_a_folder_whole_checks_it_and_refuses_what_could_leave_it(tmp_path):
    source = make_folder(tmp_path / "src" / "bard", {"model.onnx": b"x" * 100, "sub/config.json": b"{}"})
    cache = NodeCache(tmp_path / "cache")
    files = [(rel, read_chunks(path)) for rel, path in model_files(source)]
    placed = receive(cache, digest(source), "bard", iter(files), 102)
    assert placed.name == "bard" and (placed / "sub" / "config.json").read_bytes() == b"{}"
    assert cache.find(digest(source), "bard") == placed
    assert digest(placed) == digest(source)
    assert not [p for p in cache.root.iterdir() if p.name.startswith(".incoming")]

    with pytest.raises(StudioError, match="arrived damaged"):
        receive(cache, "0" * 64, "bard", iter([("model.onnx", iter([b"other"]))]), 5)
    assert cache.find("0" * 64, "bard") is None, "a damaged folder is never found"
    for rel in ("../escape.onnx", "/etc/passwd", "a/../../b", "a\\..\\b"):
        with pytest.raises(StudioError, match="could leave its folder"):
            receive(cache, "1" * 64, "bard", iter([(rel, iter([b"x"]))]), 1)
    for name in ("..", "a/b", ""):
        with pytest.raises(StudioError, match="not a plain name"):
            receive(cache, "1" * 64, name, iter([]), 0)
    with pytest.raises(StudioError, match="free"):
        receive(cache, "2" * 64, "huge", iter([]), 10**18)


def text(chunk):
    return Preview("text", chunk)


def test_a_retried_job_passes_on_only_what_the_first_try_had_not():
    seen = Delivered()
    first = [seen.admit(e) for e in (text("To be, "), Progress(1, 3), text("or not"))]
    assert [e.value for e in first if isinstance(e, Preview)] == ["To be, ", "or not"]
    seen.retrying()  # the worker died; the retry makes the same text again, cut differently
    again = [seen.admit(e) for e in (text("To "), text("be, or no"), text("t to be"))]
    passed = "".join(e.value for e in again if e is not None)
    assert "To be, or not" + passed == "To be, or not to be"
    sound = Delivered()
    chunk = np.arange(10, dtype=np.float32).reshape(5, 2)
    assert sound.admit(Preview("audio", chunk, 8000)).value.shape == (5, 2)
    sound.retrying()
    assert sound.admit(Preview("audio", chunk[:3], 8000)) is None
    rest = sound.admit(Preview("audio", chunk, 8000))
    assert np.array_equal(rest.value, chunk[2:])


def test_without_ray_the_cluster_device_says_what_to_install_and_the_rest_works(tmp_path):
    import os
    import subprocess
    import sys

    missing = tmp_path / "no-ray" / "ray"  # what `import ray` meets on a machine without the extra
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = {**os.environ, "PYTHONPATH": str(missing.parent), "RAY_ADDRESS": "auto", "STUDIO_HOME": str(tmp_path / "home")}
    studio = [sys.executable, "-m", "studio"]
    started = time.monotonic()
    ray_job = subprocess.run([*studio, "generate", "cppn", "--device", "ray", "-q", "-p", "width=16", "-p", "height=16"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert ray_job.returncode == 2 and "Traceback" not in ray_job.stderr, ray_job.stderr
    assert "pip install 'studio-desktop[cluster]'" in ray_job.stderr
    assert time.monotonic() - started < 60
    doctor = subprocess.run([*studio, "doctor"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert doctor.returncode == 0 and "Ray cluster: auto (from RAY_ADDRESS)" in doctor.stdout, doctor.stdout + doctor.stderr
    assert "not usable: the Ray cluster needs Ray" in doctor.stdout
    here = subprocess.run([*studio, "generate", "cppn", "--device", "cpu", "-q", "-p", "width=16", "-p", "height=16", "-o", "x.png"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert here.returncode == 0 and (tmp_path / "x.png").is_file(), here.stderr


def test_gateway_messages_carry_results_sounds_and_notes_as_plain_data_and_refuse_the_rest():
    import io
    import json
    import struct
    from pathlib import Path

    from studio.cluster.messages import GeneratorRef, JobSpec, read_message, write_message
    from studio.core.audio.midi import Note
    from studio.core.engine.generators import Result
    from studio.core.media.sound import Audio

    picture = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    sound = Audio(np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2), 8000)
    result = Result("image", picture, "cppn", {"seed": 3, "loras": (("a.safetensors", 0.5),), "audio": sound},
                    info={"score": [Note(60, 0.0, 1.0, 80, 0)], "rate": np.float32(1.5), "folder": Path("/m")})
    spec = JobSpec("j", GeneratorRef("lm:bard", "text_lm", "/m/bard"), {"seed": 1})
    stream = io.BytesIO()
    for message in (("event", "j", result), ("run", "j", spec), ("reply", 1, True, [{"plugins": {"cppn": {"version": "1"}}}])):
        write_message(stream, message)
    stream.seek(0)
    got = read_message(stream)[2]
    assert np.array_equal(got.value, picture) and got.value.flags.writeable
    assert got.params["loras"] == (("a.safetensors", 0.5),) and np.array_equal(got.params["audio"].samples, sound.samples)
    assert got.info == {"score": [Note(60, 0.0, 1.0, 80, 0)], "rate": 1.5, "folder": Path("/m")}
    assert read_message(stream) == ("run", "j", spec)
    assert read_message(stream)[3][0]["plugins"]["cppn"]["version"] == "1"
    with pytest.raises(EOFError):
        read_message(stream)
    with pytest.raises(StudioError, match="cannot pass a object"):
        write_message(io.BytesIO(), ("event", "j", object()))

    def framed(header, *arrays):
        data = json.dumps(header).encode()
        out = struct.pack("<QI", len(data), len(arrays)) + data
        for raw in arrays:
            out += struct.pack("<Q", len(raw)) + raw
        return io.BytesIO(out)

    hostile = [
        framed({"$": "array", "dtype": "|O", "shape": [1]}, b"\0" * 8),  # Python objects: never
        framed({"$": "array", "dtype": "<f4", "shape": [1000000]}, b"\0" * 8),  # a size its bytes do not have
        framed({"$": "array", "dtype": "<f4", "shape": [2]}),  # cut short
        framed({"$": "os.system", "v": {}}),  # a kind that is not on the list
        io.BytesIO(struct.pack("<QI", 2**40, 0)),  # a header no message has
    ]
    for stream in hostile:
        with pytest.raises((ValueError, TypeError)):
            read_message(stream)
