"""Super-resolution model folders as Real-ESRGAN's public ONNX exports ship them, and what their graph says.

Those exports are one ``.onnx`` file (``RealESRGAN_x4plus.onnx``, ``4x-UltraSharp.onnx``,
``real_esrgan_x4plus.onnx``...): one input ``(1, 3, H, W)`` of float pixels in [0, 1], named
``input``, ``image`` or anything else, its height and width dynamic or fixed (a mobile export
takes 128 x 128 only), float32 or float16; one output ``(1, 3, s*H, s*W)``. The scale ``s`` is
read from the graph's shapes when they are fixed, otherwise from a run on a small probe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import studio

#: The factors Studio upscales by; Real-ESRGAN ships 2x and 4x, the community 3x and 8x too.
SCALES = (2, 3, 4, 8)
#: Side of the probe a dynamic-size graph is run on to learn its scale.
PROBE_SIDE = 16
#: A fixed input larger than this is not a tile a model can be asked to run (a damaged file).
MAX_FIXED_SIDE = 4096
#: What the public exports' names say: RealESRGAN_x4plus, realesr-general-x4v3, 4x-UltraSharp,
#: 4xNomos8kSC, 2x_..., *upscale*, SwinIR; a factor stands alone or before letters (x4plus).
NAME_HINT = re.compile(r"esrgan|realesr|upscal|super.?res|swinir|(?<![a-z0-9])(x[2348]|[2348]x)(?![0-9])", re.IGNORECASE)
#: Files that mark another plugin's layout (an LM, a diffusers folder, a CPPN).
OTHER_LAYOUTS = ("config.json", "model_index.json", "genai_config.json", "cppn.json")
LAYOUT = "a folder with one super-resolution .onnx whose name says so (RealESRGAN_x4plus.onnx, 4x-UltraSharp.onnx)"
FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def model_file(folder: Path) -> Path | None:
    """The folder's one ``.onnx`` file when the folder looks like an upscaler's, else None."""
    if any((folder / name).exists() for name in OTHER_LAYOUTS):
        return None
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".onnx" and p.is_file())
    if len(files) != 1:
        return None
    return files[0] if NAME_HINT.search(files[0].stem) or NAME_HINT.search(folder.name) else None


@dataclass(frozen=True)
class SRGraph:
    """What a super-resolution graph takes and gives."""

    input_name: str
    output_name: str
    input_type: Any  # numpy float32 or float16
    scale: int
    #: (width, height) the graph takes when fixed, else None (any size).
    fixed_size: tuple[int, int] | None


def read_graph(loaded: Any, run: Any, where: Path) -> SRGraph:
    """The graph's input, output and scale, checked; ``run(session, outputs, feeds)`` runs the
    probe for a graph whose sizes are dynamic. Raises ``ModelError`` saying what is wrong."""
    session = loaded.session
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1:
        names = ", ".join(i.name for i in inputs)
        raise studio.ModelError(f"{where.name} takes {len(inputs)} inputs ({names}); an upscaler takes one picture")
    graph_in, graph_out = inputs[0], outputs[0]
    if graph_in.type not in FLOAT_TYPES:
        raise studio.ModelError(f"{where.name} takes {graph_in.type}; an upscaler takes float pixels (float32 or float16)")
    shape = list(graph_in.shape)
    if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
        raise studio.ModelError(f"{where.name} takes pictures of shape {shape}; an upscaler takes (1, 3, height, width): RGB")
    fixed = _fixed(shape[2], shape[3], where)
    out_shape = list(graph_out.shape)
    if len(out_shape) == 4 and all(isinstance(d, int) for d in out_shape[1:]) and fixed is not None:
        channels, out_h, out_w = out_shape[1:]
        probe_shape = (channels, out_h, out_w)
    else:
        side_w, side_h = fixed or (PROBE_SIDE, PROBE_SIDE)
        probe = np.zeros((1, 3, side_h, side_w), FLOAT_TYPES[graph_in.type])
        try:
            (result,) = run(loaded, [graph_out.name], {graph_in.name: probe})
        except studio.Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own errors, about the file
            raise studio.ModelError(f"{where.name} does not run on a {side_w} × {side_h} picture: {str(exc).splitlines()[0][:200]}") from None
        if result.ndim != 4:
            raise studio.ModelError(f"{where.name} gives an output of shape {result.shape}; an upscaler gives (1, 3, height, width)")
        probe_shape = result.shape[1:]
    channels, out_h, out_w = probe_shape
    in_w, in_h = fixed or (PROBE_SIDE, PROBE_SIDE)
    if channels != 3:
        raise studio.ModelError(f"{where.name} gives {channels} channels; an upscaler gives 3 (RGB)")
    if out_h % in_h or out_w % in_w or out_h // in_h != out_w // in_w or out_h // in_h not in SCALES:
        raise studio.ModelError(
            f"{where.name} turns {in_w} × {in_h} pixels into {out_w} × {out_h}; "
            f"Studio upscales by {', '.join(f'{s}x' for s in SCALES)} (the same factor across and down)"
        )
    return SRGraph(graph_in.name, graph_out.name, FLOAT_TYPES[graph_in.type], out_h // in_h, fixed)


def _fixed(height: Any, width: Any, where: Path) -> tuple[int, int] | None:
    if isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0:
        if height > MAX_FIXED_SIDE or width > MAX_FIXED_SIDE:
            raise studio.ModelError(f"{where.name} takes {width} × {height} pictures only; no upscaler tile is that large")
        return width, height
    return None
