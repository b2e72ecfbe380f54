"""Helpers of the serving room's tests: the real feature columns, a synthetic dataset over
them, and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import uvicorn

from kemo_attention.dataset import Dataset

N_SAMPLES = 300
N_PARTICIPANTS = 10
SIGNAL = ("HRT#VAL", "SCR#VAL=ON")  # the features the synthetic label depends on


def feature_kinds() -> dict[str, str]:
    """The real feature columns and their kinds (bool/numeric), in column order."""
    from kemo_attention.features.extract import feature_columns, features_for_prompts
    from kemo_attention.release.read import empty_frame
    from kemo_attention.release.schema import DATA_TYPES

    # The dtypes of the real output tell bool from numeric: ask the feature code itself.
    tables = {name: empty_frame(dt) for name, dt in DATA_TYPES.items()}
    row = features_for_prompts(tables, np.array([1_557_279_000_000]), userinfo=None, past_labels=None)
    assert list(row.columns) == list(feature_columns())
    return {c: ("bool" if row[c].dtype == bool else "numeric") for c in row.columns}


def make_dataset(kinds: dict[str, str], *, n: int = N_SAMPLES, seed: int = 0, feature_mode: str = "causal",
                 label: str = "attention") -> Dataset:
    """Random features of the given kinds; y depends on the SIGNAL features (so that the
    selector keeps them and the raw-data path moves the probability)."""
    rng = np.random.default_rng(seed)
    cols = {}
    for name, kind in kinds.items():
        if kind == "bool":
            cols[name] = rng.random(n) < 0.3
        else:
            cols[name] = rng.normal(size=n).astype(np.float32)
    cols["HRT#VAL"] = rng.normal(75, 10, size=n).astype(np.float32)
    X = pd.DataFrame(cols, columns=list(kinds))
    score = (X["HRT#VAL"].to_numpy() - 75) / 10 + 1.5 * X["SCR#VAL=ON"].to_numpy() + rng.normal(0, 0.5, n)
    y = (score > 0.4).astype(int)
    group = np.repeat([f"P{i:02d}" for i in range(N_PARTICIPANTS)], -(-n // N_PARTICIPANTS))[:n]
    meta = {"feature_mode": feature_mode, "label": {"name": label}, "tz_offset": "+09:00"}
    return Dataset(X, y, group, meta=meta)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        assert httpx.get(self.url + "/health", timeout=5).status_code == 200
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)




class ServedByCli:
    """``kemo-attention serve BUNDLE ...`` as a user runs it, in its own process group (so
    stopping it reaches uvicorn's worker processes too), ready once /health answers."""

    def __init__(self, bundle_path, *args: str):
        import os
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cli = str(Path(sys.executable).with_name("kemo-attention"))
        self.cmd = [cli, "serve", str(bundle_path), "--port", str(self.port), *args]
        self.env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self.stderr = ""

    def __enter__(self) -> "ServedByCli":
        import subprocess

        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=self.env, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.proc.stderr.read()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        import os
        import signal
        import subprocess

        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.stderr = self.proc.stderr.read()
