"""The import job (``studio.core.models.importing``): a real conversion in a real child process
(``python -m studio.convert``), through the ordinary job runner. The source is the tiny Qwen2
folder of tests/fixtures/convert/lm (the fastest converter: no tracing); what was installed is
read from the models folder, which processes lived from /proc."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import time
from pathlib import Path

import pytest

from studio.core.base import paths
from studio.core.engine.generators import Progress, Result
from studio.core.engine.jobs import JobRunner, JobState, StateChanged
from studio.core.models.importing import IMPORT_DEVICE, WORK, start_import
from studio.core.models.library import model_records
from studio.core.models.manifest import FILE_NAME, read_manifest
from studio.core.models.safetensors_file import read_safetensors
from studio.host import Host

LM = Path(__file__).resolve().parents[1] / "fixtures" / "convert" / "lm"
QWEN2 = LM / "qwen2"
WAIT = 240.0


def run_import(runner, path, listener=None, **options):
    events = []

    def hear(job, event):
        events.append(event)
        if listener is not None:
            listener(job, event)

    job = start_import(runner, path, listeners=[hear], **options)
    assert job.wait(WAIT), "the import did not end"
    return job, events


def installed_names() -> list[str]:
    place = paths.models()
    return sorted(p.name for p in place.iterdir() if not p.name.startswith(".")) if place.is_dir() else []


def leftovers() -> list[str]:
    """Everything an import may leave in the models folder: installed folders and work folders."""
    work = paths.models() / WORK
    return installed_names() + (sorted(p.name for p in work.iterdir()) if work.is_dir() else [])


def converter_pids() -> list[int]:
    """Processes running ``studio.convert`` for this test's models folder (read from /proc)."""
    found = []
    mark = str(paths.models()).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"studio.convert" in command and mark in command:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """One real import (int4 beside fp32) in a Studio home of its own, with what was seen while it ran."""
    home = tmp_path_factory.mktemp("import-home")
    seen: dict = {"during": set()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(home))
        runner = JobRunner()
        try:
            def watch(job, event):  # what the models folder shows while the child converts
                if isinstance(event, Progress):
                    seen["during"].update(installed_names())

            job, events = run_import(runner, QWEN2, watch, variant="int4")
            seen["work"] = sorted((paths.models() / WORK).iterdir()) if (paths.models() / WORK).is_dir() else []
            seen["second"], _ = run_import(runner, QWEN2)  # the same source again: the name is taken
        finally:
            runner.shutdown()
        seen.update(job=job, events=events, folder=paths.models() / "qwen2", home=home, installed=installed_names())
        host = Host()
        try:
            seen["records"] = {r.name: r for r in model_records(host)}
        finally:
            host.shutdown()
    return seen


def test_an_import_converts_in_a_child_and_installs_the_folder_with_its_manifest(imported):
    job, folder = imported["job"], imported["folder"]
    assert job.state is JobState.FINISHED, job.message
    assert job.device == IMPORT_DEVICE
    result = [e for e in imported["events"] if isinstance(e, Result)]
    assert len(result) == 1 and result[0].value == str(folder) and result[0].kind == "model"
    assert result[0].info["variants"] == ["fp32", "q4"] and result[0].info["bytes"] > 0
    assert result[0].info["child_peak_memory"] > 50 * 1024 * 1024  # the child's own memory: torch, numpy
    assert (folder / "onnx" / "model.onnx").is_file() and (folder / "onnx" / "model_q4.onnx").is_file()
    manifest = read_manifest(folder)
    assert manifest.source == {"import": str(QWEN2), "format": "causal-lm"}
    assert manifest.variants == ["fp32", "q4"]
    on_disk = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != FILE_NAME}
    assert {name: record["size"] for name, record in manifest.files.items()} == on_disk
    # the manifest is written last: nothing of the folder is newer
    assert all((folder / FILE_NAME).stat().st_mtime_ns >= (folder / name).stat().st_mtime_ns for name in on_disk)
    assert imported["work"] == []  # the work folder went with the install


def test_progress_comes_from_the_child_per_component_in_order_and_nothing_shows_before_the_install(imported):
    events = [e for e in imported["events"] if not isinstance(e, StateChanged)]
    progress = [e for e in events if isinstance(e, Progress)]
    assert isinstance(events[-1], Result) and all(isinstance(e, Progress) for e in events[:-1])
    messages = [p.message for p in progress]
    assert messages[0] == "Starting the import…" and messages[1].startswith("Checking the room for a Qwen2 language model")
    layers = [p for p in progress if p.message.startswith("Model: Layer")]
    assert [p.message for p in layers] == ["Model: Layer 1 of 2", "Model: Layer 2 of 2"]
    counted = [p for p in progress if p.message.startswith("Model:")]
    assert [p.step for p in counted] == sorted(p.step for p in counted) and {p.total for p in counted} == {2}
    assert any("int4" in m for m in messages[messages.index(counted[-1].message):])  # the variant comes after fp32
    assert imported["during"] == set()  # while it converted, the models folder showed no model


