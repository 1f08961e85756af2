"""The project file's promise: whatever ``save`` writes, ``load`` opens whole.

Not "most projects round-trip": every project Studio can hold, including the ones a user
really makes and the first tests never did — a pasted 1 MB log (which deflates a thousand
to one), generated text holding lone surrogates, history parameters that are not JSON's
kind of values — saves to a file that loads with no part left out and the same content.
What "the same" means for values JSON cannot hold is documented where they are written:
text is made well-formed (``studio.core.media.text.well_formed``: a lone surrogate becomes
U+FFFD) and parameters JSON-plain (``studio.core.project.history.plain_params``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.project.history import HistoryEntry, plain_data, plain_params
from studio.core.base.ids import new_id
from studio.core.image.document import ImageDocument, Layer
from studio.core.project.format import Project
from studio.core.project.load import load_project
from studio.core.project.save import save_project
from studio.core.text.document import Span
from studio.core.media.text import well_formed
from studio.core.audio.timeline import Timeline
from test_project import documents, timelines
from test_project_samples import content

# A pasted log: over 1 MB, deflating about 1000:1 (the loader once called it a bomb).
LOG = "2026-12-03 12:00:00 INFO worker 7: request served in 12 ms\n" * 20_000
REPEATED = "a" * (3 * 1024**2)

any_text = st.text(max_size=40)  # every code point, lone surrogates included
texts = st.one_of(
    any_text,
    st.sampled_from([LOG, REPEATED, LOG[:5000] + "\ud800" + LOG[5000:], "\ud83d", "x\ude00\ud83d"]),
    st.tuples(any_text, st.sampled_from([LOG, ""]), any_text).map("".join),
)
odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**80), 2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.just(-0.0), any_text, st.binary(max_size=6),
    st.builds(lambda n: np.arange(n, dtype=np.float32), st.integers(0, 4)),  # a picture-like input
    st.builds(np.float32, st.floats(width=32)), st.builds(np.int64, st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.integers(), any_text), st.builds(object),
)
odd_params = st.dictionaries(
    st.one_of(any_text, st.integers(), st.none()),
    st.one_of(odd_values, st.lists(odd_values, max_size=3), st.dictionaries(any_text, odd_values, max_size=2)),
    max_size=5,
)


class Case:
    """A generated project whose failure report stays readable (a 1 MB text is shown cut)."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def __repr__(self) -> str:
        p = self.project
        text = p.text if len(p.text) <= 200 else f"{p.text[:100]!r} … ({len(p.text):,} characters) … {p.text[-60:]!r}"
        return (f"Case(text={text}, spans={p.text_spans}, layers={[(l.name, l.pixels.shape, l.params) for l in p.image.layers]}, "
                f"clips={[(c.name, c.params, c.info) for c in p.timeline.clips]}, history={p.history})")


@st.composite
def projects(draw) -> Case:
    doc = draw(documents())
    if draw(st.booleans()):
        doc.layers.append(Layer(draw(any_text), np.full((1, 1, 4), draw(st.integers(0, 255)), np.uint8),
                                params=draw(odd_params)))
    timeline = draw(timelines()) if draw(st.booleans()) else Timeline()
    text = draw(texts)
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2  # marks count as the editor does
    jobs = [new_id() for _ in range(2)]
    spans = []
    position = 0
    while position < units and draw(st.booleans()):
        start = draw(st.integers(position, units - 1))
        end = draw(st.integers(start + 1, min(units, start + 10**6)))
        spans.append(Span(start, end, draw(st.sampled_from(jobs))))
        position = end
    targets = [layer.id for layer in doc.layers] + jobs + [None]
    history = [HistoryEntry(draw(st.sampled_from(["image", "text", "audio"])), draw(any_text), draw(any_text),
                            draw(odd_params), draw(any_text), draw(st.sampled_from(targets)),
                            created=draw(st.floats(0, 2e9)), seconds=draw(st.floats(0, 1e4)))
               for _ in range(draw(st.integers(0, 3)))]
    return Case(Project(doc, text, spans, timeline, history))


