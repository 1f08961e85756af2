"""Render nodes: a batch of built-in generations on this process's runner vs a Ray cluster.

    python bench/render_nodes.py [--requests 64] [--address ray://HOST:10001] [--ship-mb 100] [--smoke]

Without ``--address`` it starts a local cluster of two nodes on 127.0.0.1 (a head and a second
node, one CPU each: two render workers), as the tests do. It runs the same requests (CPPN
256 x 256, Shakespeare 40 tokens, a 4-bar chorale, in turn, seeded) through the local runner
(one queue, every core) and through the cluster's workers, and prints throughput, time to the
first result and the per-job overhead (tiny jobs one at a time), side by side. Then it sends a
model folder of ``--ship-mb`` MB to a node that keeps its own copy, beside a plain copy of the
same folder on this disk (the machine's limit for moving those bytes).

On one machine both nodes share its cores: the ratio says what Ray costs per job and what
running jobs side by side buys over threads inside one job; a real second machine adds its cores
(or its GPU).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' local cluster


def workload(count: int) -> list[tuple[str, dict]]:
    kinds = [
        ("cppn", lambda i: {"seed": i, "width": 256, "height": 256}),
        ("shakespeare", lambda i: {"seed": i, "prompt": "Friends,", "max_new_tokens": 40}),
        ("chorale", lambda i: {"seed": i, "bars": 4}),
    ]
    return [(kinds[i % 3][0], kinds[i % 3][1](i)) for i in range(count)]


def run_batch(host, device, requests) -> tuple[float, float, int]:
    """Seconds for all, seconds to the first result, and how many failed."""
    started = time.perf_counter()
    first = []
    jobs = []
    for generator_id, values in requests:
        generator = host.generator(generator_id)
        jobs.append(host.runner.submit(generator, generator.request(values), device,
                                       [lambda job, event: first.append(time.perf_counter()) if type(event).__name__ == "Result" and not first else None]))
    for job in jobs:
        job.wait()
    failed = [job for job in jobs if job.state.value != "finished"]
    for job in failed[:3]:
        print(f"  failed: {job.generator.id}: {job.message}", file=sys.stderr)
    return time.perf_counter() - started, (first[0] - started) if first else float("nan"), len(failed)


def latency(host, device, count: int) -> float:
    """Median seconds of a tiny job run alone, ``count`` times."""
    generator = host.generator("cppn")
    times = []
    for i in range(count):
        started = time.perf_counter()
        job = host.runner.submit(generator, generator.request({"seed": i, "width": 16, "height": 16}), device)
        job.wait()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class BenchContext:
    """What ``ClusterExecutor`` asks of a job while it places a folder: progress and cancel."""

    cancelled = False

    def progress(self, *_args) -> None:
        pass

    def check_cancelled(self) -> None:
        pass


def ship(host, megabytes: int, folder: Path) -> tuple[float, float, float]:
    """Seconds to hash and send a ``megabytes`` folder to the node that keeps copies, and to copy it here."""
    from studio.cluster import folders
    from studio.cluster.connection import RayConnection
    from studio.cluster.executor import ClusterExecutor

    folder.mkdir()
    for part in range(4):
        (folder / f"weights-{part}.bin").write_bytes(os.urandom(megabytes * 1024 * 1024 // 4))
    started = time.perf_counter()
    shutil.copytree(folder, folder.with_name("copied"))
    copy_s = time.perf_counter() - started
    # Measured here, as the gateway does it (this process is a Ray driver of its own for it).
    connection = RayConnection()
    try:
        pool = connection.pool(host.cluster.address)
        copying = [w for w in pool.workers if w.info.get("models_mode") == "copy"] or pool.workers
        started = time.perf_counter()
        folders.digest(folder)
        hash_s = time.perf_counter() - started
        started = time.perf_counter()
        ClusterExecutor(connection)._place_folder(folder, copying[0], BenchContext())
        return hash_s, time.perf_counter() - started, copy_s
    finally:
        connection.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--address", help="a running cluster (default: start two local nodes)")
    parser.add_argument("--ship-mb", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help="6 requests and a 4 MB folder: checks the bench runs")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.ship_mb = 6, 4
    temp = Path(tempfile.mkdtemp(prefix="studio-render-nodes-"))
    os.environ["STUDIO_HOME"] = str(temp / "home")
    os.environ.pop("RAY_ADDRESS", None)
    cluster = None
    if args.address is None:
        from ray_cluster import LocalCluster

        cluster = LocalCluster(temp / "cluster").start()
    from studio.core.engine.runtime import Runtime, all_cores
    from studio.host import Host

    host = Host(runtime=Runtime(cpu_threads=all_cores()))
    host.settings.cluster_address = args.address or cluster.direct
    try:
        local, ray = host.resolve_device("cpu"), host.resolve_device("ray")
        started = time.perf_counter()
        workers = host.cluster.workers()  # the gateway started, the cluster joined, its workers up
        join_s = time.perf_counter() - started
        requests = workload(args.requests)
        latency(host, local, 2), latency(host, ray, 2)  # sessions loaded on both sides
        run_batch(host, local, requests[:3]), run_batch(host, ray, requests[:6])  # every worker warm
        local_total, local_first, local_failed = run_batch(host, local, requests)
        ray_total, ray_first, ray_failed = run_batch(host, ray, requests)
        tiny = 3 if args.smoke else 15
        local_tiny, ray_tiny = latency(host, local, tiny), latency(host, ray, tiny)
        hash_s, send_s, copy_s = ship(host, args.ship_mb, temp / "model")
    finally:
        host.shutdown()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(temp, ignore_errors=True)
    n = len(requests)
    print(f"\n{n} built-in generations (CPPN 256 x 256, Shakespeare 40 tokens, 4-bar chorale, in turn) on {os.cpu_count()} cores")
    names = ", ".join(f"{w['host']}/{str(w['node_id'])[:6]}" for w in workers)
    print(f"cluster: {len(workers)} workers ({names}); gateway started, cluster joined, workers up in {join_s:.1f} s")
    print(f"{'':30}{'local runner':>14}{'Ray workers':>14}{'ray/local':>11}")
    print(f"{'throughput (jobs/s)':30}{n / local_total:14.2f}{n / ray_total:14.2f}{(n / ray_total) / (n / local_total):11.2f}")
    print(f"{'whole batch (s)':30}{local_total:14.2f}{ray_total:14.2f}{ray_total / local_total:11.2f}")
    print(f"{'time to first result (s)':30}{local_first:14.3f}{ray_first:14.3f}{ray_first / local_first:11.2f}")
    print(f"{'one tiny job alone (ms)':30}{local_tiny * 1e3:14.1f}{ray_tiny * 1e3:14.1f}{ray_tiny / local_tiny:11.2f}")
    print(f"{'per-job overhead (ms)':30}{'':14}{(ray_tiny - local_tiny) * 1e3:14.1f}")
    print(f"{'failed':30}{local_failed:14d}{ray_failed:14d}")
    mb = args.ship_mb
    print(f"\nmodel shipping, a {mb} MB folder to a node without it: hash {hash_s:.2f} s, send {send_s:.2f} s "
          f"({mb / send_s:.0f} MB/s); a plain copy on this disk {copy_s:.2f} s ({mb / copy_s:.0f} MB/s)")
    print(f"send/copy: {send_s / copy_s:.1f} x the disk's own copy (sent once per node, then reused by content hash)")
    print(f"machine limit: both nodes share this machine's {os.cpu_count()} cores. The local runner runs one job at a time "
          "on all of them; each worker runs its own job on its node's cores, so ray/local above 1 here is small jobs side by "
          "side beating threads inside one small job, not more hardware; a second machine adds its cores (or its GPU)")
    return 0 if not (local_failed or ray_failed) else 1


if __name__ == "__main__":
    sys.exit(main())
