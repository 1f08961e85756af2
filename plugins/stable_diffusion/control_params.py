"""The generator's side of ControlNet: its parameters, the settings they make, and which graphs
a request runs.

Three layouts are read (``layout.SDModel.controlnet_kind``, from the graphs' input names):

- ``controlnet/`` holds a ControlNet beside a ``unet/`` that takes its residuals;
- ``controlnet/`` holds a UNet that takes residuals, beside a plain ``unet/`` (OnnxStack's
  converter with ``--controlnet``): the ControlNet is a file of its own, chosen by the user,
  and without a control picture the plain UNet runs;
- no ``controlnet/``, but a ``unet/`` that takes residuals: zeros, or a ControlNet chosen.

``controlnet_model`` names a ControlNet of its own (a ``model.onnx``, or a folder holding one or
holding ``controlnet/model.onnx``), e.g. one of OnnxStack's ControlNet downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import studio
from studio.core.image.control_maps import PREPROCESSORS, control_map
from studio.core.models.graph_io import graph_io

from .layout import SDModel

PARAMS = (
    studio.Param("control_image", "control", optional=True, label="Control layer", help=(
        "The picture the ControlNet follows: a layer (cut to the generated area), or a file on the command line.")),
    studio.Param("control_preprocess", "choice", "none", choices=PREPROCESSORS, label="Control map", help=(
        "What to make of the picture first: none (already a depth, pose or line map), canny (its edges), "
        "scribble (painted strokes as white lines on black).")),
    studio.Param("control_strength", "float", 1.0, min=0.0, max=2.0, step=0.05, label="Control strength", help="How strongly the picture steers (0 ignores it)."),
    studio.Param("control_start", "float", 0.0, min=0.0, max=1.0, step=0.01, label="Control from", help="The fraction of the steps where the control starts."),
    studio.Param("control_end", "float", 1.0, min=0.0, max=1.0, step=0.01, label="Control until", help="The fraction of the steps where the control stops."),
)
#: Offered where the folder has no ControlNet of its own (OnnxStack's layout, a residual UNet alone).
CONTROLNET_MODEL = studio.Param("controlnet_model", "text", "", label="ControlNet model", help="The path of a ControlNet's model.onnx")


def control_params(model: SDModel) -> tuple[studio.Param, ...]:
    """The control parameters a folder offers (none where no ControlNet can steer its UNet)."""
    if not model.takes_control:
        return ()
    return PARAMS if model.controlnet_kind == "controlnet" else (*PARAMS, CONTROLNET_MODEL)


def control_settings(request: studio.Request) -> dict[str, Any]:
    """The pipeline's control settings from a request (empty for a folder without ControlNet)."""
    if "control_image" not in request.params:
        return {}
    start, end = request["control_start"], request["control_end"]
    if start >= end:
        raise studio.ParamError(f"control_start ({start}) must come before control_end ({end})")
    picture = request["control_image"]
    if picture is not None:
        picture = control_map(picture, request["control_preprocess"])
    return dict(control_image=picture, control_strength=request["control_strength"], control_start=start, control_end=end)


def control_graphs(model: SDModel, graphs: dict[str, Path], request: studio.Request) -> dict[str, Path]:
    """``graphs`` as this request runs them: the ControlNet chosen in place of the folder's,
    and in OnnxStack's layout the residual-taking UNet only when a control picture is given."""
    if "control_image" not in request.params:
        return graphs
    graphs = dict(graphs)
    named = request.params.get("controlnet_model") or ""
    chosen = controlnet_file(named) if named.strip() else None
    if model.controlnet_kind == "unet":
        residual_unet = graphs.pop("controlnet")
        if request["control_image"] is not None:
            if chosen is None:
                raise studio.ParamError(
                    f"{model.folder.name} keeps a UNet for ControlNets in controlnet/ (OnnxStack's layout), not a ControlNet: "
                    "choose the ControlNet to use (controlnet_model: its model.onnx)"
                )
            graphs.update(unet=residual_unet, controlnet=chosen)
    elif chosen is not None:
        graphs["controlnet"] = chosen
    return graphs


def controlnet_file(text: str) -> Path:
    """The ControlNet graph ``text`` names (a file, or a folder holding one), checked to be one."""
    path = Path(text.strip()).expanduser()
    if path.is_dir():
        path = next((p for p in (path / "model.onnx", path / "controlnet" / "model.onnx") if p.is_file()), path / "model.onnx")
    if not path.is_file():
        raise studio.ParamError(f"controlnet_model: no ControlNet at {path}")
    try:
        inputs = graph_io(path).inputs
    except studio.ModelError as exc:
        raise studio.ParamError(f"controlnet_model: {exc}") from None
    if "controlnet_cond" not in inputs:
        raise studio.ParamError(f"controlnet_model: {path} is not a ControlNet (its graph takes no controlnet_cond)")
    return path
