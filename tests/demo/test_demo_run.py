"""`kemo-attention demo` end to end on a small demo: every stage leaves its outputs, and they fit together."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

CLI = str(Path(sys.executable).parent / "kemo-attention")


def test_demo_runs_every_stage_and_leaves_what_the_dashboard_needs(tmp_path):
    work = tmp_path / "work"
    cmd = [CLI, "demo", "--work", str(work), "--participants", "5", "--days", "3", "--scale", "0.02",
           "--models", "logreg", "--backend", "serial"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    check = json.loads((work / "check.json").read_text())
    assert check["usable"] is True and len(check["participants"]) == 5

    eval_dir = work / "eval" / "attention"
    board = pd.read_csv(eval_dir / "leaderboard.csv")
    assert set(board["model"]) == {"logreg", "dummy"}  # the dummy floor is always there
    manifest = json.loads((eval_dir / "manifest.json").read_text())
    assert manifest["feature_mode"] == "causal"

    bundles = list((work / "models").glob("attention-*.pkl"))
    assert [b.name for b in bundles] == ["attention-logreg.pkl"]  # the best non-dummy model
    from kemo_attention.bundle.runtime import load_bundle

    bundle = load_bundle(bundles[0])
    assert len(bundle.feature_names) == 3356 and bundle.feature_mode == "causal"
    # the demo ends with one participant replayed through a live server: the served
    # probabilities are the bundle's on the extracted features of the same prompts
    from kemo_attention.dataset import load_dataset

    live = pd.read_csv(work / "live" / "replay.csv")
    features = load_dataset(work / "features" / "attention.pkl")
    mine = features.group == live["pcode"].iloc[0]
    assert set(live["pcode"]) == {"P01"} and len(live) == int(mine.sum())
    offline = bundle.predict_proba(features.X[mine])
    assert abs(live.sort_values("prompt_time")["probability"].to_numpy() - offline).max() <= 1e-6
    # the printed next steps point at files that exist
    assert f"--bundle {bundles[0]}" in proc.stdout and "kemo-attention serve" in proc.stdout

    # the demo ends with a short study of two labels whose report the printed command opens
    study = json.loads((work / "study" / "manifest.json").read_text())
    assert sorted(study["inputs"]) == ["attention", "stress"] and study["settings"]["repeats"] == 2
    assert study["inputs"]["attention"]["path"] == str(work / "features" / "attention.pkl")
    assert (work / "study" / "report.html").stat().st_size > 10_000
    assert f"--study {work / 'study'}" in proc.stdout
    assert "attention (sgkf): best logreg, ROC AUC" in proc.stderr

    # a rerun reuses the release and the feature cache
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "reusing the demo release" in again.stderr
