"""Downloads from the Hugging Face hub (issue 13): the real huggingface_hub against the stand-in
hub (tests/fixtures/hub), through the ordinary job runner. What was fetched is read from the
stand-in's request log; what was installed from the models folder itself."""

from __future__ import annotations

import hashlib
import re
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.core.base import paths
from studio.core.engine.generators import Progress, Result
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.download import DOWNLOAD_DEVICE, start_download
from studio.core.models.manifest import read_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from hub import GATED_REPO, GENAI_REPO, LLAMA_REPO, MUSICGEN_REPO, TOKEN, fixture_repos  # noqa: E402

WAIT = 60.0
LLAMA_FP32 = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "README.md", "onnx/model.onnx"}
LLAMA_Q4 = (LLAMA_FP32 - {"onnx/model.onnx"}) | {"onnx/model_q4.onnx", "onnx/model_q4.onnx_data"}


@pytest.fixture
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def download(runner, repo_id, **options):
    events = []
    job = start_download(runner, repo_id, listeners=[lambda job, event: events.append(event)], **options)
    assert job.wait(WAIT), "the download did not end"
    return job, events


def until(condition, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.05)


def installed(repo_name: str) -> Path:
    return paths.models() / repo_name


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_download_installs_real_files_checked_against_the_hub_and_the_manifest(stand_in_hub, runner):
    job, events = download(runner, LLAMA_REPO, variant="fp32")
    assert job.state is JobState.FINISHED, job.message
    assert job.device == DOWNLOAD_DEVICE
    folder = installed("tiny-llama-ONNX")
    result = job.result
    assert isinstance(result, Result) and result.kind == "model" and result.value == str(folder)
    assert result.info["variant"] == "fp32" and result.info["repo_id"] == LLAMA_REPO
    source = fixture_repos()[LLAMA_REPO]
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == LLAMA_FP32 | {"studio-model.json"}
    for name in LLAMA_FP32:
        path = folder / name
        assert not path.is_symlink() and path.read_bytes() == source[name].read_bytes()
    manifest = read_manifest(folder)
    assert manifest.source["hub"] == LLAMA_REPO and manifest.source["endpoint"] == stand_in_hub.endpoint
    assert manifest.source["revision"] == stand_in_hub.repos[LLAMA_REPO].sha == result.info["revision"]
    assert manifest.variants == ["fp32"] and manifest.license == "apache-2.0"
    assert manifest.files["onnx/model.onnx"]["sha256"] == sha256(source["onnx/model.onnx"])
    assert not (paths.models() / ".partial" / "tiny-llama-ONNX").exists()
    progress = [e for e in events if isinstance(e, Progress) and e.total > 1]
    assert progress and progress[-1].step == progress[-1].total  # KiB done of KiB to fetch, ending full


def test_only_the_chosen_variant_is_fetched_with_the_data_its_graph_names(stand_in_hub, runner):
    job, _ = download(runner, LLAMA_REPO, variant="q4")
    assert job.state is JobState.FINISHED, job.message
    fetched = {r.file for r in stand_in_hub.fetched("GET")}
    assert fetched == LLAMA_Q4  # not onnx/model.onnx (the fp32 graph), yes its external data
    folder = installed("tiny-llama-ONNX")
    assert not (folder / "onnx" / "model.onnx").exists()
    assert (folder / "onnx" / "model_q4.onnx_data").read_bytes() == fixture_repos()[LLAMA_REPO]["onnx/model_q4.onnx_data"].read_bytes()

    # a second variant adds its own graph only, and the manifest lists both
    stand_in_hub.requests.clear()
    job, _ = download(runner, LLAMA_REPO, variant="fp32")
    assert job.state is JobState.FINISHED, job.message
    assert {r.file for r in stand_in_hub.fetched("GET")} == {"onnx/model.onnx"}
    manifest = read_manifest(folder)
    assert manifest.variants == ["q4", "fp32"]
    assert set(manifest.files) == LLAMA_FP32 | LLAMA_Q4


