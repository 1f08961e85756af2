"""Where the Ray cluster is: the address in the settings, else ``RAY_ADDRESS``, as Ray's tools do.

An address is ``ray://host:port`` (Ray Client, the usual port 10001), ``host:port`` (a cluster
node's GCS, from a machine inside the cluster) or ``auto`` (the cluster started on this
machine with ``ray start --head``). Before Ray is asked, the address is checked and, for a
host, one TCP connection is tried with a short limit: Ray itself retries an unreachable
address for a minute or more, and a person should hear "nothing answers" within seconds.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass

from studio.errors import StudioError

#: The device id a cluster has in the settings, the CLI's ``--device`` and the window.
CLUSTER_DEVICE_ID = "ray"
ENVIRONMENT_VARIABLE = "RAY_ADDRESS"
#: Seconds the whole connection (the TCP check and Ray's own handshake) may take.
CONNECT_LIMIT = 10.0
_TCP_LIMIT = 3.0
_HOST_PORT = re.compile(r"^(?P<scheme>ray://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class ClusterAddress:
    """An address as given, and where it came from (for messages and ``studio doctor``)."""

    text: str
    source: str  # "the settings" | "RAY_ADDRESS"

    @property
    def is_client(self) -> bool:
        """Ray Client (``ray://``): no streaming actor methods there (Ray refuses them), so events
        are fetched in batches instead (``studio.cluster.executor``)."""
        return self.text.startswith("ray://")

    @property
    def host_port(self) -> tuple[str, int] | None:
        match = _HOST_PORT.match(self.text)
        if match is None:
            return None
        return match.group("host").strip("[]"), int(match.group("port"))

    def __str__(self) -> str:
        return self.text


def cluster_address(setting: str) -> ClusterAddress | None:
    """The address to use, chosen as ``ray.init`` chooses: the settings' address, except that
    ``RAY_ADDRESS`` wins over none and over ``auto``; None when neither says."""
    setting = (setting or "").strip()
    env = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if env and setting in ("", "auto"):
        return ClusterAddress(env, ENVIRONMENT_VARIABLE)
    return ClusterAddress(setting, "the settings") if setting else None


def check_address(address: ClusterAddress) -> None:
    """Raise ``StudioError`` when ``address`` is malformed or nothing answers at it."""
    if address.text == "auto":
        return  # Ray finds the cluster on this machine itself, at once or with a plain error
    where = address.host_port
    if where is None:
        raise StudioError(
            f"the Ray cluster address {address.text!r} (from {address.source}) is not one Ray understands: "
            "give ray://HOST:10001, HOST:6379 or auto"
        )
    host, port = where
    if not 0 < port < 65536:
        raise StudioError(f"the Ray cluster address {address.text!r} has no valid port (1 to 65535)")
    try:
        with socket.create_connection((host, port), timeout=_TCP_LIMIT):
            pass
    except socket.gaierror:
        raise StudioError(f"cannot reach the Ray cluster at {address.text}: no host called {host!r} is known") from None
    except (TimeoutError, socket.timeout):
        raise StudioError(
            f"cannot reach the Ray cluster at {address.text}: nothing answered within {_TCP_LIMIT:g} s "
            "(is the cluster started, and the port open?)"
        ) from None
    except OSError as exc:
        raise StudioError(
            f"cannot reach the Ray cluster at {address.text}: {exc.strerror or exc} (is it started? "
            f"`ray start --head{' --ray-client-server-port=' + str(port) if address.is_client else ' --port=' + str(port)}`)"
        ) from None
