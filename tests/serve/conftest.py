"""Fixtures of the serving room: a small synthetic dataset, bundles made from it with the
real model zoo, and a real uvicorn server on 127.0.0.1 (a thread in the test process, so a
test can patch the service; `kemo-attention serve` itself runs as a subprocess in
test_cli.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kemo_attention.bundle import export_bundle, load_bundle
from kemo_attention.dataset import Dataset
from serve_support import SIGNAL, LiveServer, feature_kinds, make_dataset


@pytest.fixture(scope="session")
def kinds() -> dict[str, str]:
    return feature_kinds()


@pytest.fixture(scope="session")
def small_kinds(kinds) -> dict[str, str]:
    """40 real columns (with the signal ones): for tests about files, not about width."""
    keep = list(kinds)[:36] + [c for c in kinds if kinds[c] == "bool"][:2] + list(SIGNAL)
    return {c: kinds[c] for c in dict.fromkeys(keep)}


@pytest.fixture(scope="session")
def dataset(kinds) -> Dataset:
    return make_dataset(kinds)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bundles")


@pytest.fixture(scope="session")
def bundle_path(dataset, bundle_dir) -> Path:
    return export_bundle(dataset, "logreg", bundle_dir / "causal")


@pytest.fixture(scope="session")
def bundle(bundle_path):
    return load_bundle(bundle_path)


@pytest.fixture(scope="session")
def server(bundle_path):
    from kemo_attention.serve.app import create_app

    with LiveServer(create_app(bundle_path, max_body_mb=2)) as live:
        yield live


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c
