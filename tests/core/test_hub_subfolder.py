"""Repositories that hold several builds of one model (Microsoft's genai repos) and repositories
Studio cannot run: the real huggingface_hub against the stand-in hub, through the job runner.

The stand-in serves a repository under the catalogue's own id for Phi-3 mini, laid out as
Microsoft's is: two CPU int4 builds side by side, of which the catalogue names the one built
with accuracy level 4 (the faster on the CPU) as its ``subfolder``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.catalogue import entry_for
from studio.core.models.download import start_download

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from hub import LLAMA_GENAI, LLAMA_REPO, fixture_repos, running_hub  # noqa: E402
from hub.stand_in_hub import folder_files  # noqa: E402

PHI = "microsoft/Phi-3-mini-4k-instruct-onnx"
BUILDS = ("cpu_and_mobile/cpu-int4-rtn-block-32", "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4")
CARD = Path(__file__).resolve().parents[1] / "fixtures" / "hub" / "README.md"
SAFETENSORS_ONLY = "someone/safetensors-only"


def repos() -> dict:
    phi = {"README.md": CARD}
    for build in BUILDS:
        phi.update({f"{build}/{name}": path for name, path in folder_files(LLAMA_GENAI["cpu-int4"]).items()})
    return {**fixture_repos(), PHI: phi,
            SAFETENSORS_ONLY: {"README.md": CARD, "config.json": CARD.parent / "README.md", "model.safetensors": CARD}}


@pytest.fixture
def hub(monkeypatch):
    with running_hub(monkeypatch, repos=repos()) as server:
        yield server


@pytest.fixture
def runner():
    made = JobRunner()
    yield made
    made.shutdown()


def download(runner, repo_id, **options):
    job = start_download(runner, repo_id, **options)
    assert job.wait(60), "the download did not end"
    return job


def test_the_catalogue_names_the_build_to_take_of_phi_3_mini():
    entry = entry_for(PHI)
    assert entry is not None and entry.subfolder == BUILDS[1]


def test_a_catalogue_repository_downloads_the_build_the_catalogue_names_and_nothing_else(hub, runner):
    job = download(runner, PHI, variant="q4")
    assert job.state is JobState.FINISHED, job.message
    folder = Path(job.result.value)
    assert folder.name == "Phi-3-mini-4k-instruct-onnx-cpu_and_mobile-cpu-int4-rtn-block-32-acc-level-4"
    assert (folder / "genai_config.json").is_file() and (folder / "README.md").is_file()
    fetched = {r.file for r in hub.fetched("GET")}
    assert any(f.startswith(BUILDS[1] + "/") for f in fetched)
    assert not any(f.startswith(BUILDS[0] + "/") for f in fetched), fetched


def test_a_subfolder_asked_for_is_the_one_taken(hub, runner):
    job = download(runner, PHI, variant="q4", subfolder=BUILDS[0])
    assert job.state is JobState.FINISHED, job.message
    assert Path(job.result.value).name == "Phi-3-mini-4k-instruct-onnx-cpu_and_mobile-cpu-int4-rtn-block-32"
    assert not any(r.file.startswith(BUILDS[1] + "/") for r in hub.fetched("GET"))


@pytest.mark.parametrize("subfolder", ["cpu_and_mobile/cuda-fp16", "../elsewhere", "cpu_and_mobile/cpu-int4-rtn"])
def test_a_subfolder_the_repository_lacks_is_named_and_nothing_is_fetched(hub, runner, subfolder):
    job = download(runner, PHI, subfolder=subfolder)
    assert job.state is JobState.FAILED
    assert job.message == f"{PHI} has no folder {subfolder!r}"
    assert hub.fetched("GET") == []


def test_a_repository_studio_cannot_run_is_refused_before_the_first_byte(hub, runner):
    job = download(runner, SAFETENSORS_ONLY)
    assert job.state is JobState.FAILED
    assert job.message.startswith(f"Studio cannot run {SAFETENSORS_ONLY}: it holds no ONNX model")
    assert job.message.endswith("Nothing was downloaded")
    assert hub.fetched("GET") == []


def test_a_download_never_says_it_is_loading_a_model(hub, runner):
    said = []
    job = download(runner, LLAMA_REPO, variant="q4", listeners=[lambda job, event: said.append(getattr(event, "message", None))])
    assert job.state is JobState.FINISHED, job.message
    messages = [m for m in said if m]
    assert messages[0] == "Starting the download…", messages
    assert not any("Loading model" in m for m in messages)
