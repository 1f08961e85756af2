"""Note edits and note takes without Qt: the edits on a real chorale's notes, the render cache,
the render queue's newest-wins rule, and hostile scores refused with a plain message."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from studio.core.audio import note_edits as edits
from studio.core.audio import note_takes as takes
from studio.core.audio.midi import Note
from studio.core.base.paths import builtin_models


@pytest.fixture(scope="module")
def chorale():
    """The built-in chorale model's own result (through the real generator and job runner)."""
    from studio.core.engine.jobs import JobRunner
    from studio.core.engine.runtime import Runtime
    from studio_plugins.chorale.generator import ChoraleGenerator

    generator = ChoraleGenerator(builtin_models() / "chorale")
    runner = JobRunner(Runtime())
    try:
        job = runner.submit(generator, generator.request({"bars": 2, "seed": 11, "instrument": "organ"}))
        assert job.wait(120)
        assert job.result is not None, job.message
        return job.result
    finally:
        runner.shutdown()


def test_transposing_a_voice_moves_only_that_voice_and_keeps_the_rest_in_place(chorale):
    notes = tuple(chorale.info["score"])
    bass = edits.select_voice(notes, 3)
    assert bass and all(notes[i].voice == 3 for i in bass)
    down = edits.transpose(notes, bass, -12)
    assert [n.pitch for i, n in enumerate(down) if i in bass] == [notes[i].pitch - 12 for i in sorted(bass)]
    assert all(down[i] == notes[i] for i in range(len(notes)) if i not in bass)
    assert edits.transpose(down, bass, 12) == notes


def test_a_group_move_keeps_its_shape_at_the_edges():
    notes = (Note(120, 1.0, 1.0, 90, 0), Note(60, 2.0, 0.5, 90, 1), Note(10, 0.5, 1.0, 90, 2))
    up = edits.move(notes, {0, 1}, beats=-5.0, semitones=20)
    assert [n.pitch for n in up[:2]] == [127, 67]  # cut short where the top note meets 127
    assert [n.start for n in up[:2]] == [0.0, 1.0]  # and where the first note meets the start
    assert up[2] == notes[2]
    assert edits.move(notes, {5, -1}, 1.0, 1) == notes  # indices that are not there: nothing


def test_rectangle_voice_and_point_selection():
    notes = (Note(60, 0.0, 1.0, 90, 0), Note(64, 1.0, 1.0, 90, 1), Note(67, 3.0, 1.0, 90, 0))
    assert edits.select_rect(notes, 0.5, 2.0, 59, 65) == {0, 1}
    assert edits.select_rect(notes, 0.5, 2.0, 59, 65, voices=[1]) == {1}
    assert edits.select_all(notes, voices=[0]) == {0, 2}
    assert edits.note_at(notes, 3.5, 67) == 2 and edits.note_at(notes, 2.5, 67) is None


def test_lengthen_shorten_delete_and_draw_with_the_grid():
    notes = (Note(60, 0.0, 1.0, 90, 0), Note(62, 1.0, 1.0, 90, 0))
    longer = edits.resize(notes, {0}, 0.6, grid=0.5)
    assert longer[0].duration == 1.5 and longer[1] == notes[1]
    assert edits.resize(notes, {0}, -5.0, grid=0.25)[0].duration == 0.25  # never below a grid step
    assert edits.delete(notes, {0}) == (notes[1],)
    drawn, index = edits.add(notes, 200, -3.0, 0.0, voice=2)
    assert index == 2 and drawn[2] == Note(127, 0.0, edits.MIN_DURATION, edits.DEFAULT_VELOCITY, 2)
    assert edits.snap(1.13, 0.25) == 1.25 and edits.snap_down(1.13, 0.25) == 1.0 and edits.snap(1.13, 0) == 1.13


def test_a_take_grows_to_the_bar_and_follows_its_instrument(chorale):
    info = dict(chorale.info)
    take = takes.read_take(info)
    assert take.beats == 8 and take.tempo == 80 and take.instrument == "organ" and take.voice_name(3) == info["voices"][3].capitalize() == "Bass"
    assert not takes.is_stale(info)  # the generator's audio came with its notes
    moved = edits.move(take.notes, {0}, beats=take.beats - take.notes[0].start + 0.5)  # past the end
    edited = takes.with_notes(info, moved)
    assert edited["beats"] == 12 and takes.is_stale(edited) and edited[takes.RENDERED] == take.key
    strings = takes.with_instrument(edited, "strings")
    assert strings["midi_program"] == takes.MIDI_PROGRAMS["strings"] == 48 and strings[takes.RENDERED] == take.key
    with pytest.raises(takes.TakeError, match="unknown instrument"):
        takes.with_instrument(info, "kazoo")


