"""Fixtures for the core tests that need more than the tests' own process."""

import pytest


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """A real two-node Ray cluster on 127.0.0.1 (tests/core/ray_cluster.py), for the session."""
    from ray_cluster import LocalCluster, ray_or_skip

    ray_or_skip()
    cluster = LocalCluster(tmp_path_factory.mktemp("ray-cluster")).start()
    yield cluster
    cluster.stop()
