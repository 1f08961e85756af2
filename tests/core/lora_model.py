"""The tiny models the LoRA tests run on: tests/fixtures/convert/diffusers/models/sd1 (and sdxl),
diffusers folders imported by Studio's own converter, once per test session (a child process: torch never
enters the test process), and the LoRA fixtures beside it (built by build_loras.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

LORAS = Path(__file__).resolve().parents[1] / "fixtures" / "convert" / "lora"
MODELS = LORAS.parent / "diffusers" / "models"
GOLDENS = LORAS / "goldens"
MANIFEST = json.loads((GOLDENS / "manifest.json").read_text())


def converted_model(tmp_path_factory, name: str = "sd1") -> Path:
    """The ONNX folder ``python -m studio.convert diffusers`` makes of the fixture ``name`` (made once)."""
    out = tmp_path_factory.getbasetemp() / f"lora-{name}"
    if (out / "model_index.json").is_file():
        return out
    out.mkdir(exist_ok=True)
    run = subprocess.run([sys.executable, "-m", "studio.convert", "diffusers", str(MODELS / name), str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    return out


def golden(case: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """(the case's manifest entry, diffusers' image, the initial latents it started from)."""
    data = np.load(GOLDENS / f"{case}.npz")
    return MANIFEST[case], data["image"], data["latents"]


def lora_set(case: str) -> tuple[tuple[str, float], ...]:
    return tuple((str(LORAS / file), float(weight)) for file, weight in MANIFEST[case]["loras"])
