"""The weight files bench/llama_cpp.py measures, made once under ``WORK/models/<shape>/``:

    hf/             Hugging Face checkpoint (safetensors + Qwen2's tokenizer): bench/llama_cpp_models.py
    f32.gguf        llama.cpp's convert_hf_to_gguf.py --outtype f32
    q4_0.gguf       llama-quantize f32.gguf Q4_0
    q8_0.gguf       llama-quantize f32.gguf Q8_0
    genai-int4/     python -m onnxruntime_genai.models.builder -p int4 -e cpu (as written: no config.json)
    onnx-fp32/      optimum-cli export onnx --task text-generation-with-past (Studio's int8 and q4 are
                    made from it by Studio itself, through the generator's variant parameter)

Each step writes into a scratch folder and renames it into place when done, so an interrupted
run redoes only the step it was in. The torch parts run with the torch python given
(``--torch-python``), optimum's with ``--optimum-python``: never in Studio's own process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from machine import log  # bench/ is the script's folder: on sys.path

HERE = Path(__file__).resolve().parent


def _atomic(target: Path, make) -> Path:
    """Run ``make(scratch)`` and move the scratch path to ``target`` (skipped if it exists)."""
    if target.exists():
        return target
    scratch = target.with_name(f".{target.name}.partial")
    if scratch.is_dir():
        shutil.rmtree(scratch)
    elif scratch.exists():
        scratch.unlink()
    make(scratch)
    os.replace(scratch, target)
    return target


def _run(command: list[str], what: str, log_file: Path) -> None:
    log(what)
    with open(log_file, "a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit {done.returncode}); its log: {log_file}")


def prepare(root: Path, sources: Path, tools: dict[str, Path] | None, torch_python: str,
            optimum_python: str | None, tiny: bool) -> tuple[dict[str, Path], list[str]]:
    """The weight files under ``root`` (made when missing), and notes on what could not be made."""
    root.mkdir(parents=True, exist_ok=True)
    log_file = root / "prepare.log"
    notes: list[str] = []
    made: dict[str, Path] = {}
    made["hf"] = _atomic(root / "hf", lambda out: _run(
        [torch_python, str(HERE / "llama_cpp_models.py"), "--vocab", str(sources / "models" / "ggml-vocab-qwen2.gguf"),
         "--out", str(out), *(["--tiny"] if tiny else [])], "weights: random Qwen2.5-0.5B-shaped checkpoint", log_file))
    made["genai-int4"] = _atomic(root / "genai-int4", lambda out: _run(
        [torch_python, "-m", "onnxruntime_genai.models.builder", "-i", str(made["hf"]), "-o", str(out), "-p", "int4",
         "-e", "cpu", "-c", str(root / "genai-cache")], "onnx: onnxruntime-genai builder, int4, cpu", log_file))
    if optimum_python:
        optimum_cli = str(Path(optimum_python).parent / "optimum-cli")
        made["onnx-fp32"] = _atomic(root / "onnx-fp32", lambda out: _run(
            [optimum_cli, "export", "onnx", "--model", str(made["hf"]), "--task", "text-generation-with-past", str(out)],
            "onnx: optimum fp32 export", log_file))
    else:
        notes.append("Studio fp32/int8/q4 skipped: no python with optimum-onnx given (--optimum-python or $STUDIO_OPTIMUM_PYTHON)")
    made["f32.gguf"] = _atomic(root / "f32.gguf", lambda out: _run(
        [torch_python, str(sources / "convert_hf_to_gguf.py"), str(made["hf"]), "--outtype", "f32", "--outfile", str(out)],
        "gguf: convert_hf_to_gguf.py --outtype f32", log_file))
    if tools is None:
        notes.append("llama.cpp Q4_0/Q8_0 not made: llama-quantize is not built")
        return made, notes
    for name, kind in (("q4_0.gguf", "Q4_0"), ("q8_0.gguf", "Q8_0")):
        made[name] = _atomic(root / name, lambda out, kind=kind: _run(
            [str(tools["llama-quantize"]), str(made["f32.gguf"]), str(out), kind], f"gguf: llama-quantize {kind}", log_file))
    return made, notes
