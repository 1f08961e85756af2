"""Each member of a project file is read and decoded at most once, within one budget.

A hostile 138 KB project whose one PNG was named by 24 layers made the loader decode it 24
times: memory grew with the number of references, not with the file. A save names each
member once, so a second reference is malformed: the part that makes it is left out (and
named), the rest opens. And every picture's declared size is counted against the
project's budget before any picture is decoded.
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np

import studio.core.project.format as project_module
from studio.core.image.document import ImageDocument, Layer
from studio.core.project.format import Project
from studio.core.project.load import read_project
from studio.core.project.save import save_project
from studio.core.media.sound import Audio
from studio.core.audio.timeline import Clip, Timeline, Track
from test_project_samples import rebuild

SIDE = 512  # one picture: 1 MiB of RGBA; a solid colour packs it into a few KB


def _one_picture_project(tmp_path) -> bytes:
    doc = ImageDocument(SIDE, SIDE)
    doc.layers.append(Layer("solid", np.full((SIDE, SIDE, 4), 200, np.uint8)))
    return save_project(Project(image=doc), tmp_path / "one.studio").read_bytes()


def _canvas(data: bytes, change) -> bytes:
    return rebuild(data, change=lambda name, body: json.dumps(change(json.loads(body))).encode()
                   if name == "canvas.json" else body,
                   manifest=lambda m: m)


def _fix_manifest(data: bytes) -> bytes:
    """The manifest lists the sizes the members have now (the hostile file is consistent)."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist() if info.filename != "manifest.json"}
    return rebuild(data, manifest=lambda m: {**m, "members": sizes})


def test_a_picture_named_by_24_layers_is_decoded_once(tmp_path):
    data = _one_picture_project(tmp_path)

    def many(canvas):
        canvas["layers"] = [{**canvas["layers"][0], "name": f"copy {n}", "id": 100 + n} for n in range(24)]
        return canvas

    hostile = _fix_manifest(_canvas(data, many))
    assert len(hostile) < 64 * 1024
    tracemalloc.start()
    try:
        loaded = read_project(hostile, "hostile.studio")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [layer.name for layer in loaded.project.image.layers] == ["copy 0"]
    assert len(loaded.problems) == 23
    assert all("canvas/0.png" in p and "another part" in p for p in loaded.problems), loaded.problems
    assert peak < 6 * SIDE * SIDE * 4, f"loading took {peak / 2**20:.0f} MiB for one 1 MiB picture"


def test_the_mask_cannot_reuse_a_layer_picture(tmp_path):
    hostile = _fix_manifest(_canvas(_one_picture_project(tmp_path), lambda c: {**c, "mask": "canvas/0.png"}))
    loaded = read_project(hostile, "hostile.studio")
    assert len(loaded.project.image.layers) == 1 and loaded.project.image.mask is None
    assert len(loaded.problems) == 1 and "mask" in loaded.problems[0] and "canvas/0.png" in loaded.problems[0]


def test_two_audio_entries_cannot_share_one_wav(tmp_path):
    audio = Audio(np.zeros((4800, 2), np.float32), 48_000)
    timeline = Timeline().add_track(Track("t"))
    timeline = timeline.add_clip(timeline.tracks[0].id, Clip("a", audio))
    timeline = timeline.add_clip(timeline.tracks[0].id, Clip("b", Audio(np.ones((4800, 2), np.float32), 48_000), start=9600))
    data = save_project(Project(timeline=timeline), tmp_path / "a.studio").read_bytes()

    def same_file(body: bytes) -> bytes:
        record = json.loads(body)
        record["audio"][1]["file"] = record["audio"][0]["file"]
        return json.dumps(record).encode()

    hostile = _fix_manifest(rebuild(data, change=lambda n, b: same_file(b) if n == "timeline.json" else b))
    loaded = read_project(hostile, "hostile.studio")
    assert [clip.name for clip in loaded.project.timeline.clips] == ["a"]
    assert any("audio/0.wav" in p and "another part" in p for p in loaded.problems), loaded.problems


def test_declared_picture_sizes_are_counted_before_any_is_decoded(tmp_path, monkeypatch):
    """Past the budget, a picture is left out unread; those within it still open."""
    doc = ImageDocument(64, 64)
    for n in range(3):
        doc.layers.append(Layer(f"l{n}", np.full((64, 64, 4), n, np.uint8)))
    doc.mask = np.zeros((64, 64), np.uint8)
    data = save_project(Project(image=doc), tmp_path / "p.studio").read_bytes()
    monkeypatch.setattr(project_module, "MAX_DECODED_BYTES", 2 * 64 * 64 * 4 + 64 * 64)
    loaded = read_project(data, "p.studio")
    assert [layer.name for layer in loaded.project.image.layers] == ["l0", "l1"]
    assert loaded.project.image.mask is not None  # read before the third layer: within the budget
    assert len(loaded.problems) == 1 and "l2" in loaded.problems[0] and "memory" in loaded.problems[0]


def test_pictures_past_the_memory_this_machine_has_are_left_out_before_decoding(tmp_path):
    """In a process limited to about 1.5 GiB more (ulimit -v), two layers declaring 1 GiB each."""
    import subprocess
    import sys
    import textwrap

    from test_project_hostile import _png

    def layers(canvas):
        canvas["layers"] = [{**canvas["layers"][0], "name": f"huge {n}", "file": f"canvas/{n}.png", "id": 100 + n}
                            for n in range(2)]
        return canvas

    data = _one_picture_project(tmp_path)
    huge = _png(16384, 16384)  # a header of 16384 x 16384 pixels (1 GiB of RGBA), a few bytes of data
    hostile = _fix_manifest(rebuild(_canvas(data, layers), change=lambda n, b: huge if n == "canvas/0.png" else b,
                                    extra=[("canvas/1.png", huge)]))
    path = tmp_path / "hostile.studio"
    path.write_bytes(hostile)
    child = textwrap.dedent(f"""
        import resource
        from studio.core.project.load import load_project  # imported before the limit: its libraries are mapped
        import PIL.PngImagePlugin, numpy
        size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + 1536 * 1024**2, resource.RLIM_INFINITY))
        for problem in load_project({str(path)!r}).problems:
            print(problem)
    """)
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    problems = run.stdout.strip().splitlines()
    assert len(problems) == 2, problems
    first, second = (next(p for p in problems if f"huge {n}" in p) for n in range(2))
    assert "not a readable PNG" in first  # within the memory: its turn to decode came (and its data is junk)
    assert "needs 1.1 GB of memory" in second and "free" in second  # refused before Pillow saw it