def test_a_variant_the_repository_lacks_is_refused_saying_which_it_has(stand_in_hub, runner):
    job, _ = download(runner, LLAMA_REPO, variant="fp16")
    assert job.state is JobState.FAILED
    assert job.message == f"{LLAMA_REPO} has no fp16 variant (it has: fp32, q4)"
    assert stand_in_hub.fetched("GET") == []


def test_a_genai_folder_is_installed_as_a_model_of_its_own(stand_in_hub, runner):
    job, _ = download(runner, GENAI_REPO, variant="q4")
    assert job.state is JobState.FINISHED, job.message
    folder = Path(job.result.value)
    assert folder.name == "tiny-llama-genai-onnx-cpu-int4"
    assert (folder / "genai_config.json").is_file()
    assert (folder / "llama-cpu-int4-rtn-block-32-acc-level-4.onnx.data").is_file()
    assert not any(r.file.startswith("cpu-fp32/") for r in stand_in_hub.fetched("GET"))


def test_a_dropped_connection_resumes_from_where_it_broke(stand_in_hub, runner):
    stand_in_hub.drop_after("onnx/model.onnx", 300_000)
    job, _ = download(runner, LLAMA_REPO, variant="fp32")
    assert job.state is JobState.FINISHED, job.message
    gets = [r for r in stand_in_hub.fetched("GET") if r.file == "onnx/model.onnx"]
    assert len(gets) == 2 and gets[0].range == ""
    offset = int(gets[1].range.removeprefix("bytes=").rstrip("-"))
    assert 0 < offset <= 300_000  # only the rest was asked for
    assert (installed("tiny-llama-ONNX") / "onnx" / "model.onnx").read_bytes() == fixture_repos()[LLAMA_REPO]["onnx/model.onnx"].read_bytes()


def test_cancel_stops_within_a_second_and_the_next_attempt_resumes(stand_in_hub, runner):
    stand_in_hub.throttle(150_000)  # bytes/s: model.onnx (652 KB) takes seconds
    arrived = threading.Event()

    def watch(job, event):
        if isinstance(event, Progress) and event.step >= 300:  # KiB: part of model.onnx is here
            arrived.set()

    job = start_download(runner, LLAMA_REPO, variant="fp32", listeners=[watch])
    assert arrived.wait(WAIT)
    asked = time.monotonic()
    job.cancel()
    assert job.wait(5)
    stopped_in = time.monotonic() - asked
    assert job.state is JobState.CANCELLED and stopped_in < 1.0, (job.state, stopped_in)
    folder = installed("tiny-llama-ONNX")
    assert not (folder / "studio-model.json").exists()  # not installed
    partial = paths.models() / ".partial" / "tiny-llama-ONNX" / "onnx" / "model.onnx.incomplete"
    time.sleep(0.5)  # the transfer thread lets go of the file at its next chunk
    kept = partial.stat().st_size
    assert kept >= 300 * 1024

    stand_in_hub.throttle(0)
    stand_in_hub.requests.clear()
    job, _ = download(runner, LLAMA_REPO, variant="fp32")
    assert job.state is JobState.FINISHED, job.message
    gets = [r for r in stand_in_hub.fetched("GET") if r.file == "onnx/model.onnx"]
    assert [r.range for r in gets] == [f"bytes={kept}-"]
    assert (folder / "onnx" / "model.onnx").read_bytes() == fixture_repos()[LLAMA_REPO]["onnx/model.onnx"].read_bytes()


def test_a_file_that_does_not_match_the_hubs_hash_is_refused_and_nothing_is_installed(stand_in_hub, runner):
    stand_in_hub.corrupt("onnx/model.onnx")
    job, _ = download(runner, LLAMA_REPO, variant="fp32")
    assert job.state is JobState.FAILED
    assert job.message.startswith("onnx/model.onnx of onnx-community/tiny-llama-ONNX arrived damaged (its sha256 is ")
    assert "nothing was installed" in job.message and "\n" not in job.message
    folder = installed("tiny-llama-ONNX")
    assert not (folder / "studio-model.json").exists() and not (folder / "onnx" / "model.onnx").exists()
    assert not list((paths.models() / ".partial").rglob("model.onnx*"))  # a wrong file is not kept for a resume


