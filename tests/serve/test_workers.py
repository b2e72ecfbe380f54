"""`kemo-attention serve --workers 2`: uvicorn's multi-process mode really serves the bundle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from serve_support import free_port

CLI = [str(Path(sys.executable).with_name("kemo-attention"))]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def test_serve_with_two_workers(bundle_path, bundle, dataset):
    port = free_port()
    # Own process group: terminating it reaches the supervisor and both workers.
    proc = subprocess.Popen(
        [*CLI, "serve", str(bundle_path), "--port", str(port), "--workers", "2", "--max-body-mb", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        health = httpx.get(url + "/health", timeout=5).json()
        assert health["status"] == "ok" and health["bundle_version"] == bundle.bundle_version
        row = {c: (bool(v) if dataset.X[c].dtype == bool else float(v)) for c, v in dataset.X.iloc[0].items()}
        expected = float(bundle.predict_proba(dataset.X.iloc[[0]])[0])
        # Several requests on fresh connections, so both workers are likely to answer.
        for _ in range(6):
            r = httpx.post(url + "/predict", json={"features": row}, timeout=30)
            assert r.status_code == 200, r.text
            assert abs(r.json()["predictions"][0]["probability"] - expected) < 1e-9
        # The body limit reaches the workers through the environment.
        big = httpx.post(url + "/predict", content=b"[" + b"0," * 300_000 + b"0]",
                         headers={"content-type": "application/json"}, timeout=30)
        assert big.status_code == 413 and "limit is 0.5 MB" in big.json()["detail"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode is not None
    err = proc.stderr.read()
    assert "with 2 workers" in err, err[-2000:]

