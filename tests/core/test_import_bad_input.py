"""Bad input to an import: a truncated safetensors file, pickled weights, a folder that is none of
the four kinds, a disk too small for the estimate, a machine without the memory, a disk that fills
up while the converter writes. Each is a plain message, before anything starts where it can be
told before, and nothing half-installed stays behind.

The disk tests mount a real small filesystem (tmpfs) as Studio's home; where this user may not
mount one, they are skipped and say why."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.base import paths
from studio.core.engine.generators import Progress, Result
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.import_source import recognise
from studio.core.models.importing import WORK, check_convert_extra, start_import
from studio.errors import ModelError, StudioError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "convert"
QWEN2 = FIXTURES / "lm" / "qwen2"
SD1 = FIXTURES / "sd" / "sd1.safetensors"
WAIT = 240.0


@pytest.fixture
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def leftovers() -> list[str]:
    place = paths.models()
    if not place.is_dir():
        return []
    work = place / WORK
    return sorted(p.name for p in place.iterdir() if not p.name.startswith(".")) + (
        sorted(p.name for p in work.iterdir()) if work.is_dir() else [])


def refused(path, **options) -> str:
    """The message ``start_import`` refuses ``path`` with; nothing may have been written."""
    runner = JobRunner()
    try:
        with pytest.raises(StudioError) as caught:
            start_import(runner, path, **options)
    finally:
        runner.shutdown()
    assert leftovers() == [] and runner.jobs() == []
    return str(caught.value)


# -- what the source is ----------------------------------------------------------------------------


def test_a_truncated_checkpoint_is_named_cut_short(tmp_path):
    cut = tmp_path / "model.safetensors"
    data = SD1.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert "cut short" in refused(cut)


def test_truncated_weights_in_a_model_folder_are_named_cut_short(tmp_path):
    source = tmp_path / "qwen2"
    shutil.copytree(QWEN2, source)
    weights = source / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    message = refused(source)
    assert "model.safetensors is cut short" in message


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth", ".bin"])
def test_a_pickled_file_is_refused_with_the_reason_and_the_way_out(tmp_path, suffix):
    pickled = tmp_path / f"dreamshaper{suffix}"
    pickled.write_bytes(b"\x80\x04K\x01.")  # a real pickle: the integer 1
    message = refused(pickled)
    assert message.startswith(f"dreamshaper{suffix} is a pickled file")
    assert "can run any code" in message and "almost always published as .safetensors" in message


def test_a_folder_with_only_pickled_weights_is_refused(tmp_path):
    source = tmp_path / "qwen2-bin"
    source.mkdir()
    shutil.copy(QWEN2 / "config.json", source)
    (source / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    assert refused(source).startswith("pytorch_model.bin is a pickled file")

    diffusers = tmp_path / "pipeline"
    (diffusers / "unet").mkdir(parents=True)
    (diffusers / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}))
    (diffusers / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    assert refused(diffusers).startswith("diffusion_pytorch_model.bin is a pickled file")


def test_a_folder_of_no_kind_studio_imports_says_what_studio_imports(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    message = refused(tmp_path)
    assert "is neither a diffusers folder (model_index.json) nor a Hugging Face model folder (config.json)" in message
    assert "Studio imports a Stable Diffusion checkpoint (.safetensors), a diffusers folder" in message

    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    assert "holds a BertModel, which is not a causal language model nor MusicGen" in refused(bert)

    falcon = tmp_path / "falcon"
    falcon.mkdir()
    (falcon / "config.json").write_text(json.dumps({"model_type": "falcon", "architectures": ["FalconForCausalLM"]}))
    assert "is a falcon language model; Studio's converter exports these architectures: gpt2, llama" in refused(falcon)

    onnx = tmp_path / "already"
    (onnx / "onnx").mkdir(parents=True)
    (onnx / "onnx" / "model.onnx").write_bytes(b"")
    assert "holds ONNX models already: add it with `studio models add" in refused(onnx)

    assert refused(tmp_path / "nowhere").endswith("nowhere does not exist")


def test_a_variant_the_source_does_not_offer_and_a_bad_name_are_refused():
    assert "cannot be imported with a fp16 variant (offered: int4, int8)" in refused(QWEN2, variant="fp16")
    assert "cannot be a model's name" in refused(QWEN2, name="../elsewhere")


def test_the_convert_extra_missing_is_told_with_the_command_that_installs_it():
    with pytest.raises(StudioError) as caught:
        check_convert_extra(("torch", "no_such_module_of_the_convert_extra"))
    message = str(caught.value)
    assert "no_such_module_of_the_convert_extra is not installed" in message and "torch" not in message.split("and ")[1].split(" is")[0]
    assert f"{sys.executable} -m pip install --extra-index-url https://download.pytorch.org/whl/cpu 'studio-desktop[convert]'" in message


def test_recognise_tells_each_kind_in_plain_words():
    source = recognise(QWEN2)
    assert (source.format, source.description, source.name) == ("causal-lm", "a Qwen2 language model", "qwen2")
    assert source.parameters > 0 and source.weights_bytes == (QWEN2 / "model.safetensors").stat().st_size
    assert source.variants_offered == ("int4", "int8")
    musicgen = recognise(FIXTURES / "musicgen" / "source")
    assert (musicgen.format, musicgen.variants_offered) == ("musicgen", ())


def test_an_lcm_distilled_diffusers_folder_is_a_stable_diffusion_import(tmp_path):
    folder = shutil.copytree(FIXTURES / "diffusers" / "models" / "sd1", tmp_path / "lcm-dreamshaper")
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": "LatentConsistencyModelPipeline"}))
    source = recognise(folder)
    assert source.format == "diffusers" and "(LCM)" in source.description
    (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": "FluxPipeline"}))
    with pytest.raises(ModelError, match="FluxPipeline"):
        recognise(folder)


# -- room: disk and memory -------------------------------------------------------------------------


@contextlib.contextmanager
def studio_home_on_a_disk_of(size: str, folder: Path, monkeypatch):
    """Studio's home on a tmpfs of ``size`` (a real filesystem that really fills up)."""
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root here")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        monkeypatch.setenv("STUDIO_HOME", str(folder))
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_disk_too_small_for_the_estimate_is_refused_before_the_converter_starts(runner, tmp_path, monkeypatch):
    with studio_home_on_a_disk_of("16m", tmp_path / "disk", monkeypatch):
        events = []
        job = start_import(runner, QWEN2, variant="int4", listeners=[lambda job, event: events.append(event)])
        assert job.wait(WAIT)
        assert job.state is JobState.FAILED
        assert job.message.startswith("importing qwen2 needs about ")
        assert "of disk" in job.message and "is free on the disk of" in job.message and job.message.endswith("Nothing was written")
        assert [e.message for e in events if isinstance(e, Progress)] == [
            "Starting the import…", "Checking the room for a Qwen2 language model…"]  # no word from a child: none ran
        assert leftovers() == []