def as_saved(project: Project) -> Project:
    """``project`` as its file holds it: parameters JSON-plain (the strings are compared well-formed)."""
    image = ImageDocument(project.image.width, project.image.height)
    image.mask, image.selection = project.image.mask, project.image.selection
    image.layers = [replace(layer, params=plain_params(layer.params)) for layer in project.image.layers]
    history = [replace(entry, params=plain_params(entry.params)) for entry in project.history]
    tracks = tuple(replace(track, clips=tuple(
        replace(clip, params=plain_params(clip.params), info=_plain_info(clip.info)) for clip in track.clips))
        for track in project.timeline.tracks)
    timeline = replace(project.timeline, tracks=tracks)
    return Project(image, project.text, project.text_spans, timeline, history)


def _plain_info(info: dict[str, Any]) -> dict[str, Any]:
    plain = plain_data({k: v for k, v in info.items() if k != "score"})
    if "score" in info:
        plain["score"] = info["score"]
    return plain


def normal(value: Any) -> Any:
    """Comparable: strings well-formed, tuples as lists, NaN equal to NaN."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, float) and math.isnan(value):
        return "<NaN>"
    if isinstance(value, dict):
        return {normal(k): normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    return value


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(case=projects())
def test_whatever_save_writes_load_opens_whole(case, tmp_path_factory):
    project = case.project
    path = tmp_path_factory.mktemp("invariant") / "p.studio"
    save_project(project, path)
    loaded = load_project(path)
    assert loaded.problems == []
    assert normal(content(loaded.project)) == normal(content(as_saved(project)))
    assert loaded.project.text == well_formed(loaded.project.text)  # a loaded document holds no lone surrogate


def test_a_pasted_log_over_a_megabyte_opens(tmp_path):
    path = save_project(Project(text=LOG), tmp_path / "log.studio")
    loaded = load_project(path)
    assert loaded.problems == [] and loaded.project.text == LOG


def test_generated_text_with_a_lone_surrogate_keeps_its_marks(tmp_path):
    text = "Once upon\ud800 a time, \udcffthe end"
    spans = [Span(0, 10, 1), Span(20, len(text), 2)]
    path = save_project(Project(text=text, text_spans=spans), tmp_path / "s.studio")
    loaded = load_project(path)
    assert loaded.problems == []
    assert loaded.project.text == "Once upon\ufffd a time, \ufffdthe end"
    assert [(s.start, s.end) for s in loaded.project.text_spans] == [(0, 10), (20, len(text))]
    with __import__("zipfile").ZipFile(path) as archive:
        archive.read("text.txt").decode("utf-8")  # strict: the file holds valid UTF-8


def test_save_and_load_share_one_limit_per_member(tmp_path, monkeypatch):
    """A project past a member's limit is refused by save (nothing written), not by a later load."""
    import studio.core.project.format as project_module
    from studio.core.project.format import ProjectError
    from studio.errors import OutputError

    text = "x" * (2 * 1024**2)
    big = save_project(Project(text=text), tmp_path / "big.studio")
    monkeypatch.setattr(project_module, "MAX_TEXT_BYTES", 1024**2)
    target = tmp_path / "refused.studio"
    try:
        save_project(Project(text=text), target)
    except OutputError as exc:
        assert "the text is 2 MiB" in str(exc) and "nothing was written" in str(exc)
    else:
        raise AssertionError("a text past the limit was saved")
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["big.studio"]
    try:  # and the loader holds the same line: the file saved under the larger limit is refused
        load_project(big)
    except ProjectError as exc:
        assert "'text.txt'" in str(exc) and "1 MiB" in str(exc)
    else:
        raise AssertionError("a text past the limit was loaded")


def test_a_file_of_the_first_studio_with_a_surrogatepass_text_still_opens(tmp_path):
    from test_project_samples import rebuild

    old_text = "before \ud800 after".encode("utf-8", "surrogatepass")  # how the first Studio wrote it
    data = save_project(Project(text="placeholder"), tmp_path / "new.studio").read_bytes()
    old = rebuild(data, change=lambda name, body: old_text if name == "text.txt" else body,
                  manifest=lambda m: {**m, "members": {**m["members"], "text.txt": len(old_text)}})
    from studio.core.project.load import read_project

    loaded = read_project(old, "old.studio")
    assert loaded.problems == [] and loaded.project.text == "before \ufffd after"
