"""A real Ray cluster on 127.0.0.1 for the render-node tests: a head and a second node.

Both nodes run on this machine, each with one CPU, so the cluster has two render workers. The
second node copies every model folder into its own cache (``STUDIO_CLUSTER_MODELS=copy``, as
a node on slow network storage would), so sending a folder is tested although the nodes share
a disk. Each node has a Studio home of its own (its cache), separate from the tests'.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest


MARKER = "STUDIO_TEST_CLUSTER"


def ray_or_skip():
    """Ray, or a skip where the ``cluster`` extra is not installed; CI installs it, and there a
    missing Ray fails instead of skipping (a test that cannot fail is no test)."""
    if os.environ.get("CI"):
        import ray

        return ray
    return pytest.importorskip("ray")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalCluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.client_port = free_port()
        self.head_home = root / "head-home"
        self.token = uuid.uuid4().hex
        # Ray's sockets live under its temp folder, and a socket's path has ~107 bytes at most.
        self.temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        self.node_home = root / "node-home"

    @property
    def direct(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def client(self) -> str:
        return f"ray://127.0.0.1:{self.client_port}"

    def node_cache(self) -> Path:
        return self.node_home / "cache" / "cluster-models"

    def _ray(self, *args: str, **env: str) -> None:
        ray_cli = str(Path(sys.executable).with_name("ray"))
        # Every process of this cluster inherits the marker, so ``stop`` ends this cluster's
        # processes only (``ray stop`` would end every cluster on the machine, another's too).
        environment = {**os.environ, **env, MARKER: self.token}
        environment.pop("RAY_ADDRESS", None)
        subprocess.run([ray_cli, *args], check=True, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> "LocalCluster":
        common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1", f"--temp-dir={self.temp}"]
        self._ray(
            "start", "--head", f"--port={self.port}", f"--ray-client-server-port={self.client_port}",
            "--include-dashboard=false", *common, STUDIO_HOME=str(self.head_home),
        )
        self._ray("start", f"--address={self.direct}", *common, STUDIO_HOME=str(self.node_home), STUDIO_CLUSTER_MODELS="copy")
        self.wait_for_nodes(2)
        return self

    def wait_for_nodes(self, count: int, limit: float = 60.0) -> None:
        ray_cli = str(Path(sys.executable).with_name("ray"))
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            out = subprocess.run([ray_cli, "status", f"--address={self.direct}"], capture_output=True, text=True, timeout=60).stdout
            if out.count("node_") >= count:
                return
            time.sleep(1)
        raise RuntimeError(f"the test cluster did not reach {count} nodes")

    def processes(self) -> list[int]:
        marker = f"{MARKER}={self.token}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if marker in (entry / "environ").read_bytes().split(b"\0"):
                        found.append(int(entry.name))
                except OSError:  # gone meanwhile, or not ours to read
                    pass
        return found

    def stop(self) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.temp, ignore_errors=True)

    def clear_node_cache(self) -> None:
        shutil.rmtree(self.node_cache(), ignore_errors=True)