def test_a_machine_without_the_memory_is_refused_before_the_converter_starts(runner, tmp_path, monkeypatch):
    """A source of 8 G parameters (a sparse file: its header is real, its zeros take no disk) on a
    disk roomy enough: the conversion would need ~100 GB of memory, which no test machine has."""
    source = tmp_path / "huge-lm"
    source.mkdir()
    shutil.copy(QWEN2 / "config.json", source)
    parameters = 8 * 1024**3
    header = json.dumps({"model.embed_tokens.weight": {"dtype": "BF16", "shape": [parameters // 1024, 1024],
                                                       "data_offsets": [0, parameters * 2]}}).encode()
    with open(source / "model.safetensors", "wb") as file:
        file.write(len(header).to_bytes(8, "little") + header)
        file.truncate(8 + len(header) + parameters * 2)
    with studio_home_on_a_disk_of("400g", tmp_path / "disk", monkeypatch):
        job = start_import(runner, source)
        assert job.wait(WAIT) and job.state is JobState.FAILED
        assert job.message.startswith("importing huge-lm needs about ") and "of memory while it is converted" in job.message
        assert leftovers() == []


def test_a_disk_that_fills_up_during_the_conversion_is_said_plainly_and_nothing_is_installed(runner, tmp_path, monkeypatch):
    with studio_home_on_a_disk_of("80m", tmp_path / "disk", monkeypatch) as disk:
        filler = disk / "another-program's-file"

        def fill_the_disk(job, event):  # another program takes the rest of the disk while the child works
            if isinstance(event, Progress) and event.message.startswith("Model:") and not filler.exists():
                with open(filler, "wb") as file:
                    try:
                        while True:
                            file.write(b"\0" * (1 << 20))
                            file.flush()
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC

        events = []
        job = start_import(runner, QWEN2, variant="int4",
                           listeners=[fill_the_disk, lambda job, event: events.append(event)])
        assert job.wait(WAIT)
        assert filler.exists()
        assert job.state is JobState.FAILED and not job.internal_error
        assert job.message == f"importing qwen2 failed: the disk is full ({paths.models()}). Free some space and import again; nothing was installed"
        assert leftovers() == [] and not any(isinstance(e, Result) for e in events)
        filler.unlink()


# -- the converter's command line (the protocol the job reads) -------------------------------------


def convert(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio.convert", *args], capture_output=True, text=True, timeout=120)


def test_the_converter_answers_bad_arguments_with_one_error_line_and_exit_code_2(tmp_path):
    run = convert("causal-lm", str(tmp_path / "nowhere"), str(tmp_path / "out"))
    assert run.returncode == 2
    assert [json.loads(line) for line in run.stdout.splitlines()] == [{"error": f"{tmp_path / 'nowhere'} does not exist"}]
    run = convert("causal-lm", str(QWEN2), str(tmp_path / "out"), "--options", "[1]")
    assert run.returncode == 2 and json.loads(run.stdout) == {"error": "the converter's options must be a JSON object"}
    run = convert("gguf", str(QWEN2), str(tmp_path / "out"))
    assert run.returncode == 2 and "invalid choice: 'gguf'" in run.stderr
    assert json.loads(run.stdout)["error"].startswith("bad arguments to the converter")


def test_an_internal_error_in_the_converter_is_exit_code_1_with_the_traceback_on_stderr(tmp_path):
    taken = tmp_path / "a-file-not-a-folder"
    taken.write_text("")
    run = convert("causal-lm", str(QWEN2), str(taken))
    assert run.returncode == 1
    assert [json.loads(line) for line in run.stdout.splitlines()] == [
        {"error": f"internal error: FileExistsError: [Errno 17] File exists: '{taken}'"}]
    assert "Traceback (most recent call last)" in run.stderr and "FileExistsError" in run.stderr
