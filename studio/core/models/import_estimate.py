"""How much disk and memory an import needs, checked before the converter starts.

A conversion that runs out of disk half-way has wasted minutes; one that runs out of memory is
killed by the kernel (or takes the machine into swap). So the import job asks first, from the
number of parameters the source holds (``import_source.recognise`` reads them from the
safetensors headers), and refuses plainly when the machine lacks the room.

Disk: the fp32 ONNX graphs (4 bytes a parameter), each smaller variant asked for, and the
converter's temporary copy (an exporter's graph before it is optimised or quantised: at most
another fp32 copy), plus a margin; all of it in ``paths.models()`` (the work folder sits there
so the install is a rename).

Memory of the child: torch's fp32 model (4 bytes a parameter) plus the exporter's copy of the
part being exported, plus torch and the libraries themselves. Measured here (peak resident set
of the child, ``/proc/PID/status`` VmHWM): a full-size SD 1.5 checkpoint (1.07 G parameters,
4.3 GB in fp32) peaked at 7.8 GB, a Qwen2.5-0.5B-shaped folder with int4 (0.49 G, 2.0 GB) at
4.6 GB. 1.5 fp32 copies plus the libraries stays under both: a lower bound of the kind
``studio.core.base.memory`` uses, so a refusal is certainly right and a pass still leaves the
operating system the last word.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from studio.core.base.memory import available_memory
from studio.core.models.variants import human_size
from studio.errors import StudioError

FP32 = 4  # bytes a parameter in the fp32 graphs
#: Bytes a parameter of each smaller variant (int4: 4 bits plus a scale per block of 32; int8: a
#: byte plus scales; fp16: 2) and of the parts that stay fp32 in them (embeddings, norms).
VARIANT_BYTES = {"fp16": 2.0, "int8": 1.2, "int4": 0.7, "q4": 0.7}
#: The child's peak, in fp32 copies of the weights beyond the libraries (measured: 1.7-2.1; see above).
MEMORY_COPIES = 1.5
#: torch, diffusers, transformers and onnx imported: 0.37 GB resident, measured here.
RUNTIME_MEMORY = 384 * 1024 * 1024
#: Room kept free beyond the estimate (configs, tokenizers, the filesystem's own needs).
DISK_MARGIN = 64 * 1024 * 1024


@dataclass(frozen=True)
class ImportEstimate:
    """What one import needs: ``final`` bytes installed, ``temporary`` bytes on top while it runs."""

    final: int
    temporary: int
    memory: int

    @property
    def disk(self) -> int:
        return self.final + self.temporary + DISK_MARGIN


def estimate(parameters: int, weights_bytes: int, variant: str = "") -> ImportEstimate:
    """The estimate for a source of ``parameters`` numbers (``weights_bytes`` on disk) and the
    variant asked for beside fp32 ("" for none)."""
    fp32 = max(int(parameters), weights_bytes // FP32) * FP32
    final = fp32 + (int(parameters * VARIANT_BYTES[variant]) if variant in VARIANT_BYTES else 0)
    return ImportEstimate(final=final, temporary=fp32, memory=int(MEMORY_COPIES * fp32) + RUNTIME_MEMORY)


def check_room(need: ImportEstimate, what: str, folder: Path, free_disk: Callable[[Path], int],
               free_memory: Callable[[], int | None] = available_memory) -> None:
    """Refuse before the start when the disk of ``folder`` or the memory cannot hold the import."""
    disk = free_disk(folder)
    if need.disk > disk:
        raise StudioError(
            f"importing {what} needs about {human_size(need.disk)} of disk ({human_size(need.final)} for the model, "
            f"{human_size(need.temporary)} while it is converted), but only {human_size(disk)} is free on the disk of "
            f"{folder}: free some space and try again. Nothing was written")
    memory = free_memory()
    if memory is not None and need.memory > memory:
        raise StudioError(
            f"importing {what} needs about {human_size(need.memory)} of memory while it is converted; this machine "
            f"has {human_size(memory)} free: close other programs and try again. Nothing was written")
