"""Fixtures of the live tests: a small synthetic release, its causal features made by
`kemo-attention extract`, a bundle exported from them, and `kemo-attention serve` as a real
process on 127.0.0.1 with a real SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_support import free_port  # noqa: E402

CLI = str(Path(sys.executable).with_name("kemo-attention"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("live") / "release"
    run_cli("synth", "--out", str(out), "--participants", "2", "--days", "2", "--scale", "0.02", "--quiet")
    return out


@pytest.fixture(scope="session")
def offline(release, tmp_path_factory):
    """(dataset, bundle path): `extract --mode causal` then `export`."""
    from kemo_attention.dataset import load_dataset

    feats = tmp_path_factory.mktemp("feat")
    run_cli("extract", str(release), "--out", str(feats), "--mode", "causal", "--min-responses", "10", "--workers", "1")
    models = tmp_path_factory.mktemp("models")
    run_cli("export", str(feats / "attention.pkl"), "--model", "logreg", "--out", str(models))
    return load_dataset(feats / "attention.pkl"), models / "attention-logreg.pkl"


@pytest.fixture(scope="session")
def expected(offline) -> dict[str, dict[int, float]]:
    """The bundle's probability at every prompt of the offline features, per participant."""
    from kemo_attention.bundle import load_bundle

    ds, bundle_path = offline
    proba = load_bundle(bundle_path).predict_proba(ds.X)
    prompts = np.asarray(ds.meta["prompt_time_ms"])
    out: dict[str, dict[int, float]] = {}
    for g, p, v in zip(ds.group, prompts, proba):
        out.setdefault(str(g), {})[int(p)] = float(v)
    return out


class Server:
    """`kemo-attention serve BUNDLE --store PATH ...` in its own process group."""

    def __init__(self, bundle_path, store, *args: str, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [CLI, "serve", str(bundle_path), "--port", str(self.port), "--store", str(store), *args]
        base = {k: v for k, v in os.environ.items() if k != "KEMO_API_TOKEN"}
        self.env = {**base, "PYTHONWARNINGS": "ignore", **(env or {})}

    def start(self) -> "Server":
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=self.env, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, self.proc.stderr.read()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture(scope="session")
def server(offline, tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "live.sqlite"
    with Server(offline[1], store) as live:
        live.store = store
        yield live


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.url, timeout=300) as c:
        yield c