def test_no_such_repository_or_revision(stand_in_hub, runner):
    job, _ = download(runner, "nobody/no-such-model")
    assert job.state is JobState.FAILED
    assert job.message.startswith(f"there is no repository nobody/no-such-model on {stand_in_hub.endpoint}")
    job, _ = download(runner, LLAMA_REPO, revision="v9")
    assert job.state is JobState.FAILED
    assert job.message == f"{LLAMA_REPO} has no revision 'v9' on {stand_in_hub.endpoint}"


@pytest.mark.parametrize("token", [None, "hf_not_granted"])  # 401 without a token, 403 with one not granted
def test_a_gated_repository_says_to_accept_the_license_and_how_to_give_a_token(stand_in_hub, runner, monkeypatch, token):
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    job, _ = download(runner, GATED_REPO, variant="fp32")
    assert {r.token for r in stand_in_hub.fetched("HEAD")} == {token or ""}
    assert job.state is JobState.FAILED
    assert job.message == (
        f"{GATED_REPO} is gated: accept its license on the hub page {stand_in_hub.endpoint}/{GATED_REPO} (signed in), "
        "then give Studio a token: set HF_TOKEN, or run `hf auth login`")
    assert not (installed("tiny-llama-gated-ONNX") / "studio-model.json").exists()


def test_a_token_is_used_but_never_written_anywhere(stand_in_hub, monkeypatch, studio_home):
    from studio.host import Host

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    host = Host()
    try:
        host.settings.device = "cpu"  # the settings file exists, and is read below
        job = start_download(host, GATED_REPO, variant="fp32")
        assert job.wait(WAIT) and job.state is JobState.FINISHED, job.message
        host.reload_model_folders()
    finally:
        host.shutdown()
    assert {r.token for r in stand_in_hub.fetched("GET")} == {TOKEN}  # sent to the hub...
    written = [p for p in Path(studio_home).rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"studio.log", "studio-model.json", paths.settings_file().name} <= names, names
    for path in written:  # ...and in no log, setting or manifest
        assert TOKEN.encode() not in path.read_bytes(), path


def test_a_full_disk_is_refused_before_the_first_byte(stand_in_hub, runner):
    import subprocess

    models = paths.models()
    models.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(models)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        job, _ = download(runner, LLAMA_REPO, variant="fp32")
        assert job.state is JobState.FAILED
        assert job.message.startswith(f"downloading {LLAMA_REPO} (fp32) needs ")
        assert "but only 1.0 MB is free on the disk of" in job.message or "is free on the disk of" in job.message
        assert stand_in_hub.fetched("GET") == []  # no byte was asked for
    finally:
        subprocess.run(["umount", str(models)], check=True)


@pytest.mark.parametrize("server", ["closed port", "silent server"])
def test_an_unreachable_hub_is_said_in_one_sentence_within_ten_seconds(monkeypatch, runner, server):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if server == "closed port":
        listener.close()
    else:
        listener.listen(8)  # accepts connections (the kernel does) and never answers
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    try:
        started = time.monotonic()
        job, _ = download(runner, LLAMA_REPO)
        took = time.monotonic() - started
    finally:
        listener.close()
    assert job.state is JobState.FAILED
    assert job.message == f"the hub at http://127.0.0.1:{port} cannot be reached: check the internet connection (or HF_ENDPOINT)"
    assert took < 10.0


def test_progress_tells_bytes_rate_and_time_left_and_the_cli_bar_shows_them(stand_in_hub, runner):
    import io

    from studio.cli.progress import ProgressBar

    stand_in_hub.throttle(400_000)
    job, events = download(runner, LLAMA_REPO, variant="fp32")
    assert job.state is JobState.FINISHED, job.message
    with_rate = [e for e in events if isinstance(e, Progress) and "/s" in e.message]
    assert with_rate, [e.message for e in events if isinstance(e, Progress)]
    middle = next(e for e in with_rate if e.step < e.total)
    assert re.fullmatch(r"[\d.]+ (bytes|KB) of 677\.0 KB · [\d.]+ (bytes|KB|MB)/s · about \d+ (s|min) left", middle.message), middle.message
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.update(middle)
    assert middle.message in stream.getvalue() and f"({middle.step}/{middle.total})" in stream.getvalue()


