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
from serve_support import LiveServer, feature_kinds, make_dataset


@pytest.fixture(scope="session")
def kinds() -> dict[str, str]:
    try:
        return feature_kinds()
    except ImportError:  # TEMPORARY stand-in until features/extract.py lands
        out = {f"HRT#{s}#{w}": "numeric" for s in ("AVG", "STD", "MED") for w in ("S30", "M01", "M05")}
        out["HRT#VAL"] = "numeric"
        out.update({"SCR#VAL=ON": "bool", "SCR#VAL=OFF": "bool", "ESM#WKD=Y": "bool", "ESM#WKD=N": "bool"})
        out.update({f"ACC_MAG#{s}#M01": "numeric" for s in ("AVG", "STD", "SKW", "KUR", "ASC", "BEP", "MED", "TSC")})
        return out


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
