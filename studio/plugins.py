"""The plugin host: discovery through entry points, the allow-list, and failure isolation.

Built-in plugins are ordinary entry points of Studio's distribution in the same
``studio`` group a third-party package uses, so they are found, listed and isolated the
same way. A plugin that fails to import, or raises in a hook, is recorded with its name and
error; the others keep working. Hooks are called one plugin at a time (not through one
``pm.hook`` call, where the first exception would stop the rest), and what a plugin
registered in a hook that then raised is discarded.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pluggy

from studio import hookspecs
from studio.core.engine.generators import Generator, check_generator
from studio.core.models.loaders import ModelFolder, ModelLoader, load_folders
from studio.core.engine.onnx_import import keep_telemetry_off
from studio.errors import UnknownGeneratorError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "studio"
# Studio's distribution (pyproject.toml): PyPI's "studio" is an unrelated project, so a plugin
# that depends on Studio names this.
BUILTIN_DISTRIBUTION = "studio-desktop"
ALLOW_LIST_VARIABLE = "STUDIO_LOAD_PLUGINS"


@dataclass
class PluginInfo:
    """One plugin as ``studio plugins`` and the Plugins window show it."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    builtin: bool = False
    status: str = "loaded"  # loaded | failed | disabled
    error: str = ""
    generators: list[str] = field(default_factory=list)
    loaders: list[str] = field(default_factory=list)


def allow_list_from_env() -> set[str] | None:
    """Entry-point names from ``STUDIO_LOAD_PLUGINS`` (comma separated); None when unset."""
    value = os.environ.get(ALLOW_LIST_VARIABLE)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


