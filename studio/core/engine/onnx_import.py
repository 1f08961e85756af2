"""The one door through which Studio imports onnxruntime: its telemetry off, its noise down.

onnxruntime creates a device id and a telemetry database under
``~/.cache/Microsoft/DeveloperTools/.onnxruntime/`` (model file names, errors) while it is
being *imported*; ``disable_telemetry_events()`` comes too late for that, only the
``ORT_DISABLE_TELEMETRY`` environment variable, read by the native library as it loads,
prevents it. Studio promises that nothing leaves the machine, so every module (app,
plugins, recipes, benchmarks, tests) imports onnxruntime through here, and
``tests/core/test_privacy.py`` fails on any other import. A third-party plugin may still
import onnxruntime itself, so the plugin host turns telemetry off before it imports any
plugin (``keep_telemetry_off``). The variable stays set, so child processes (workers,
converters) inherit it.

onnxruntime's default logger also prints warnings about every provider that cannot start
(CUDA without a driver, TensorRT without its libraries): the runtime module says that once
in plain words instead, so only errors get through.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from studio.errors import StudioError

ERROR = 3  # onnxruntime's severity levels: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal

_quietened = False

# The parts of onnxruntime Studio uses besides the package itself, each named in full (an
# import of a computed name could load anything: tests/core/test_model_safety.py refuses it).
PARTS = {
    "capi.build_and_package_info": lambda: importlib.import_module("onnxruntime.capi.build_and_package_info"),
    "quantization": lambda: importlib.import_module("onnxruntime.quantization"),
    "quantization.matmul_nbits_quantizer": lambda: importlib.import_module("onnxruntime.quantization.matmul_nbits_quantizer"),
    "transformers.optimizer": lambda: importlib.import_module("onnxruntime.transformers.optimizer"),
    "transformers.fusion_options": lambda: importlib.import_module("onnxruntime.transformers.fusion_options"),
    "transformers.fusion_attention_unet": lambda: importlib.import_module("onnxruntime.transformers.fusion_attention_unet"),
    "transformers.onnx_model_unet": lambda: importlib.import_module("onnxruntime.transformers.onnx_model_unet"),
    "transformers.float16": lambda: importlib.import_module("onnxruntime.transformers.float16"),
}


def keep_telemetry_off() -> None:
    """Make onnxruntime start without telemetry, whoever imports it first in this process."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # read once, as the native library loads: see above


def import_onnxruntime(part: str = "") -> ModuleType:
    """onnxruntime (or ``onnxruntime.<part>``, one of ``PARTS``) with telemetry off, or a plain StudioError."""
    global _quietened
    keep_telemetry_off()
    try:
        onnxruntime = importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise StudioError(
            "onnxruntime is not installed or does not load "
            f"({exc}). Install it with: pip install onnxruntime-gpu (NVIDIA, x86-64) or onnxruntime"
        ) from None
    if not _quietened:
        onnxruntime.disable_telemetry_events()  # belt and braces, for builds that ignore the variable
        onnxruntime.set_default_logger_severity(ERROR)
        _quietened = True
    return PARTS[part]() if part else onnxruntime
