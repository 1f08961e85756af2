"""ControlNet: the residuals a ControlNet adds to the UNet's skip connections, step by step.

The layout is the one ONNX SD tools (OnnxStack's converter) write: ``controlnet/model.onnx``
beside a ``unet/model.onnx`` that takes ``down_block_N_additional_residual`` and
``mid_block_additional_residual`` inputs; the ControlNet takes ``sample``, ``timestep``,
``encoder_hidden_states``, ``controlnet_cond`` (and ``conditioning_scale``, else the scale is
applied here) and yields the residuals under the same names. Names are read from the graphs.

Each step follows diffusers' StableDiffusionControlNetPipeline: the ControlNet sees the same
scaled latents, timestep and CFG batch of prompt embeddings as the UNet, the control picture
(resized to the image, RGB in [0, 1], doubled under CFG), and the scale
``conditioning_scale * keep[i]``, where ``keep[i]`` is 0 outside the control_start..control_end
fraction of the steps. A residual-taking UNet run without a control picture gets zeros.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

import studio

RESIDUAL_INPUT = re.compile(r"^(down_block_(\d+)|mid_block)_additional_residual$")
CONTROLNET_INPUTS = {"sample", "timestep", "encoder_hidden_states", "controlnet_cond", "conditioning_scale", "text_embeds", "time_ids"}
ADDED_CONDITIONS = ("text_embeds", "time_ids")  # an SDXL ControlNet takes the UNet's, as its UNet does
NUMPY_TYPES = {"tensor(float16)": np.float16, "tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def residual_names(names) -> list[str]:
    """The residual inputs among a UNet's input names: the down blocks in order, then the mid block."""
    found = [(m.group(2), name) for name in names if (m := RESIDUAL_INPUT.match(name))]
    down = sorted((int(index), name) for index, name in found if index is not None)
    return [name for _, name in down] + [name for index, name in found if index is None]