def test_the_render_matches_the_generator_and_is_cached_by_content(chorale):
    cache = takes.RenderCache()
    take = takes.read_take(chorale.info)
    audio = takes.render_take(take, cache=cache)
    assert np.allclose(audio.samples, chorale.value, atol=1e-6)  # the same synthesizer, the same notes
    assert takes.render_take(take, cache=cache) is audio and cache.renders == 1
    other = takes.read_take(takes.with_instrument(chorale.info, "choir"))
    assert takes.cached_render(other, cache=cache) is None
    choir = takes.render_take(other, cache=cache)
    assert cache.renders == 2 and not np.allclose(choir.samples, audio.samples)
    assert takes.is_stale(takes.with_instrument(chorale.info, "choir"))
    assert not takes.is_stale(takes.rendered_info(takes.with_instrument(chorale.info, "choir"), other))


def test_the_queue_renders_the_newest_request_per_clip(chorale):
    landed = []
    done = threading.Event()
    cache = takes.RenderCache()
    take = takes.read_take(chorale.info)

    def arrived(clip_id, requested, audio):
        landed.append((clip_id, requested.instrument))
        done.set()

    gate = threading.Lock()
    gate.acquire()  # hold the worker on the first render while three more requests come in
    original = cache.put

    def slow_put(key, audio):
        with gate:
            original(key, audio)

    cache.put = slow_put
    queue = takes.RenderQueue(arrived, cache=cache)
    queue.request(1, take)
    for instrument in ("strings", "choir", "organ"):
        queue.request(2, takes.read_take(takes.with_instrument(chorale.info, instrument)))
    gate.release()
    for _ in range(200):
        if queue.idle and len(landed) >= 2:
            break
        done.wait(0.05)
    queue.close()
    assert landed == [(1, "organ"), (2, "organ")]  # clip 2's older requests never rendered


@pytest.mark.parametrize(
    "info, reason",
    [
        ({}, "audio only"),
        ({"score": "garbage"}, "audio only"),
        ({"score": [[60, 0, 1, 90, 0]]}, "not a note"),
        ({"score": [Note(60, 0.0, 1.0, 90, 0)] * (takes.MAX_NOTES + 1)}, "up to"),
        ({"score": [Note(300, 0.0, 1.0, 90, 0)]}, "outside MIDI"),
        ({"score": [Note(60, float("nan"), 1.0, 90, 0)]}, "not numbers"),
        ({"score": [Note(60, 0.0, 1.0, 90, 0)], "tempo": 0}, "tempo"),
        ({"score": [Note(60, 0.0, 1.0, 90, 0)], "tempo": "fast"}, "tempo"),
        ({"score": [Note(60, 1e9, 1.0, 90, 0)]}, "minutes"),
        ({"score": [Note(60, 0.0, 1.0, 90, 0)], "beats": -4}, "length"),
    ],
)
def test_hostile_scores_are_refused_with_a_plain_reason(info, reason):
    with pytest.raises(takes.TakeError, match=reason):
        takes.read_take(info)
    assert not takes.is_stale({**info, takes.RENDERED: "x"})  # unreadable notes keep their audio


def test_edited_notes_and_instrument_survive_save_and_load(chorale, tmp_path):
    from studio.core.audio.timeline import Clip, Timeline, Track
    from studio.core.project.format import Project
    from studio.core.project.load import load_project
    from studio.core.project.save import save_project

    take = takes.read_take(chorale.info)
    edited = takes.with_instrument(takes.with_notes(chorale.info, edits.transpose_voice(take.notes, 0, 2)), "choir")
    fresh = takes.rendered_info(edited, takes.read_take(edited))
    timeline = Timeline().add_track(Track("Chorale"))
    track = timeline.tracks[0].id
    timeline = timeline.add_clip(track, Clip.from_samples("stale", chorale.value, 48000, info=edited))
    timeline = timeline.add_clip(track, Clip.from_samples("fresh", chorale.value, 48000, start=10**6, info=fresh))
    back = load_project(save_project(Project(timeline=timeline), tmp_path / "notes.studio")).project.timeline
    stale, rendered = back.clips
    for clip, info in ((stale, edited), (rendered, fresh)):
        assert clip.info["score"] == info["score"] and clip.info["instrument"] == "choir" and clip.info["midi_program"] == 52
        assert (clip.info["tempo"], clip.info["beats"], clip.info["voices"]) == (info["tempo"], info["beats"], info["voices"])
        assert takes.read_take(clip.info) == takes.read_take(info)
    assert takes.is_stale(stale.info) and not takes.is_stale(rendered.info)  # saved mid-render: rendered again on opening
