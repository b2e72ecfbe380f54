"""`kemo-attention export` and `kemo-attention serve` as a user runs them (subprocesses)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd

from serve_support import ServedByCli, free_port, make_dataset

CLI = [str(Path(sys.executable).with_name("kemo-attention"))]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=ENV)


def test_export_command_writes_a_bundle(tmp_path, small_kinds):
    data = make_dataset(small_kinds, n=150).save_parquet(tmp_path / "attention.parquet")
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    pd.DataFrame({"model": ["lgbm"], "f1_macro_mean": [0.61]}).to_csv(eval_dir / "leaderboard.csv", index=False)
    r = run("export", data, "--model", "lgbm", "--out", tmp_path / "models", "--eval", eval_dir)
    assert r.returncode == 0, r.stderr
    pkl = tmp_path / "models" / "attention-lgbm.pkl"
    assert f"wrote {pkl}" in r.stdout and "kemo-attention serve" in r.stdout
    manifest = json.loads((tmp_path / "models" / "attention-lgbm.manifest.json").read_text())
    assert manifest["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["cv_scores"] == {"f1_macro_mean": 0.61}
    assert manifest["feature_mode"] == "causal"

    bad = run("export", data, "--model", "svm", "--out", tmp_path / "models2")
    assert bad.returncode == 2
    # --model is a choice now (issue 10.5): the usage error names the option, the value and the choices.
    assert "'--model'" in bad.stderr and "'svm' is not one of 'logreg', 'rf', 'lgbm'" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "models2").exists()


def test_serve_refuses_a_tampered_bundle(tmp_path, bundle_path):
    copy = tmp_path / bundle_path.name
    data = bytearray(bundle_path.read_bytes())
    data[-10] ^= 0xFF
    copy.write_bytes(bytes(data))
    (tmp_path / "attention-logreg.manifest.json").write_bytes(bundle_path.with_name("attention-logreg.manifest.json").read_bytes())
    r = run("serve", copy, "--port", free_port())
    assert r.returncode == 2
    assert "does not match the manifest" in r.stderr and "re-export with `kemo-attention export`" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_runs_a_real_server(bundle_path, dataset):
    with ServedByCli(bundle_path, "--max-body-mb", "0.5") as server:
        row = {c: (bool(v) if dataset.X[c].dtype == bool else float(v)) for c, v in dataset.X.iloc[0].items()}
        r = httpx.post(server.url + "/predict", json={"features": row}, timeout=30)
        assert r.status_code == 200 and 0 <= r.json()["predictions"][0]["probability"] <= 1
        big = httpx.post(server.url + "/predict", content=b"[" + b"0," * 300_000 + b"0]", headers={"content-type": "application/json"}, timeout=30)
        assert big.status_code == 413 and "limit is 0.5 MB" in big.json()["detail"]
