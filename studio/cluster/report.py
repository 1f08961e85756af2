"""What ``studio doctor`` and Settings ▸ Devices say about the cluster (worked out in the
gateway): where it is, its nodes and their GPUs, which Studio plugins (and versions) each node
has, and, for each model folder of this machine, whether a node reads it in place, holds a sent
copy, or would be sent it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.cluster import folders
from studio.cluster.address import ClusterAddress
from studio.cluster.connection import RayConnection
from studio.errors import StudioError


def cluster_lines(connection: RayConnection, address: ClusterAddress, ours: dict[str, str], model_folders: list[tuple[str, str]]) -> list[str]:
    """Lines under the "Ray cluster:" heading, joining the cluster at ``address`` (in the
    gateway). ``ours``: this machine's loaded plugins and versions; ``model_folders``: its
    model folders' (path, generator id)."""
    lines = [f"Ray cluster: {address} (from {address.source})"]
    try:
        pool = connection.pool(address)
    except StudioError as exc:
        return [*lines, f"  not usable: {exc}"]
    lines.append(f"  {len(pool.workers)} worker(s); `--device ray` spreads jobs over them")
    for worker in pool.workers:
        info = worker.info
        gpus = f"GPU {', '.join(info['gpus'])}" if info.get("gpus") else "no GPU"
        threads = f", {info['threads']} thread(s)" if info.get("device") == "cpu" and info.get("threads") else ""
        lines.append(f"  {worker.name}: node {str(info.get('node_id', ''))[:12]}, {gpus}, runs on {info.get('device_name', '?')}{threads}"
                     + (f" ({info['device_problem']})" if info.get("device_problem") else ""))
        lines.append(f"    Studio {info.get('studio', '?')}, Python {info.get('python', '?')}, onnxruntime {info.get('onnxruntime', '?')}")
        lines.append("    plugins: " + plugin_summary(info.get("plugins", {}), ours))
        for line in folder_lines(worker, model_folders):
            lines.append(f"    {line}")
    for problem in pool.problems:
        lines.append(f"  problem: {problem}")
    return lines


def plugin_summary(theirs: dict[str, dict[str, Any]], ours: dict[str, str]) -> str:
    """The node's plugins with their versions, and what differs from this machine's."""
    parts = []
    for name in sorted(set(theirs) | set(ours)):
        node = theirs.get(name)
        if node is None or node.get("status") != "loaded":
            why = f" ({node.get('status')})" if node else ""
            parts.append(f"{name} MISSING{why}" if name in ours else f"{name} ({node.get('status') if node else 'absent'})")
        elif name in ours and ours[name] and node.get("version") != ours[name]:
            parts.append(f"{name} {node.get('version')} (here {ours[name]})")
        else:
            parts.append(f"{name} {node.get('version', '')}".strip())
    return ", ".join(parts) or "none"


def folder_lines(worker: Any, model_folders: list[tuple[str, str]]) -> list[str]:
    """For each model folder of this machine (its own generators, not a plugin's): where the
    worker's node gets it."""
    import ray

    lines = []
    for path_text, generator_id in model_folders:
        path = Path(path_text)
        if worker.has_generator(generator_id):
            continue
        try:
            print_ = folders.fingerprint(path)
            state, _ = ray.get(worker.actor.locate_folder.remote(str(path), print_), timeout=30)
            if state != "shared":
                digest = folders.digest(path, print_)
                state, _ = ray.get(worker.actor.locate_folder.remote(str(path), print_, digest), timeout=30)
        except Exception as exc:  # a folder gone meanwhile, a worker gone: say so, go on
            lines.append(f"model {path.name}: cannot tell ({type(exc).__name__}: {exc})")
            continue
        words = {
            "shared": "read in place (shared storage)",
            "cached": "a copy sent earlier is in the node's cache",
            "missing": f"will be sent on first use ({folders.folder_size(print_) / 1e6:.0f} MB, once)",
        }[state]
        lines.append(f"model {path.name}: {words}")
    return lines