@pytest.mark.parametrize("variant", ["fp32", "q4"])
def test_a_downloaded_model_generates_text(stand_in_hub, variant):
    from studio.host import Host

    host = Host()
    try:
        job = start_download(host, LLAMA_REPO, variant=variant)
        assert job.wait(WAIT) and job.state is JobState.FINISHED, job.message
        host.reload_model_folders()
        generator_id = "lm:tiny-llama-ONNX"
        assert generator_id in host.generators, sorted(host.generators)
        made = host.submit(generator_id, {"prompt": "Once upon", "max_new_tokens": 8, "seed": 1, "temperature": 0})
        assert made.wait(WAIT) and made.state is JobState.FINISHED, made.message
        assert isinstance(made.result.value, str) and made.result.value
        assert made.result.info.get("variant", variant) == variant
    finally:
        host.shutdown()


def test_lfs_files_come_from_the_cdn_the_hub_redirects_to_and_the_token_stays_with_the_hub(stand_in_hub, runner, monkeypatch):
    stand_in_hub.cdn = True
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    job, _ = download(runner, GATED_REPO, variant="q4")
    assert job.state is JobState.FINISHED, job.message
    cdn = [r for r in stand_in_hub.requests if r.path.startswith("/cdn-lfs/")]
    assert len(cdn) == 2 and {r.token for r in cdn} == {""}  # model_q4.onnx and its data, no token
    assert {r.file for r in stand_in_hub.fetched("HEAD")} == LLAMA_Q4
    assert {r.token for r in stand_in_hub.fetched("HEAD")} == {TOKEN}


def test_a_second_download_into_the_same_folder_waits_then_says_so(stand_in_hub):
    stand_in_hub.throttle(25_000)  # bytes/s: the first one would take half a minute
    first, second = JobRunner(), JobRunner()  # a window and a command line, each with its runner
    try:
        running = start_download(first, LLAMA_REPO, variant="fp32")
        until(lambda: stand_in_hub.fetched("GET"))
        job, events = download(second, LLAMA_REPO, variant="fp32")
        assert job.state is JobState.FAILED
        assert job.message == (f"{LLAMA_REPO} is being downloaded already (into {installed('tiny-llama-ONNX')}); "
                               "wait for that download to end")
        assert f"Waiting for the other download of {LLAMA_REPO} to stop…" in [getattr(e, "message", "") for e in events]
        waiting = start_download(second, LLAMA_REPO, variant="fp32")  # Cancel is heard while it waits
        until(lambda: waiting.state is JobState.RUNNING)
        time.sleep(0.5)
        waiting.cancel()
        assert waiting.wait(1) and waiting.state is JobState.CANCELLED and not waiting.abandoned
        running.cancel()
        assert running.wait(2) and running.state is JobState.CANCELLED
        # its transfer thread lets go of the folder at its next chunk; the next download waits for that
        stand_in_hub.throttle(0)
        job, _ = download(second, LLAMA_REPO, variant="fp32")
        assert job.state is JobState.FINISHED, job.message
    finally:
        first.shutdown()
        second.shutdown()


def test_a_downloaded_musicgen_repository_becomes_a_generator(stand_in_hub):
    from studio.host import Host

    host = Host()
    try:
        job = start_download(host, MUSICGEN_REPO)
        assert job.wait(WAIT) and job.state is JobState.FINISHED, job.message
        entries = host.reload_model_folders()
        entry = next(e for e in entries if Path(e.path).resolve() == Path(job.result.value).resolve())
        assert entry.ok, entry.error
        assert entry.generator.kind == "audio"
    finally:
        host.shutdown()


