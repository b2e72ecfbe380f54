"""Fixtures of the serving room: the shared synthetic dataset and bundle
(``tests/synthetic_features.py``), and a real uvicorn server on 127.0.0.1 (a thread in the test process, so a
test can patch the service; `kemo-attention serve` itself runs as a subprocess in
test_cli.py)."""

from __future__ import annotations

import httpx
import pytest

from serve_support import LiveServer
from synthetic_features import bundle, bundle_dir, bundle_path, dataset, kinds, small_kinds  # noqa: F401  (shared fixtures)


@pytest.fixture(scope="session")
def server(bundle_path):
    from kemo_attention.serve.app import create_app

    with LiveServer(create_app(bundle_path, max_body_mb=2)) as live:
        yield live


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c
