"""`kemo-attention evaluate` in a subprocess: every pkl shape, Parquet, and a bad file."""

import json
import os
import pickle
import subprocess
import sys

import pandas as pd
import pytest

from eval_synthetic import synthetic_dataset


def _cli(args, cwd):
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-m", "kemo_attention.cli", "evaluate", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Start all CLI runs at once (they are independent), then collect them."""
    root = tmp_path_factory.mktemp("cli")
    ds = synthetic_dataset(participants=6, per_participant=20, n_float=20, n_bool=4, seed=5)
    payloads = {
        "tuple5": (ds.X, ds.y, ds.group, ds.day_seconds, ds.date_times),
        "tuple4": (ds.X, ds.y, ds.group, ds.day_seconds),
        "dict": {"X": ds.X, "y": ds.y, "group": ds.group},
        "bad": (ds.X, ds.y, ds.group),
    }
    procs = {}
    for name, obj in payloads.items():
        path = root / f"{name}.pkl"
        path.write_bytes(pickle.dumps(obj))
        # LightGBM (which rejects some characters in feature names) on the full tuple;
        # the other shapes only need to load and run, the dummy is enough
        models = "lgbm" if name == "tuple5" else "dummy"
        procs[name] = _cli([str(path), "--models", models, "--n-splits", "3", "--out", str(root / f"out_{name}")], root)
    ds.meta = {"feature_mode": "reference", "label": {"name": "stress"}}
    ds.save_parquet(root / "stress.parquet")
    procs["parquet"] = _cli(["stress.parquet", "--models", "dummy", "--cv", "logo"], root)  # default --out
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        results[name] = (proc.returncode, out, err)
    return root, results


@pytest.mark.parametrize("shape", ["tuple5", "tuple4", "dict"])
def test_every_pkl_shape_evaluates(cli_runs, shape):
    root, results = cli_runs
    code, out, err = results[shape]
    assert code == 0, err
    assert "dummy" in out and "macro F1" in out  # the leaderboard table
    folder = root / f"out_{shape}"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["feature_mode"] == "unknown"  # a user's pkl says nothing about it
    assert manifest["label"] == "attention"
    assert manifest["input"]["sha256"] and manifest["input"]["n_features"] == 24
    assert manifest["settings"]["n_splits"] == 3
    board = pd.read_csv(folder / "leaderboard.csv")
    assert set(board["model"]) == ({"lgbm", "dummy"} if shape == "tuple5" else {"dummy"})
    oof = pd.read_parquet(folder / "oof_predictions.parquet")
    assert oof["prompt_time"].isna().all() == (shape != "tuple5")


def test_a_bad_file_is_refused_with_one_clear_line(cli_runs):
    root, results = cli_runs
    code, out, err = results["bad"]
    assert code == 2
    assert "expected a tuple (X, y, group, t, date_times) or (X, y, group, t); got a tuple of 3 items" in err
    assert "Traceback" not in err
    assert not (root / "out_bad").exists()


def test_parquet_keeps_its_feature_mode_and_label(cli_runs):
    root, results = cli_runs
    code, out, err = results["parquet"]
    assert code == 0, err
    manifest = json.loads((root / "eval" / "stress" / "manifest.json").read_text())
    assert manifest["feature_mode"] == "reference" and manifest["label"] == "stress"
    assert manifest["settings"]["cv"] == "logo" and manifest["settings"]["n_folds"] == 6


def test_an_out_folder_that_is_not_an_evaluation_is_refused_and_left_alone(tmp_path):
    """`evaluate --out` replaces its folder whole: a folder of other files is never taken."""
    import subprocess
    import sys
    from pathlib import Path

    from eval_synthetic import synthetic_dataset

    data = synthetic_dataset(seed=1).save_pkl(tmp_path / "mine.pkl")
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.txt").write_text("three years of work")
    cli = str(Path(sys.executable).with_name("kemo-attention"))
    res = subprocess.run([cli, "evaluate", str(data), "--out", str(mine), "--models", "logreg", "--workers", "1"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 2 and "is not the folder of an earlier evaluation" in res.stderr, res.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.txt"]
    # an earlier evaluation's folder is replaced as before
    out = tmp_path / "eval"
    for _ in range(2):
        res = subprocess.run([cli, "evaluate", str(data), "--out", str(out), "--models", "logreg", "--workers", "1"],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert res.returncode == 0, res.stderr
