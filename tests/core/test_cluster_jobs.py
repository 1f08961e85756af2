"""Render nodes on a real two-node Ray cluster (tests/ray_cluster.py): a cluster job is a
local job that runs elsewhere — the same output for the same seed, the same events in the same
order, Cancel that reaches the worker, a lost worker retried, plain words for what goes wrong."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ray_cluster import ray_or_skip
from studio.core.base.paths import builtin_models
from studio.core.engine.generators import Generator, Preview, Progress, Result
from studio.core.engine.jobs import JobState, StateChanged
from studio.core.engine.runtime import Runtime
from studio.core.media.sound import Audio
from studio.host import Host
from studio.plugins import PluginInfo

ray_or_skip()

LONG_PICTURE = {"seed": 5, "width": 2048, "height": 2048}  # several seconds on one core


@pytest.fixture(scope="module")
def host(ray_cluster, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(tmp_path_factory.mktemp("cluster-client")))
        patch.delenv("RAY_ADDRESS", raising=False)
        host = Host(runtime=Runtime(cpu_threads=1))
        host.settings.cluster_address = ray_cluster.direct
        yield host
        host.shutdown()


def run(host, generator_id, values, device_id, wait=300.0):
    generator = host.generator(generator_id)
    events = []
    job = host.runner.submit(generator, generator.request(values), host.resolve_device(device_id), [lambda j, e: events.append(e)])
    assert job.wait(wait), f"{generator_id} on {device_id} did not end"
    return job, events


def same_value(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, Audio):
        return a.sample_rate == b.sample_rate and np.array_equal(a.samples, b.samples)
    return a == b


def outputs(events):
    """What a job delivered, in order: its states, its previews (how a stream is cut into
    chunks depends on timing, so a run of previews counts once) and its result."""
    out = []
    for event in events:
        if isinstance(event, StateChanged):
            out.append(("state", event.state))
        elif isinstance(event, Preview) and out[-1:] != [("preview", event.kind)]:
            out.append(("preview", event.kind))
        elif isinstance(event, Result):
            out.append(("result", event.kind))
    return out


@pytest.mark.parametrize("generator_id, values", [
    ("cppn", {"seed": 11, "width": 96, "height": 64}),
    ("shakespeare", {"seed": 12, "prompt": "To be", "max_new_tokens": 24}),
    ("chorale", {"seed": 13, "bars": 2}),
])
def test_the_same_seeded_request_gives_the_same_output_and_events_on_the_cluster(host, generator_id, values):
    here, here_events = run(host, generator_id, values, "cpu")
    there, there_events = run(host, generator_id, values, "ray")
    assert there.state is JobState.FINISHED, there.message
    assert same_value(there.result.value, here.result.value)
    assert there.result.params == here.result.params
    assert there.result.info["node"], "a cluster result names the node that made it"
    assert outputs(there_events) == outputs(here_events)
    if generator_id == "shakespeare":  # the text streamed chunk by chunk, in order
        chunks = [e.value for e in there_events if isinstance(e, Preview)]
        assert len(chunks) > 1 and "".join(chunks) == there.result.value
    steps = [e.step for e in there_events if isinstance(e, Progress) and e.total > 0]
    assert steps == sorted(steps), "progress arrives in order"


def test_ray_client_addresses_get_the_same_output_in_batches_of_events(host, ray_cluster):
    host.settings.cluster_address = ray_cluster.client
    try:
        there, there_events = run(host, "shakespeare", {"seed": 3, "prompt": "Now", "max_new_tokens": 20}, "ray")
    finally:
        host.settings.cluster_address = ray_cluster.direct
    here, here_events = run(host, "shakespeare", {"seed": 3, "prompt": "Now", "max_new_tokens": 20}, "cpu")
    assert there.state is JobState.FINISHED, there.message
    assert there.result.value == here.result.value
    assert "".join(e.value for e in there_events if isinstance(e, Preview)) == here.result.value


def test_cancel_stops_a_running_cluster_job_on_its_worker(host):
    generator = host.generator("cppn")
    started = []
    job = host.runner.submit(
        generator, generator.request(LONG_PICTURE), host.resolve_device("ray"),
        [lambda j, e: started.append(e) if isinstance(e, Progress) and e.total > 0 else None],
    )
    deadline = time.monotonic() + 120
    while not started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started, "the job never started generating on its worker"
    asked = time.monotonic()
    job.cancel()
    assert job.wait(10)
    assert job.state is JobState.CANCELLED
    assert not job.abandoned, "the worker stopped the job itself; it was not left running"
    assert time.monotonic() - asked < 3.0
    after, _ = run(host, "cppn", {"seed": 1, "width": 32, "height": 32}, "ray", wait=60)
    assert after.state is JobState.FINISHED, "the cluster takes the next job after a cancel"


def test_a_worker_killed_mid_job_is_retried_on_another(host):
    here, _ = run(host, "cppn", LONG_PICTURE, "cpu")
    run(host, "cppn", {"seed": 1, "width": 32, "height": 32}, "ray")  # joined, workers warm
    generator = host.generator("cppn")
    events = []
    job = host.runner.submit(generator, generator.request(LONG_PICTURE), host.resolve_device("ray"), [lambda j, e: events.append(e)])
    deadline = time.monotonic() + 60
    while not any(isinstance(e, Progress) and e.total > 0 for e in events) and time.monotonic() < deadline:
        time.sleep(0.05)
    busy = [w for w in host.cluster.workers() if w["busy"]]
    assert len(busy) == 1, busy
    victim = busy[0]
    os.kill(victim["pid"], signal.SIGKILL)
    assert job.wait(240)
    assert job.state is JobState.FINISHED, job.message
    assert np.array_equal(job.result.value, here.result.value)
    assert any(isinstance(e, Progress) and "trying again" in e.message for e in events)
    assert len([e for e in events if isinstance(e, Result)]) == 1


def test_an_unreachable_or_malformed_address_fails_fast_in_plain_words(host, ray_cluster):
    from ray_cluster import free_port

    for address, words in ((f"ray://127.0.0.1:{free_port()}", "cannot reach the Ray cluster"),
                           ("gpu box:10001", "not one Ray understands")):
        host.settings.cluster_address = address
        try:
            started = time.monotonic()
            job, _ = run(host, "cppn", {"seed": 1, "width": 32, "height": 32}, "ray", wait=30)
            assert time.monotonic() - started < 10.0
        finally:
            host.settings.cluster_address = ray_cluster.direct
        assert job.state is JobState.FAILED and words in job.message, job.message
        assert not job.internal_error


def test_a_generator_whose_plugin_no_node_has_is_named(host):
    class OnlyHere(Generator):
        id, title, kind = "only-here", "Only here", "text"

        def generate(self, request, ctx):
            yield Result("text", "x", self.id, request.params)

    class Plugin:
        from studio import hookimpl

        @hookimpl
        def register_generators(self, register):
            register(OnlyHere())

    host.plugins.add_plugin(Plugin(), PluginInfo(name="only_here_plugin", module="tests"))
    job, _ = run(host, "only-here", {}, "ray", wait=120)
    assert job.state is JobState.FAILED
    assert "only_here_plugin" in job.message and "no node" in job.message, job.message


def test_a_model_folder_is_used_in_place_or_sent_once_to_a_node_that_cannot_see_it(host, ray_cluster, tmp_path):
    folder = tmp_path / "bard"
    shutil.copytree(builtin_models() / "shakespeare", folder)
    host.add_model_folder(str(folder))
    generator_id = next(g for g in host.generators if g.endswith("bard"))
    ray_cluster.clear_node_cache()
    values = {"seed": 9, "prompt": "O", "max_new_tokens": 12}
    here, _ = run(host, generator_id, values, "cpu")
    generator = host.generator(generator_id)
    ray_device = host.resolve_device("ray")
    run(host, "cppn", {"seed": 1, "width": 32, "height": 32}, "ray")  # joined
    for _ in range(2):  # both workers at once: one sees the folder in place, the other has it sent
        messages = []
        jobs = [host.runner.submit(generator, generator.request(values), ray_device, [lambda j, e: messages.append(e)]) for _ in range(2)]
        for job in jobs:
            assert job.wait(240) and job.state is JobState.FINISHED, job.message
            assert job.result.value == here.result.value
        sent = [e for e in messages if isinstance(e, Progress) and e.message.startswith("Sending") and e.step == 0]
        cached = list(ray_cluster.node_cache().glob("*/bard"))
        assert len(cached) == 1, "the copying node holds the folder in its cache, by content"
        if _ == 0:
            assert len(sent) == 1, sent
            total = sent[0].total
            assert [e.step for e in messages if isinstance(e, Progress) and e.message.startswith("Sending")][-1] == total
        else:
            assert not sent, "a folder the node holds already is not sent again"


def test_studio_generate_with_device_ray_and_RAY_ADDRESS(ray_cluster, tmp_path):
    env = {**os.environ, "RAY_ADDRESS": ray_cluster.direct, "STUDIO_HOME": str(tmp_path / "home")}
    common = [sys.executable, "-m", "studio", "generate", "cppn", "-p", "seed=4", "-p", "width=48", "-p", "height=40", "-q"]
    there = subprocess.run([*common, "--device", "ray", "-o", str(tmp_path / "ray.png")], env=env, capture_output=True, text=True, timeout=300)
    assert there.returncode == 0, there.stderr
    here = subprocess.run([*common, "--device", "cpu", "-o", str(tmp_path / "cpu.png")], env=env, capture_output=True, text=True, timeout=300)
    assert here.returncode == 0, here.stderr
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(tmp_path / "ray.png")), np.asarray(Image.open(tmp_path / "cpu.png")))
    bad = subprocess.run([*common, "--device", "ray"], env={**env, "RAY_ADDRESS": "ray://127.0.0.1:9"}, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "cannot reach the Ray cluster at ray://127.0.0.1:9" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_cluster_that_goes_away_mid_job_fails_it_in_words_and_studio_goes_on(tmp_path):
    from ray_cluster import LocalCluster

    cluster = LocalCluster(tmp_path / "doomed").start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(tmp_path / "home"))
        host = Host(runtime=Runtime(cpu_threads=1))
        host.settings.cluster_address = cluster.direct
        try:
            first, _ = run(host, "cppn", {"seed": 1, "width": 32, "height": 32}, "ray")
            assert first.state is JobState.FINISHED, first.message
            generator = host.generator("cppn")
            started = []
            job = host.runner.submit(generator, generator.request(LONG_PICTURE), host.resolve_device("ray"),
                                     [lambda j, e: started.append(e) if isinstance(e, Progress) and e.total > 0 else None])
            deadline = time.monotonic() + 60
            while not started and time.monotonic() < deadline:
                time.sleep(0.05)
            cluster.stop()  # every process of the cluster, killed
            gone = time.monotonic()
            assert job.wait(90), "a job on a cluster that went away ends"
            assert job.state is JobState.FAILED and "Traceback" not in job.message, job.message
            assert time.monotonic() - gone < 90
            after, _ = run(host, "cppn", {"seed": 2, "width": 32, "height": 32}, "ray", wait=30)
            assert after.state is JobState.FAILED and "cannot reach" in after.message, after.message
            here, _ = run(host, "cppn", {"seed": 2, "width": 32, "height": 32}, "cpu")  # this process is fine
            assert here.state is JobState.FINISHED
        finally:
            host.shutdown()
            cluster.stop()
