"""``studio doctor``: what Studio finds on this machine, and why the GPU is or is not used."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from studio.cli.host import make_host
from studio.cli.output import EXIT_OK, describe_model_folder
from studio.errors import StudioError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    doctor = commands.add_parser("doctor", parents=[common], help="what Studio finds on this machine, and why the GPU is or is not used")
    doctor.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from studio import __version__
    from studio.core.base import paths
    from studio.core.base.logs import log_path

    print(f"Studio {__version__}")
    print(f"Python: {platform.python_version()} ({sys.executable})")
    print(f"Platform: {platform.platform()}")
    host = make_host(args)
    print()
    for line in runtime_lines(host):
        print(line)
    print()
    print("Plugins:" + ("  (safe mode: built-in only)" if host.plugins.safe_mode else ""))
    for plugin in host.plugins.plugins:
        where = "built-in" if plugin.builtin else f"{plugin.distribution} {plugin.version}".strip()
        line = f"  {plugin.name}: {plugin.status} ({where})"
        if plugin.generators:
            line += f", generators: {', '.join(plugin.generators)}"
        print(line)
        if plugin.error:
            print(f"      {plugin.error}")
    if not host.plugins.plugins:
        print("  none found")
    print()
    print("Model folders:")
    for entry in host.plugins.model_folders:
        print(f"  {entry.path}: {describe_model_folder(entry)}")
    if not host.plugins.model_folders:
        print("  none added")
    print(f"  built-in: {paths.builtin_models()}")
    print()
    for line in cluster_lines(host):
        print(line)
    print()
    print(f"Audio output: {audio_output_line()}")
    print(f"Settings file: {host.settings.path}")
    print(f"Log file: {log_path()}")
    return EXIT_OK


def cluster_lines(host: Any) -> list[str]:
    try:
        return host.cluster.report(host)
    finally:
        host.shutdown()  # leave the cluster: a doctor's workers must not stay on its GPUs


def runtime_lines(host: Any) -> list[str]:
    """What onnxruntime offers, what each device really got, and why the GPU is (not) used."""
    try:
        report = host.runtime.report()
    except StudioError as exc:
        return [f"onnxruntime: not usable: {exc}"]
    lines = [
        f"onnxruntime: {report.version} (package {report.package})",
        f"  providers in this build: {', '.join(report.available)}",
        "  (a provider listed here may still not run: below is what a session really got)",
        "  devices:",
    ]
    for probe in report.devices:
        lines.append(f"    {probe.device.id}: {probe.device.name}")
        lines.append(f"      asked for: {', '.join(probe.asked)}")
        lines.append(f"      really got: {', '.join(probe.got) or 'nothing (the session failed)'}")
        lines.append(f"      usable: {'yes' if probe.usable else 'no'}" + (f" - {probe.reason}" if probe.reason else ""))
    lines.append(f"  GPU: {report.gpu_status}")  # the sentence the window's status bar shows
    lines.append(f"  CPU threads: {report.cpu_threads}")
    selected = host.device()
    lines.append(f"  device setting: {host.settings.device} -> {selected.id} ({selected.name})")
    return lines


def audio_output_line() -> str:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
        return f"no audio output device: sounddevice cannot start ({exc})"
    try:
        device = sounddevice.query_devices(kind="output")
    except sounddevice.PortAudioError as exc:
        return f"no audio output device: {exc}"
    return f"{device['name']} ({device['max_output_channels']} channels, {device['default_samplerate']:g} Hz)"
