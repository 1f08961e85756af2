"""The language-model plugin reading memory, the author's note and the lorebook: the prompt it
runs is the context plan's, the result says what was in it, and ``studio generate
--show-context`` prints the same plan without generating. Real models: the llama fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.engine.jobs import JobRunner, JobState
from studio.core.project.format import Project
from studio.core.project.save import save_project
from studio.core.text.context import format_plan
from studio.core.text.story import LoreEntry, StoryNotes
from studio.errors import ParamError
from studio_plugins.text_lm.generator import LMLoader

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models"
STORY = "".join(f"Day {n}. The rain kept on over the old tower.\nMira wrote it down.\n" for n in range(40))
NOTES = StoryNotes("Mira is a witch who keeps a diary.", "[Tone: quiet]", 2,
                   [LoreEntry(["tower"], "The tower is older than the town.", 1, name="Tower"),
                    LoreEntry(["dragon"], "There are no dragons.", 5)])


@pytest.fixture(scope="module")
def llama():
    return LMLoader().load(MODELS / "llama")


def run(generator, values):
    runner = JobRunner()
    try:
        job = runner.submit(generator, generator.request(values))
        assert job.wait(120)
        return job
    finally:
        runner.shutdown()


def test_the_continuation_reads_the_plan_and_says_what_was_in_it(llama):
    values = {"prompt": STORY, **NOTES.as_values(), "max_new_tokens": 16, "temperature": 0.0, "seed": 1}
    plan = llama.context_plan(values)
    tokenizer = llama.tokenizer()
    assert plan.tokens == len(tokenizer.encode(plan.prompt)) <= plan.limit == 128 - 16
    assert plan.prompt.startswith("Mira is a witch who keeps a diary.\nThe tower is older than the town.\n")
    assert "There are no dragons" not in plan.prompt and "[Tone: quiet]\n" in plan.prompt
    assert plan.prompt.endswith("Mira wrote it down.\n") and plan.story_cut_chars > 0
    job = run(llama, values)
    assert job.state is JobState.FINISHED, job.message
    info = job.result.info
    assert info["prompt_tokens"] == plan.tokens  # exactly what the plan said the model reads
    assert info["context"] == plan.to_info() and json.loads(json.dumps(info["context"])) == info["context"]
    assert [part["kind"] for part in info["context"]["parts"]] == ["memory", "lore", "story", "note", "story"]
    assert job.result.params["memory"] == NOTES.memory  # the result says how to make it again
    # Without notes the prompt is the page, as before: no context in the result.
    plain = run(llama, {"prompt": "Mira wrote", "max_new_tokens": 4, "temperature": 0.0, "seed": 1})
    assert plain.state is JobState.FINISHED and "context" not in plain.result.info


@pytest.mark.parametrize("story", [STORY, "Mira wrote", ""])
def test_without_notes_the_plan_is_the_page_as_the_model_reads_it(llama, story):
    values = {"prompt": story, "max_new_tokens": 16, "temperature": 0.0, "seed": 1}
    plan = llama.context_plan(values)
    job = run(llama, values)
    assert job.state is JobState.FINISHED, job.message
    assert plan.tokens == job.result.info["prompt_tokens"] and list(plan.notes) == job.result.info["notes"][: len(plan.notes)]
    assert [p.kind for p in plan.parts] == ["story"] and story.endswith(plan.prompt)
    assert (plan.story_cut_chars > 0) == (story == STORY)


def test_consecutive_continuations_with_notes_reuse_the_computed_start(llama):
    """The plan's prompt keeps its start from one continuation to the next (memory and lore
    first, the story cut on a grid), so the plugin's kept key/value cache serves it."""
    story = "".join(f"Day {n}. Rain on the tower.\nMira wrote.\n" for n in range(3)) + "Then"
    runner = JobRunner()
    try:
        previous = None
        for _ in range(6):
            values = {"prompt": story, **NOTES.as_values(), "max_new_tokens": 8, "temperature": 0.0, "seed": 1}
            job = runner.submit(llama, llama.request(values))
            assert job.wait(120) and job.state is JobState.FINISHED, job.message
            info = job.result.info
            header = sum(part["tokens"] for part in info["context"]["parts"] if part["kind"] in ("memory", "lore"))
            if previous is not None:
                assert info["reused_tokens"] >= header > 0  # memory and lore are never computed again
                if info["context"]["story_cut_chars"] == previous["context"]["story_cut_chars"]:
                    assert info["reused_tokens"] > header  # and the story's start neither, while the cut stays
            previous = info
            story += job.result.value
    finally:
        runner.shutdown()


