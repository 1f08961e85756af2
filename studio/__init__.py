"""Studio's plugin API, and only that.

A plugin needs nothing else::

    import studio

    class Tone(studio.Generator):
        ...

    @studio.hookimpl
    def register_generators(register):
        register(Tone())
"""

from studio.core.engine.generators import Event, Generator, Param, Preview, Progress, Request, Result
from studio.core.engine.jobs import JobContext
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