class PluginHost:
    """Loads plugins and holds what they contributed: generators and model loaders."""

    def __init__(self, safe_mode: bool = False, allow: Iterable[str] | None = None) -> None:
        self.safe_mode = safe_mode
        self.allow = set(allow) if allow is not None else allow_list_from_env()
        self.pm = pluggy.PluginManager("studio")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.generators: dict[str, Generator] = {}
        self.loaders: list[ModelLoader] = []
        self.model_folders: list[ModelFolder] = []
        self._plugin_generators: dict[str, Generator] = {}

    # -- discovery ---------------------------------------------------------------------

    def load(self) -> "PluginHost":
        """Discover every entry point in the ``studio`` group and load those allowed.

        Built-in plugins go first, so a third-party plugin can never take a built-in's name or
        generator ids (whatever its name sorts as, wherever it sits on ``sys.path``); the
        rest go by name, so which of two clashing plugins wins never depends on install order.
        """
        keep_telemetry_off()  # before a plugin's own `import onnxruntime` could start it
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        for entry_point in sorted(entry_points, key=lambda ep: (not _is_builtin(ep), ep.name)):
            self._load_entry_point(entry_point)
        return self

    def _load_entry_point(self, entry_point: metadata.EntryPoint) -> None:
        dist = entry_point.dist
        info = PluginInfo(
            name=entry_point.name,
            module=entry_point.value,
            distribution=dist.metadata["Name"] if dist else "",
            version=dist.version if dist else "",
        )
        info.builtin = _is_builtin(entry_point)
        if any(p.name == info.name for p in self.plugins):
            info.status, info.error = "failed", f"another plugin is already called {info.name!r}"
            self.plugins.append(info)
            return
        self.plugins.append(info)
        if self.safe_mode and not info.builtin:
            info.status, info.error = "disabled", "safe mode: only built-in plugins are loaded"
            return
        if self.allow is not None and info.name not in self.allow:
            info.status, info.error = "disabled", f"not listed in {ALLOW_LIST_VARIABLE}"
            return
        try:
            plugin = entry_point.load()
        except BaseException as exc:  # noqa: BLE001 - a plugin may even call sys.exit on import
            if isinstance(exc, KeyboardInterrupt):
                raise
            log.exception("plugin %s failed to import", info.name)
            info.status, info.error = "failed", f"failed to import {info.module}: {type(exc).__name__}: {exc}"
            return
        self.add_plugin(plugin, info)

    def add_plugin(self, plugin: Any, info: PluginInfo) -> None:
        """Register an imported plugin object and collect what its hooks contribute."""
        if info not in self.plugins:
            self.plugins.append(info)
        try:
            self.pm.register(plugin, name=info.name)
            # Ask pluggy which hooks it filed the plugin's implementations under: that also
            # honours ``@hookimpl(specname=...)``, where the function has a name of its own.
            unknown = [caller.name for caller in self.pm.get_hookcallers(plugin) or () if caller.spec is None]
            if unknown:
                raise pluggy.PluginValidationError(plugin, f"unknown hook(s): {', '.join(unknown)}")
        except Exception as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            info.status, info.error = "failed", f"invalid plugin: {exc}"
            return
        self._collect(info, "register_model_loaders", self._accept_loader)
        self._collect(info, "register_generators", self._accept_generator)

    # -- hooks, one plugin at a time -----------------------------------------------------

    def _collect(self, info: PluginInfo, hook_name: str, accept: Callable[[PluginInfo, Any], str]) -> None:
        if info.status != "loaded":
            return
        plugin = self.pm.get_plugin(info.name)
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            contributed: list[Any] = []
            try:
                impl.function(**{name: contributed.append for name in impl.argnames})
            except BaseException as exc:  # noqa: BLE001 - sys.exit in a hook must not close Studio
                if isinstance(exc, KeyboardInterrupt):
                    raise
                log.exception("plugin %s raised in %s", info.name, hook_name)
                self._fail(info, f"{hook_name} raised {type(exc).__name__}: {exc}")
                return
            for item in contributed:
                try:
                    problem = accept(info, item)
                except Exception as exc:  # e.g. a generator whose ``kind`` property raises
                    log.exception("plugin %s registered an unusable object in %s", info.name, hook_name)
                    problem = f"a {type(item).__name__} that cannot be used: {type(exc).__name__}: {exc}"
                if problem:
                    self._fail(info, f"{hook_name}: {problem}")
                    return

    def _fail(self, info: PluginInfo, message: str) -> None:
        """Mark a plugin failed and withdraw everything it contributed."""
        info.status, info.error = "failed", message
        plugin = self.pm.get_plugin(info.name)
        if plugin is not None:  # no later hook call may reach a failed plugin
            self.pm.unregister(plugin)
        for generator_id in info.generators:
            self.generators.pop(generator_id, None)
            self._plugin_generators.pop(generator_id, None)
        self.loaders = [l for l in self.loaders if getattr(l, "plugin_name", None) != info.name]
        info.generators.clear()
        info.loaders.clear()

    def _accept_generator(self, info: PluginInfo, generator: Any) -> str:
        try:
            check_generator(generator)
        except (TypeError, ValueError) as exc:
            return str(exc)
        owner = getattr(self.generators.get(generator.id), "plugin_name", None)
        if owner is not None:
            return f"generator id {generator.id!r} is already provided by plugin {owner}"
        generator.plugin_name = info.name
        self.generators[generator.id] = generator
        self._plugin_generators[generator.id] = generator
        info.generators.append(generator.id)
        return ""

    def _accept_loader(self, info: PluginInfo, loader: Any) -> str:
        if not isinstance(loader, ModelLoader) or not loader.id:
            return f"{loader!r} is not a studio.ModelLoader with an id"
        loader.plugin_name = info.name  # type: ignore[attr-defined]
        self.loaders.append(loader)
        info.loaders.append(loader.id)
        return ""

    # -- model folders -----------------------------------------------------------------

    def set_model_folders(self, folders: Sequence[Path | str]) -> list[ModelFolder]:
        """Resolve the user's model folders into generators (replacing the previous ones)."""
        self.generators = dict(self._plugin_generators)
        self.model_folders = load_folders(folders, self.loaders)
        for entry in self.model_folders:
            generator = entry.generator
            if generator is None:
                continue
            if generator.id in self.generators:
                entry.error = f"a generator called {generator.id!r} is already loaded; rename the folder"
                entry.generator = None
                continue
            generator.plugin_name = getattr(entry.loader, "plugin_name", "")
            generator.model_folder = entry.path
            self.generators[generator.id] = generator
        return self.model_folders

    # -- lookup ------------------------------------------------------------------------

    def generator(self, generator_id: str) -> Generator:
        try:
            return self.generators[generator_id]
        except KeyError:
            pass
        close = difflib.get_close_matches(generator_id, list(self.generators), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(self.generators)) or "none (see `studio plugins`)"
        raise UnknownGeneratorError(f"unknown generator {generator_id!r}.{hint} Available: {known}") from None

    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.status == "failed"]


def _is_builtin(entry_point: metadata.EntryPoint) -> bool:
    """True for the entry points of Studio's own distribution: its built-in plugins."""
    dist = entry_point.dist
    return dist is not None and _canonical(dist.metadata["Name"]) == BUILTIN_DISTRIBUTION


def _canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): metadata may spell it studio_desktop."""
    return re.sub(r"[-_.]+", "-", name or "").lower()