def test_the_library_lists_the_import_as_imported_and_the_host_loads_it(imported):
    record = imported["records"]["qwen2"]
    assert record.origin == "imported" and record.kind == "text" and record.generator_id == "lm:qwen2"
    assert record.source == f"imported from {QWEN2}"
    assert {"fp32", "q4"} <= set(record.variants) and not record.error


def test_a_second_import_of_the_same_source_gets_a_free_name(imported):
    second = imported["second"]
    assert second.state is JobState.FINISHED, second.message
    assert imported["installed"] == ["qwen2", "qwen2-2"] and second.result.value == str(imported["folder"]) + "-2"
    assert read_manifest(imported["folder"].with_name("qwen2-2")).variants == ["fp32"]  # no variant asked: fp32 only
    assert read_manifest(imported["folder"]).variants == ["fp32", "q4"]  # the first untouched


def test_cancel_mid_conversion_kills_the_child_at_once_and_leaves_nothing(runner):
    seen: dict = {}

    def cancel_on_the_first_layer(job, event):
        if isinstance(event, Progress) and event.message == "Model: Layer 1 of 2" and "cancelled" not in seen:
            seen["pids"] = converter_pids()
            seen["cancelled"] = time.monotonic()
            job.cancel()

    job, events = run_import(runner, QWEN2, cancel_on_the_first_layer, variant="int4")
    ended = time.monotonic()
    assert job.state is JobState.CANCELLED and not job.abandoned
    assert ended - seen["cancelled"] < 2.0  # SIGKILL to the group: no waiting for the converter
    assert seen["pids"] and not any(alive(pid) for pid in seen["pids"])
    assert converter_pids() == []
    assert leftovers() == []
    assert not any(isinstance(e, Result) for e in events)


def test_a_child_killed_mid_way_fails_the_job_plainly_and_leaves_nothing(runner):
    """What the kernel's out-of-memory killer does to a conversion: SIGKILL, no last word."""

    def kill_the_child(job, event):
        if isinstance(event, Progress) and event.message == "Model: Layer 1 of 2":
            for pid in converter_pids():
                os.kill(pid, signal.SIGKILL)

    job, _ = run_import(runner, QWEN2, kill_the_child)
    assert job.state is JobState.FAILED and not job.internal_error
    assert "the converter was killed by SIGKILL (out of memory?)" in job.message
    assert job.message.endswith("nothing was installed") or "nothing was installed" in job.message
    assert leftovers() == [] and converter_pids() == []


def write_safetensors(path: Path, tensors: dict) -> None:
    """A safetensors file from numpy arrays (the format: a length, a JSON header, the bytes)."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = array.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_a_converter_that_fails_fails_the_job_with_its_words_and_leaves_nothing(runner, tmp_path):
    source = tmp_path / "qwen2-missing-a-weight"
    shutil.copytree(QWEN2, source)
    weights = read_safetensors(QWEN2 / "model.safetensors")
    kept = {name: weights.load(name) for name in weights.tensors if name != "model.layers.1.mlp.down_proj.weight"}
    write_safetensors(source / "model.safetensors", kept)

    job, events = run_import(runner, source)
    assert job.state is JobState.FAILED
    assert job.message.startswith("importing qwen2-missing-a-weight failed: ")
    assert "model.layers.1.mlp.down_proj.weight" in job.message and "nothing was installed" in job.message
    assert "Traceback" not in job.message
    assert leftovers() == [] and converter_pids() == []
    assert any(isinstance(e, Progress) and e.message.startswith("Model:") for e in events)  # the child had started


def test_work_folders_of_imports_whose_process_died_are_removed_and_a_live_ones_kept():
    """A window killed mid-import leaves its work folder; the next import clears it, not another's."""
    import subprocess
    import sys

    from studio.core.base.processes import process_start
    from studio.core.models.importing import OWNER, remove_stale_work

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)
    work = paths.models() / WORK
    owners = {"dead": f"{dead_pid} 1", "alive": f"{os.getpid()} {process_start(os.getpid())}",
              "being-made": None, "ownerless-long-ago": None}
    for name, owner in owners.items():
        (work / name / "model" / "onnx").mkdir(parents=True)
        (work / name / "model" / "onnx" / "model.onnx").write_bytes(b"partial")
        if owner is not None:
            (work / name / OWNER).write_text(owner + "\n", encoding="ascii")
    hour_ago = time.time() - 3600
    os.utime(work / "ownerless-long-ago", (hour_ago, hour_ago))
    remove_stale_work()
    assert sorted(p.name for p in work.iterdir()) == ["alive", "being-made"]
