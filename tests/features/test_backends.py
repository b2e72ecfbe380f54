"""Every backend gives the same feature matrix: serial, local processes, a local Ray, and a
real one-node Ray cluster started here and joined through ``RAY_ADDRESS``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from ray_support import ray_auth_env, ray_cluster, remove_tree, short_temp_dir, write_token
from tiny_release import write_release

from kemo_attention.compute import Executor
from kemo_attention.config import LabelSettings
from kemo_attention.features.extract import extract_release

LABEL = LabelSettings(min_responses=3)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("rel"), participants=2, days=0.06, prompts_per_day=70, seed=11)


@pytest.fixture(scope="module")
def serial(release, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    return extract_release(release, out, label=LABEL, executor=Executor("serial", progress=False), use_cache=False), out


def _same(a, b):
    import numpy as np

    num_a, num_b = a.X.select_dtypes("number").to_numpy(), b.X.select_dtypes("number").to_numpy()
    diff = num_a != num_b
    if diff.any():
        cols = a.X.select_dtypes("number").columns[diff.any(axis=0)]
        raise AssertionError(
            f"{int(diff.sum())} numeric cells differ (max {np.abs(num_a - num_b).max():.3g}) in {len(cols)} columns, "
            f"e.g. {list(cols[:8])}"
        )
    pd.testing.assert_frame_equal(a.X, b.X, check_exact=True)
    assert a.y.tolist() == b.y.tolist() and a.group.tolist() == b.group.tolist()
    assert a.day_seconds.tolist() == b.day_seconds.tolist() and list(a.date_times) == list(b.date_times)


def test_serial_run_is_uncached_and_complete(serial):
    ds, out = serial
    assert len(ds) == 8 and sorted(set(ds.group)) == ["P01", "P02"]
    assert not (out / ".cache").exists()  # use_cache=False neither reads nor writes


def test_processes_backend_matches_serial(release, serial, tmp_path):
    ds = extract_release(
        release, tmp_path, label=LABEL, executor=Executor("processes", workers=2, progress=False), use_cache=False
    )
    _same(ds, serial[0])


@pytest.fixture(scope="module")
def ray_token():
    """One auth token of our own for the module (Ray caches the token per process), so that
    nothing depends on, or touches, ~/.ray or another user's Ray."""
    tmp = short_temp_dir()
    yield write_token(tmp)
    remove_tree(tmp)


@pytest.fixture
def ray_env(ray_token, monkeypatch):
    tmp = short_temp_dir()
    env = ray_auth_env(ray_token)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    yield tmp, env
    remove_tree(tmp)


@pytest.mark.ray
def test_local_ray_matches_serial(release, serial, monkeypatch, tmp_path):
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if ray.is_initialized():
        ray.shutdown()
    executor = Executor("ray", workers=1, progress=False)
    try:
        # one worker: Ray starts faster; the cluster test below runs two tasks at once
        ds = extract_release(release, tmp_path, label=LABEL, executor=executor, use_cache=False)
        # the local Ray's one node is on loopback (Ray would turn 127.0.0.1 into this
        # machine's network address), and the tasks say they ran on it
        (node,) = ray.nodes()
        assert node["NodeManagerAddress"] == "127.0.0.2"
        assert executor.nodes_used == [{"node_id": node["NodeID"], "address": "127.0.0.2", "tasks": 2}]
    finally:
        ray.shutdown()
    _same(ds, serial[0])


@pytest.fixture
def one_node_cluster(ray_env, monkeypatch):
    """A real one-node cluster (2 CPUs) from the venv's ``ray`` binary, joined through RAY_ADDRESS."""
    tmp, env = ray_env
    with ray_cluster(tmp, env, nodes=1, cpus_per_node=2) as cluster:
        monkeypatch.setenv("RAY_ADDRESS", cluster.address)
        yield cluster


@pytest.mark.ray
def test_ray_cluster_joined_through_ray_address_matches_serial(release, serial, one_node_cluster, ray_env, tmp_path):
    """As a lab would: the CLI in its own process, pointed at the cluster by RAY_ADDRESS.

    A separate process also keeps Ray's per-process auth-token cache out of this one."""
    from kemo_attention.dataset import load_dataset

    _, env = ray_env
    cli = Path(sys.executable).parent / "kemo-attention"
    out = tmp_path / "features"
    cmd = [str(cli), "extract", str(release), "--out", str(out), "--min-responses", "3", "--backend", "ray", "--no-cache"]
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the tasks ran on the cluster we started: the node that ran them is the one whose own
    # temp folder names it, and it ran both participants
    (head,) = one_node_cluster.nodes
    ran_on = json.loads((out / "attention.manifest.json").read_text())["settings"]["ray_nodes"]
    assert ran_on == [{"node_id": head.node_id(), "address": "127.0.0.2", "tasks": 2}]
    _same(load_dataset(out / "attention.pkl"), serial[0])
