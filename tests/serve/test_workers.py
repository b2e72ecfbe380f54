"""`kemo-attention serve --workers 2`: uvicorn's multi-process mode really serves the bundle."""

from __future__ import annotations


import httpx

from serve_support import ServedByCli



def test_serve_with_two_workers(bundle_path, bundle, dataset):
    with ServedByCli(bundle_path, "--workers", "2", "--max-body-mb", "0.5") as server:
        health = httpx.get(server.url + "/health", timeout=5).json()
        assert health["status"] == "ok" and health["bundle_version"] == bundle.bundle_version
        row = {c: (bool(v) if dataset.X[c].dtype == bool else float(v)) for c, v in dataset.X.iloc[0].items()}
        expected = float(bundle.predict_proba(dataset.X.iloc[[0]])[0])
        # Several requests on fresh connections, so both workers are likely to answer.
        for _ in range(6):
            r = httpx.post(server.url + "/predict", json={"features": row}, timeout=30)
            assert r.status_code == 200, r.text
            assert abs(r.json()["predictions"][0]["probability"] - expected) < 1e-9
        # The body limit reaches the workers through the environment.
        big = httpx.post(server.url + "/predict", content=b"[" + b"0," * 300_000 + b"0]",
                         headers={"content-type": "application/json"}, timeout=30)
        assert big.status_code == 413 and "limit is 0.5 MB" in big.json()["detail"]
    assert server.proc.returncode is not None
    assert "with 2 workers" in server.stderr, server.stderr[-2000:]
