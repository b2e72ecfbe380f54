"""Every backend gives the same feature matrix: serial, local processes, a local Ray, and a
real one-node Ray cluster started here and joined through ``RAY_ADDRESS``."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_token():
    """One auth token of our own for the module (Ray caches the token per process), so that
    nothing depends on, or touches, ~/.ray or another user's Ray."""
    tmp = tempfile.mkdtemp(prefix="kr", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    token = Path(tmp) / "auth_token"
    token.write_text(secrets.token_hex(32))
    yield token
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def ray_env(ray_token, monkeypatch):
    tmp = Path(tempfile.mkdtemp(prefix="kr", dir="/tmp"))
    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(ray_token)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    yield tmp, env
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.ray
def test_local_ray_matches_serial(release, serial, monkeypatch, tmp_path):
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if ray.is_initialized():
        ray.shutdown()
    try:
        # one worker: Ray starts faster; the cluster test below runs two tasks at once
        ds = extract_release(release, tmp_path, label=LABEL, executor=Executor("ray", workers=1, progress=False), use_cache=False)
    finally:
        ray.shutdown()
    _same(ds, serial[0])


@pytest.fixture
def ray_cluster(ray_env, monkeypatch):
    """A real one-node cluster from the venv's ``ray`` binary. ``--block`` keeps the head
    process in the foreground: stopping that one process (by its id) stops the cluster;
    a broad ``ray stop`` would also stop other people's Ray on this machine."""
    tmp, env = ray_env
    ray_bin = Path(sys.executable).parent / "ray"
    port = _free_port()
    log_path = tmp / "head.log"
    cmd = [
        str(ray_bin), "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
        "--include-dashboard=false", "--num-cpus", "2", "--disable-usage-stats", "--block", "--temp-dir", str(tmp),
    ]  # fmt: skip
    with open(log_path, "w") as log:
        head = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "block forever" not in log_path.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray head did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
        yield port
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # its own session: only the processes it started
            head.wait()


@pytest.mark.ray
def test_ray_cluster_joined_through_ray_address_matches_serial(release, serial, ray_cluster, ray_env, tmp_path):
    """As a lab would: the CLI in its own process, pointed at the cluster by RAY_ADDRESS.

    A separate process also keeps Ray's per-process auth-token cache out of this one."""
    from kemo_attention.dataset import load_dataset

    cluster_tmp, env = ray_env
    cli = Path(sys.executable).parent / "kemo-attention"
    out = tmp_path / "features"
    cmd = [str(cli), "extract", str(release), "--out", str(out), "--min-responses", "3", "--backend", "ray", "--no-cache"]
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the tasks ran on the cluster we started: its own temp dir holds the worker logs
    worker_logs = list(cluster_tmp.glob("session_*/logs/worker-*"))
    assert worker_logs, f"no worker ran on the cluster in {cluster_tmp}"
    _same(load_dataset(out / "attention.pkl"), serial[0])
