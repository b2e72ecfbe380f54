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

from serve_support import ServedByCli, free_port
from synthetic_features import make_dataset

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


# ----------------------------------------------------------------------------- --sha256
def test_serve_refuses_any_file_but_the_expected_one(tmp_path, bundle_path, small_kinds):
    """A bundle consistent with its own manifest is still refused when it is not the file
    the user vouched for, by --sha256 or by KEMO_BUNDLE_SHA256."""
    from kemo_attention.bundle.export import export_bundle

    wanted = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    other = export_bundle(make_dataset(small_kinds, n=120), "logreg", tmp_path / "other")  # same name, other model
    assert other.name == bundle_path.name
    r = run("serve", other, "--port", free_port(), "--sha256", wanted)
    assert r.returncode == 2, r.stderr
    assert f"is not the expected {wanted[:16]}... (--sha256 / KEMO_BUNDLE_SHA256)" in r.stderr
    assert "Traceback" not in r.stderr and "serving" not in r.stderr
    by_env = subprocess.run([*CLI, "serve", str(other), "--port", str(free_port())], capture_output=True, text=True,
                            timeout=120, env={**ENV, "KEMO_BUNDLE_SHA256": wanted})
    assert by_env.returncode == 2 and "is not the expected" in by_env.stderr
    bad = run("serve", bundle_path, "--port", free_port(), "--sha256", "not-a-hash")
    assert bad.returncode == 2 and "expected the bundle file's SHA-256 as 64 hexadecimal characters" in bad.stderr


def test_serve_with_the_expected_sha256_serves_also_with_workers(bundle_path):
    wanted = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    with ServedByCli(bundle_path, "--sha256", wanted.upper(), "--workers", "2") as server:
        assert httpx.get(server.url + "/model", timeout=5).json()["pkl_sha256"] == wanted


# ----------------------------------------------------------------------------- server bugs
def broken_bundle(folder: Path, kinds: dict[str, str]) -> Path:
    """A bundle whose pipeline fails inside predict_proba (it selects a column that is not
    there: KeyError), the way a server bug would."""
    from operator import itemgetter

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from kemo_attention.bundle.export import save_bundle

    ds = make_dataset(kinds, n=120)
    clf = LogisticRegression().fit(ds.X[["HRT#VAL"]].to_numpy(dtype=float), ds.y)
    pick = FunctionTransformer(itemgetter(["NOT#A#COLUMN"])).fit(ds.X)
    return save_bundle(Pipeline([("pick", pick), ("clf", clf)]), ds, folder, model="broken")


def test_a_server_bug_is_a_500_with_the_id_in_the_body_header_and_server_log(tmp_path, small_kinds):
    path = broken_bundle(tmp_path, small_kinds)
    with ServedByCli(path) as server:
        r = httpx.post(server.url + "/predict", json={"features": {}, "fill_missing": True}, timeout=30)
        assert r.status_code == 500, r.text
        request_id = r.json()["request_id"]
        assert r.headers["x-request-id"] == request_id
        assert "NOT#A#COLUMN" not in r.text  # the client is not shown internals
    log = server.stderr
    assert f"request {request_id}: unexpected error on POST /predict" in log
    at = log.index(f"request {request_id}")
    assert "Traceback (most recent call last)" in log[at:] and "KeyError" in log[at:] and "NOT#A#COLUMN" in log[at:]
