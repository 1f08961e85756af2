"""Studio's plugin API, and only that.

A plugin needs nothing else::

    import studio

    class Tone(studio.Generator):
        ...

    @studio.hookimpl
    def register_generators(register):
        register(Tone())

Besides the names below, these core modules are public for plugins: helpers that every
model-folder plugin needs, kept stable like the API (tests/core/test_architecture.py holds the
built-in plugins to this list, and to never importing ``studio.ui`` or ``studio.cli``):

- ``studio.errors``: the errors, also exported here;
- ``studio.core.base.paths``: where Studio's built-in models and profile folder are;
- ``studio.core.base.memory``: ``ensure_memory``, refusing a step the machine cannot hold;
- ``studio.core.models.loaders``: ``read_json``, a model folder's JSON read within bounds;
- ``studio.core.models.limits``: ``bounded_int`` and the text cuts, for sizes a model folder states;
- ``studio.core.models.variants``: the variants of a model's weights (``model_q4.onnx``...) and
  their sizes; ``studio.core.models.variant_defaults``: the variant a user chose per device;
- ``studio.core.models.graph_device``: ``folder_need`` / ``required_device``, graphs that only
  run on a GPU (fused ``com.microsoft`` nodes) recognised before a job fails on the CPU;
- ``studio.core.models.graph_io``: ``graph_io``, a graph's input and output names read without
  its weights (which layout a folder's graphs follow), and ``graph_signature``, with their
  element types and shapes;
- ``studio.core.models.lora_file``: ``read_lora``, a LoRA's layers by diffusers parameter name;
- ``studio.core.engine.latent_values``: a latent parameter's value (``picture_latent``, the latent
  of one picture, given or drawn from its seed; ``recorded``, as a result's params hold it);
- ``studio.core.engine.onnx_import``: ``import_onnxruntime``, the one door to onnxruntime
  (telemetry off);
- ``studio.core.engine.model_safety``: ``check_model_file``, an ONNX file checked before use;
- ``studio.core.image.canvas_size``: ``resample``, a picture resized with Lanczos through
  premultiplied alpha, as the canvas resizes its layers;
- ``studio.core.image.tiling``: ``TileGrid`` / ``TileBlender``, a model run tile by tile with
  feathered overlaps (upscalers, tiled image to image), its output held to the picture limits;
- ``studio.core.image.control_maps``: ``control_map``, a ControlNet's control picture made
  from a layer or a file (canny edges, scribbles);
- ``studio.core.media.sound_files``: reading and resampling sound;
- ``studio.core.audio.midi``: ``Note``, for generators that write notes;
- ``studio.core.audio.synth``: ``render``, notes played by the built-in organ, strings or choir
  (the sound a note take is re-rendered with when its notes or instrument change);
- ``studio.core.audio.note_takes``: ``MIDI_PROGRAMS``, the General MIDI program of each of the
  synthesizer's instruments, which a note take's ``midi_program`` follows;
- ``studio.core.text.story``: ``StoryNotes`` / ``LoreEntry``, a writer's memory, author's note
  and lorebook, and ``parse_lorebook`` for a text generator's ``lorebook`` parameter;
- ``studio.core.text.context``: ``plan_context``, the context a language model reads (memory,
  fired lore, the story cut at a stable point, the author's note) and why.
"""

from studio.core.engine.generators import Event, Generator, Param, Preview, Progress, Request, Result
from studio.core.engine.jobs import JobContext
from studio.core.engine.latent_values import LatentSpace
from studio.core.models.loaders import ModelLoader
from studio.core.media.sound import Audio
from studio.errors import Cancelled, ModelError, ParamError, StudioError
from studio.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "Audio",
    "Cancelled",
    "Event",
    "Generator",
    "JobContext",
    "LatentSpace",
    "ModelError",
    "ModelLoader",
    "Param",
    "ParamError",
    "Preview",
    "Progress",
    "Request",
    "Result",
    "StudioError",
    "hookimpl",
]