def test_a_rewrite_is_not_given_the_notes(llama):
    values = {"prompt": "Mira wrote.", "instruction": "Make it sad", **NOTES.as_values(), "max_new_tokens": 4, "temperature": 0.0, "seed": 1}
    job = run(llama, values)
    assert job.state is JobState.FINISHED, job.message
    assert "context" not in job.result.info


def test_a_bad_lorebook_is_a_plain_parameter_error(llama):
    with pytest.raises(ParamError, match="lorebook: the lorebook is not valid JSON"):
        llama.context_plan({"prompt": "x", "lorebook": "[{"})
    with pytest.raises(ParamError, match="note_depth"):
        llama.context_plan({"prompt": "x", "note_depth": 101})
    with pytest.raises(ParamError, match="lore entry 1"):  # before any job: the form says it at once
        llama.request({"prompt": "x", "lorebook": '[{"keys": 3, "text": "t"}]'})


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, env=dict(os.environ), timeout=120)


def test_show_context_prints_the_plan_and_generates_nothing(llama, tmp_path):
    added = studio("models", "add", str(MODELS / "llama"), cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    (tmp_path / "lore.json").write_text(json.dumps([e.to_json() for e in NOTES.lore]), encoding="utf-8")
    shown = studio("generate", "lm:llama", "--show-context", "--prompt", STORY, "--param", f"memory={NOTES.memory}",
                   "--param", f"authors_note={NOTES.authors_note}", "--param", "note_depth=2",
                   "--param", "lorebook=@lore.json", "--param", "max_new_tokens=16", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    plan = llama.context_plan({"prompt": STORY, **NOTES.as_values(), "max_new_tokens": 16})
    assert shown.stdout == format_plan(plan) + "\n"
    assert "“Tower”: key “tower”" in shown.stdout and f"Context: {plan.tokens:,} of 112 tokens" in shown.stdout
    assert list(tmp_path.glob("*.txt")) == [] and "tokens/s" not in shown.stderr  # nothing generated
    # From a project: its text and its notes; what is given on the command line wins.
    save_project(Project(text=STORY, notes=NOTES), tmp_path / "novel.studio")
    from_project = studio("generate", "lm:llama", "--show-context", "--project", "novel.studio", "--param", "max_new_tokens=16", cwd=tmp_path)
    assert from_project.returncode == 0 and from_project.stdout == shown.stdout, from_project.stderr
    other = studio("generate", "lm:llama", "--show-context", "--project", "novel.studio", "--param", "memory=Another memory.", cwd=tmp_path)
    assert other.returncode == 0 and "Another memory." in other.stdout and NOTES.memory not in other.stdout
    # A missing file, a bad lorebook, a generator that does not plan: one plain line, exit 2.
    for args, words in (
        (["lm:llama", "--show-context", "--param", "lorebook=@missing.json"], "missing.json"),
        (["lm:llama", "--show-context", "--param", "lorebook=[1]"], "lore entry 1"),
        (["cppn", "--show-context"], "cppn does not say what it reads"),
        (["lm:llama", "--show-context", "--project", "missing.studio"], "missing.studio"),
    ):
        run_ = studio("generate", *args, cwd=tmp_path)
        assert run_.returncode == 2 and "Traceback" not in run_.stderr, run_.stderr
        assert run_.stderr.strip().splitlines()[-1].startswith("studio: error: ") and words in run_.stderr, run_.stderr