def control_pixels(rgba: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 RGB(A) (H, W, 3|4) -> float32 (1, 3, height, width) in [0, 1], as diffusers'
    control image processor makes it (alpha dropped, Lanczos resize, no [-1, 1] scaling)."""
    rgb = np.ascontiguousarray(rgba[..., :3])
    if rgb.shape[:2] != (height, width):
        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.LANCZOS))
    return (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]


def control_keep(steps: int, start: float, end: float) -> list[float]:
    """diffusers' ``controlnet_keep``: 1 for the steps inside the start..end fraction, else 0."""
    return [1.0 - float(i / steps < start or (i + 1) / steps > end) for i in range(steps)]


def _feed(arg: Any, value: Any, batch: int) -> np.ndarray:
    """``value`` shaped and typed as the graph input ``arg`` wants a scalar: [] or [batch]."""
    dtype = NUMPY_TYPES.get(arg.type, np.float32)
    if len(arg.shape) == 0:
        return np.array(value, dtype=dtype)
    return np.full((arg.shape[0] if isinstance(arg.shape[0], int) else batch,), value, dtype=dtype)


def residuals_for(model: Any, unet_inputs: dict[str, Any], graphs: dict[str, Any], session: Callable, run: Callable) -> "Residuals | None":
    """The residuals a folder's UNet takes (None: it takes none), with its ControlNet if it has one."""
    names = residual_names(unet_inputs)
    graphs = dict(graphs)
    if model.controlnet_kind == "unet" and Path(graphs.get("controlnet", "")).parent == model.folder / "controlnet":
        del graphs["controlnet"]  # OnnxStack's UNet for ControlNets, not a ControlNet (control_params.py)
    if "controlnet" in graphs and not names:
        raise studio.ModelError(
            f"{model.folder} has a controlnet/ folder, but its UNet takes no ControlNet residuals "
            "(down_block_N_additional_residual, mid_block_additional_residual): export the UNet with them to use it"
        )
    if not names:
        return None
    if not any(name.startswith("mid_block") for name in names):
        raise studio.ModelError(f"the UNet in {model.folder} takes down-block residuals but no mid_block_additional_residual")
    controlnet = session(graphs["controlnet"]) if "controlnet" in graphs else None
    return Residuals(names, unet_inputs, model.unet_config, controlnet, run, str(model.folder))


class Residuals:
    """What a residual-taking UNet gets: a ControlNet's residuals, or zeros without one.

    ``names`` are the UNet's residual inputs; ``controlnet`` a session (or None). Checked when
    made: a ControlNet that does not give every residual the UNet takes is refused.
    """

    def __init__(self, names: list[str], unet_inputs: dict[str, Any], unet_config: dict[str, Any], controlnet: Any, run: Callable, where: str) -> None:
        self.names, self.unet_inputs, self.unet_config, self.controlnet, self.run = names, unet_inputs, unet_config, controlnet, run
        self.where = where
        if controlnet is not None:
            self.inputs = {i.name: i for i in controlnet.session.get_inputs()}
            outputs = {o.name for o in controlnet.session.get_outputs()}
            missing = [name for name in names if name not in outputs]
            if missing:
                raise studio.ModelError(f"the ControlNet in {where} does not give the residuals its UNet takes ({', '.join(missing[:3])}…): it was exported for another UNet or without them")
            lacking = sorted({"sample", "timestep", "encoder_hidden_states", "controlnet_cond"} - set(self.inputs))
            unknown = sorted(set(self.inputs) - CONTROLNET_INPUTS)
            if lacking or unknown:
                raise studio.ModelError(f"the ControlNet in {where} takes inputs Studio cannot give: " + ", ".join(lacking + unknown))

    def plan(self, settings: Any, guided: bool, steps: int) -> "StepResiduals":
        """The per-step residuals for one run of ``settings``."""
        image = settings.control_image
        if image is not None and self.controlnet is None:
            raise studio.ParamError(f"{self.where} has no ControlNet of its own: choose one for the control picture (controlnet_model: a ControlNet's model.onnx)")
        if image is None or settings.control_strength == 0.0:
            return StepResiduals(self, None, [0.0] * steps, 0.0)
        pixels = control_pixels(image, settings.width, settings.height)
        if guided:
            pixels = np.concatenate([pixels, pixels])
        return StepResiduals(self, pixels, control_keep(steps, settings.control_start, settings.control_end), settings.control_strength)

    def zeros(self, sample: np.ndarray) -> dict[str, np.ndarray]:
        """Zero residuals of the shapes the UNet's blocks have for ``sample``: conv_in's and each
        resnet's output, each downsampler's, the mid block's (diffusers' UNet2DConditionModel)."""
        channels = list(self.unet_config.get("block_out_channels") or (320, 640, 1280, 1280))
        layers = int(self.unet_config.get("layers_per_block") or 2)
        batch, _, height, width = sample.shape
        shapes = [(channels[0], height, width)]
        for block, width_of_block in enumerate(channels):
            scale = 2**block
            shapes += [(width_of_block, -(-height // scale), -(-width // scale))] * layers
            if block < len(channels) - 1:
                shapes.append((width_of_block, -(-height // (scale * 2)), -(-width // (scale * 2))))
        mid = (channels[-1], -(-height // 2 ** (len(channels) - 1)), -(-width // 2 ** (len(channels) - 1)))
        if len(shapes) != len(self.names) - 1:
            raise studio.ModelError(f"the UNet in {self.where} takes {len(self.names) - 1} down-block residuals; its config.json describes {len(shapes)}")
        feeds = {}
        for name, shape in zip(self.names, [*shapes, mid]):
            dtype = NUMPY_TYPES.get(self.unet_inputs[name].type, np.float32)
            feeds[name] = np.zeros((batch, *shape), dtype)
        return feeds


class StepResiduals:
    """One run's residuals: ``at(index, sample, timestep, hidden, extras)`` for the UNet call of
    step ``index`` (``extras``: the UNet's added conditions, SDXL's text_embeds and time_ids)."""

    def __init__(self, owner: Residuals, pixels: np.ndarray | None, keep: list[float], scale: float) -> None:
        self.owner, self.pixels, self.keep, self.scale = owner, pixels, keep, scale
        self._zeros: dict[str, np.ndarray] | None = None

    def at(self, index: int, sample: np.ndarray, timestep: Any, hidden: np.ndarray, extras: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        scale = self.scale * self.keep[index]
        if self.pixels is None or scale == 0.0:
            # diffusers runs the ControlNet at scale 0 there, which gives exactly these zeros
            if self._zeros is None or self._zeros[self.owner.names[0]].shape[0] != sample.shape[0]:
                self._zeros = self.owner.zeros(sample)
            return self._zeros
        owner = self.owner
        inputs = owner.inputs
        batch = sample.shape[0]
        feeds = {
            "sample": sample.astype(NUMPY_TYPES.get(inputs["sample"].type, np.float32)),
            "timestep": _feed(inputs["timestep"], timestep, batch),
            "encoder_hidden_states": hidden.astype(NUMPY_TYPES.get(inputs["encoder_hidden_states"].type, np.float32)),
            "controlnet_cond": self.pixels.astype(NUMPY_TYPES.get(inputs["controlnet_cond"].type, np.float32)),
        }
        for name in ADDED_CONDITIONS:
            if name in inputs:
                if name not in extras:
                    raise studio.ModelError(f"the ControlNet in {owner.where} takes {name} (SDXL's), which this model's UNet does not")
                feeds[name] = extras[name].astype(NUMPY_TYPES.get(inputs[name].type, np.float32))
        inside = "conditioning_scale" in inputs
        if inside:
            feeds["conditioning_scale"] = _feed(inputs["conditioning_scale"], scale, batch)
        outputs = owner.run(owner.controlnet, owner.names, feeds)
        residuals = {}
        for name, value in zip(owner.names, outputs):
            value = value if inside else value * np.float32(scale)
            residuals[name] = value.astype(NUMPY_TYPES.get(owner.unet_inputs[name].type, np.float32))
        return residuals

