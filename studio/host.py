"""The Studio host: plugins, model folders, runtime and job runner, wired from the settings.

The window and the CLI each make one ``Host`` and go through it, so both see the same
generators, the same device choice and the same runner.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, Mapping

from studio.cluster.address import CLUSTER_DEVICE_ID
from studio.cluster.client import Cluster, cluster_device
from studio.core.engine.generators import Generator
from studio.core.engine.jobs import Job, JobRunner, Listener
from studio.core.base.logs import setup_logging
from studio.core.models.library import model_folder_list
from studio.core.models.loaders import ModelFolder, check_new_folder
from studio.core.engine.runtime import CPU_DEVICE, Device, Runtime
from studio.errors import StudioError
from studio.plugins import PluginHost
from studio.settings import Settings

log = logging.getLogger(__name__)


class Host:
    def __init__(self, safe_mode: bool = False, settings: Settings | None = None, runtime: Runtime | None = None) -> None:
        setup_logging()
        self.settings = settings or Settings()
        self.plugins = PluginHost(safe_mode=safe_mode).load()
        self.runtime = runtime or Runtime()
        self.runner = JobRunner(self.runtime)
        self.cluster = Cluster(lambda: self.settings.cluster_address)
        self.reload_model_folders()

    @property
    def generators(self) -> dict[str, Generator]:
        return self.plugins.generators

    def generator(self, generator_id: str) -> Generator:
        return self.plugins.generator(generator_id)

    def reload_model_folders(self) -> list[ModelFolder]:
        """Load the settings' model folders, then every installed download or import under
        ``paths.models()`` (a folder with a manifest), each once."""
        return self.plugins.set_model_folders(model_folder_list(self.settings.model_folders))

    def add_model_folder(self, folder: str) -> ModelFolder:
        """Check that a plugin understands ``folder`` and that its ONNX files open, remember it,
        and load it. Raises ``StudioError``."""
        check_new_folder(folder, self.plugins.loaders)
        self.settings.add_model_folder(folder)
        entries = self.reload_model_folders()
        wanted = Path(folder).expanduser().resolve()
        entry = next(e for e in reversed(entries) if e.path.expanduser().resolve() == wanted)
        if not entry.ok:
            self.settings.remove_model_folder(folder)
            self.reload_model_folders()
            raise StudioError(entry.error)
        return entry

    def device(self) -> Device:
        """The device the settings ask for; CPU (and a log line) when it is not available.

        The cluster is not joined here (that takes seconds, and this runs on the GUI thread):
        its first job joins it, and says so plainly when it cannot."""
        try:
            return self.resolve_device(self.settings.device)
        except StudioError as exc:
            log.warning("%s; using the CPU", exc)
            return CPU_DEVICE

    def resolve_device(self, device_id: str) -> Device:
        """``cpu``, ``cuda:0``…, ``auto`` or ``ray`` (the cluster) as a device; ``StudioError``
        for an id this machine does not have."""
        if device_id == CLUSTER_DEVICE_ID:
            return cluster_device(self.cluster)
        try:
            return self.runtime.device(device_id)
        except StudioError as exc:
            raise StudioError(f"{exc}, or {CLUSTER_DEVICE_ID} for a Ray cluster") from None

    def submit(self, generator_id: str, values: Mapping[str, Any] | None = None, listeners: Iterable[Listener] = ()) -> Job:
        """Validate ``values`` for ``generator_id`` and queue it; raises ``StudioError`` on bad input."""
        generator = self.generator(generator_id)
        request = generator.request(values)
        return self.runner.submit(generator, request, self.device(), listeners)

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.cluster.shutdown()
