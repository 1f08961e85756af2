"""What the window says about the devices: the status bar's device label and its tool tip,
and the Help ▸ Runtime report. Plain sentences built from the core's ``RuntimeReport``."""

from __future__ import annotations

from studio.core.base.logs import log_path
from studio.core.engine.runtime import Device, LoadedSession, RuntimeReport


def device_summary(report: RuntimeReport, device: Device) -> tuple[str, str]:
    """The label ("CPU · CPU · GPU not used") and its tool tip, for the device in use."""
    if device.remote is not None:  # a cluster: its nodes say what they run on
        return device.name, (
            "Jobs run on the Ray cluster's workers, one per GPU (or per node without one).\n"
            "Settings ▸ Devices ▸ Test connection, or `studio doctor`, lists its nodes, GPUs and plugins."
        )
    usable = next((p for p in report.devices if p.device.id == device.id), report.best)
    provider = usable.got[0] if usable.got else "?"
    text = f"{device.name} · {provider.replace('ExecutionProvider', '')}"
    tip = f"onnxruntime {report.version} ({report.package})\nAvailable in this build: {', '.join(report.available)}"
    if report.gpu_reason and device.is_cpu:
        text += " · GPU not used"
        tip += f"\nGPU not used: {report.gpu_reason}"
    return text, tip


def runtime_report(report: RuntimeReport, sessions: list[LoadedSession]) -> str:
    """Help ▸ Runtime report: the build, each device as probed, the sessions loaded, the log."""
    lines = [f"onnxruntime {report.version} ({report.package})", f"Available in this build: {', '.join(report.available)}", f"CPU threads: {report.cpu_threads}", ""]
    for probe in report.devices:
        state = "usable" if probe.usable else f"not usable — {probe.reason}"
        lines.append(f"{probe.device.name} [{probe.device.id}]: asked {', '.join(probe.asked)}; got {', '.join(probe.got) or 'nothing'}; {state}")
    if sessions:
        lines.append("")
        lines += [f"{s.path.name} on {s.device.id}: {s.providers[0]} (loaded in {s.seconds:.2f} s)" for s in sessions]
    lines += ["", f"Log: {log_path()}"]
    return "\n".join(lines)
