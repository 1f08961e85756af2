"""Markers and track heights: edits on the immutable timeline, kept by a project, and read
leniently from a damaged or hostile file (a bad marker is named and left out; the music stays)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.audio.timeline import Clip, Marker, Timeline, TimelineError, Track
from studio.core.media.sound import Audio
from studio.core.project.format import Project
from studio.core.project.load import load_project
from studio.core.project.save import save_project
from studio.core.project.timeline_marks import MAX_TRACK_HEIGHT
from tests.core.test_project_members import _fix_manifest
from tests.core.test_project_samples import rebuild

RATE = 48000


def test_markers_stay_in_order_and_each_edit_is_a_new_timeline():
    timeline = Timeline()
    chorus, verse = Marker(RATE * 8, "Chorus"), Marker(0, "Verse")
    one = timeline.add_marker(chorus).add_marker(verse)
    assert [m.name for m in one.markers] == ["Verse", "Chorus"] and timeline.markers == ()
    moved = one.update_marker(verse.id, frame=RATE * 16)
    assert [m.name for m in moved.markers] == ["Chorus", "Verse"] and moved.marker(verse.id).frame == RATE * 16
    renamed = moved.update_marker(chorus.id, name="Hook")
    assert renamed.marker(chorus.id).name == "Hook" and moved.marker(chorus.id).name == "Chorus"
    assert [m.name for m in renamed.remove_marker(chorus.id).markers] == ["Verse"]
    with pytest.raises(TimelineError):
        Marker(-1, "before the start")
    with pytest.raises(TimelineError):
        renamed.remove_marker(12345)


def _project() -> Project:
    track = Track("Piano", height=160)
    timeline = Timeline().add_track(track).add_track(Track("Strings"))
    timeline = timeline.add_clip(track.id, Clip("take", Audio(np.full((RATE // 10, 1), 0.1, np.float32), RATE)))
    timeline = timeline.add_marker(Marker(RATE * 4, "Chorus")).add_marker(Marker(RATE, "Verse · 1"))
    return Project(timeline=timeline)


def test_a_project_keeps_markers_and_track_heights(tmp_path):
    path = save_project(_project(), tmp_path / "song.studio")
    loaded = load_project(path)
    timeline = loaded.project.timeline
    assert not loaded.problems
    assert [(m.frame, m.name) for m in timeline.markers] == [(RATE, "Verse · 1"), (RATE * 4, "Chorus")]
    assert [t.height for t in timeline.tracks] == [160, 0]  # 0: the default height


def _hostile(path, change) -> bytes:
    data = path.read_bytes()

    def edit(name: str, body: bytes) -> bytes:
        if name != "timeline.json":
            return body
        record = json.loads(body)
        change(record)
        return json.dumps(record).encode()

    return _fix_manifest(rebuild(data, change=edit))


def test_hostile_markers_and_heights_lose_nothing_else(tmp_path):
    path = save_project(_project(), tmp_path / "song.studio")

    def spoil(record):
        record["markers"] = [{"frame": -5, "name": "x"}, {"frame": 96000, "name": 7}, "not a marker",
                             {"frame": 48000, "name": "ok\ud800" + "y" * 5000}]
        record["tracks"][0]["height"] = 10**12
        record["tracks"][1]["height"] = "tall"

    bad = tmp_path / "bad.studio"
    bad.write_bytes(_hostile(path, spoil))
    loaded = load_project(bad)
    timeline = loaded.project.timeline
    assert len(timeline.clips) == 1 and [t.name for t in timeline.tracks] == ["Piano", "Strings"]
    assert [t.height for t in timeline.tracks] == [MAX_TRACK_HEIGHT, 0]
    (kept,) = timeline.markers
    assert kept.frame == 48000 and kept.name.startswith("ok\ufffdy") and len(kept.name) == 200
    assert sum("marker" in problem for problem in loaded.problems) == 3, loaded.problems

    def no_list(record):
        record["markers"] = {"frame": 1}

    bad.write_bytes(_hostile(path, no_list))
    loaded = load_project(bad)
    assert loaded.project.timeline.markers == () and len(loaded.project.timeline.clips) == 1
    assert any("markers" in problem for problem in loaded.problems), loaded.problems
