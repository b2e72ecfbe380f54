"""Fixtures of the live tests: a small synthetic release, its causal features made by
`kemo-attention extract`, a bundle exported from them, and `kemo-attention serve` as a real
process on 127.0.0.1 with a real SQLite store."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from live_server import Server, run_cli  # noqa: E402

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
    from kemo_attention.bundle.runtime import load_bundle

    ds, bundle_path = offline
    proba = load_bundle(bundle_path).predict_proba(ds.X)
    prompts = np.asarray(ds.meta["prompt_time_ms"])
    out: dict[str, dict[int, float]] = {}
    for g, p, v in zip(ds.group, prompts, proba):
        out.setdefault(str(g), {})[int(p)] = float(v)
    return out


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