def test_a_hub_that_goes_away_mid_download_is_said_and_what_arrived_is_kept(stand_in_hub, runner, monkeypatch):
    stand_in_hub.throttle(150_000)
    arrived = threading.Event()
    job = start_download(runner, LLAMA_REPO, variant="fp32",
                         listeners=[lambda job, event: isinstance(event, Progress) and event.step >= 300 and arrived.set()])
    assert arrived.wait(WAIT)
    endpoint = stand_in_hub.endpoint
    stand_in_hub.stop()
    gone = time.monotonic()
    assert job.wait(15)
    assert job.state is JobState.FAILED and time.monotonic() - gone < 10.0
    assert job.message == f"the hub at {endpoint} cannot be reached: check the internet connection (or HF_ENDPOINT)"
    partial = paths.models() / ".partial" / "tiny-llama-ONNX" / "onnx" / "model.onnx.incomplete"
    kept = partial.stat().st_size
    assert kept >= 300 * 1024

    stand_in_hub.throttle(0)
    stand_in_hub.requests.clear()
    stand_in_hub.start()  # back, on another port
    monkeypatch.setenv("HF_ENDPOINT", stand_in_hub.endpoint)
    job, _ = download(runner, LLAMA_REPO, variant="fp32")
    assert job.state is JobState.FINISHED, job.message
    assert [r.range for r in stand_in_hub.fetched("GET") if r.file == "onnx/model.onnx"] == [f"bytes={kept}-"]


def test_a_server_that_sends_more_than_the_file_has_is_stopped_at_its_size(stand_in_hub, runner):
    stand_in_hub.send_extra("onnx/model.onnx", 5_000_000)
    job, _ = download(runner, LLAMA_REPO, variant="fp32")
    assert job.state is JobState.FAILED
    assert job.message == "the hub sent more of onnx/model.onnx than the 652.1 KB it lists; nothing was installed"
    assert not list(paths.models().rglob("model.onnx*"))  # neither kept nor installed


def test_a_listed_path_that_would_leave_the_models_folder_is_refused(monkeypatch, runner, tmp_path):
    from hub import LLAMA, running_hub

    hostile = {"config.json": LLAMA / "config.json", "tokenizer.json": LLAMA / "tokenizer.json",
               "onnx/model.onnx": LLAMA / "onnx" / "model.onnx", "../../outside.json": LLAMA / "config.json"}
    with running_hub(monkeypatch, {"evil/repo": hostile}, gated=set()) as hub:
        job, _ = download(runner, "evil/repo")
        assert job.state is JobState.FAILED
        assert job.message == "the hub listed a file named '../../outside.json', which Studio will not write"
        assert hub.fetched("GET") == []
    assert not (paths.models().parent / "outside.json").exists() and not (paths.models() / "outside.json").exists()


def test_data_files_are_those_the_graph_names_whatever_their_name(monkeypatch, runner, tmp_path):
    """A graph whose external data has a name of its own (``weights_fp32.pb``), beside another
    variant: the file list cannot tell whose it is; the downloaded graph says, and it is fetched."""
    import onnx

    from hub import FIXTURES, running_hub

    source = FIXTURES / "lm" / "models" / "llama-variants"
    graph = onnx.load(str(source / "onnx" / "model.onnx"), load_external_data=False)
    for tensor in graph.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "weights_fp32.pb"
    onnx.save(graph, str(tmp_path / "model.onnx"))
    files = {name: source / name for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")}
    files.update({"onnx/model.onnx": tmp_path / "model.onnx", "onnx/weights_fp32.pb": source / "onnx" / "model.onnx_data",
                  "onnx/model_q4.onnx": source / "onnx" / "model_q4.onnx"})
    with running_hub(monkeypatch, {"someone/odd-names": files}, gated=set()) as hub:
        job, _ = download(runner, "someone/odd-names", variant="q4")
        assert job.state is JobState.FINISHED, job.message
        assert "onnx/weights_fp32.pb" not in {r.file for r in hub.fetched("GET")}  # not the q4 graph's
        job, _ = download(runner, "someone/odd-names", variant="fp32")
        assert job.state is JobState.FINISHED, job.message
        assert {r.file for r in hub.fetched("GET")} >= {"onnx/model.onnx", "onnx/weights_fp32.pb"}
    folder = paths.models() / "odd-names"
    assert (folder / "onnx" / "weights_fp32.pb").stat().st_size == (source / "onnx" / "model.onnx_data").stat().st_size
    assert "onnx/weights_fp32.pb" in read_manifest(folder).files
