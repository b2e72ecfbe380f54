"""The Study page in AppTest, over the synthetic study folder (tests/study/study_folder.py)."""

from __future__ import annotations

import shutil
import sys

import pandas as pd
import pytest
from app_reading import chart_data, texts
from study_folder import LABELS, MODELS

from kemo_attention import cli


def no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def table_with(at, column: str) -> pd.DataFrame:
    """The first st.table on the page that has ``column``."""
    return next(t.value for t in at.table if column in t.value.columns)


def _summary_value(study_dir, label, cv, protocol, model, metric, column="mean"):
    summary = pd.read_csv(study_dir / "summary.csv")
    rows = summary[(summary["label"] == label) & (summary["cv"] == cv) & (summary["protocol"] == protocol)
                   & (summary["model"] == model) & (summary["metric"] == metric)]
    return float(rows[column].item())


def test_without_a_study_folder_the_page_says_how_to_get_one(make_app):
    at = make_app(page="Study")
    no_exception(at)
    assert "No study folder was given" in texts(at) and "--study DIR" in texts(at)


def test_summary_and_leaderboard_with_intervals(make_app, study_dir):
    at = make_app(page="Study", study=study_dir)
    no_exception(at)
    summary = at.table[0].value
    assert list(summary.index) == list(MODELS) and list(summary.columns) == list(LABELS)
    auc = [_summary_value(study_dir, "stress", "sgkf", "population", "lgbm", "roc_auc", c) for c in ("mean", "ci_low", "ci_high")]
    f1 = _summary_value(study_dir, "stress", "sgkf", "population", "lgbm", "f1_macro")
    assert summary.loc["lgbm", "stress"] == f"{auc[0]:.3f} [{auc[1]:.3f}, {auc[2]:.3f}] F1 {f1:.3f}"
    board = table_with(at, "ROC AUC [95 % CI]")
    assert list(board.index) == list(MODELS)
    auc = [_summary_value(study_dir, "attention", "sgkf", "population", "rf", "roc_auc", c) for c in ("mean", "ci_low", "ci_high")]
    assert board.loc["rf", "ROC AUC [95 % CI]"] == f"{auc[0]:.3f} [{auc[1]:.3f}, {auc[2]:.3f}]"
    assert board.loc["dummy", "p vs dummy (Holm)"] == "—"
    assert (board["p vs best (Holm)"] == "best").sum() == 1
    pairs = table_with(at, "p (Holm)")
    comparisons = pd.read_csv(study_dir / "comparisons.csv")
    mine = comparisons[(comparisons["label"] == "attention") & (comparisons["cv"] == "sgkf") & (comparisons["protocol"] == "population")]
    assert len(pairs) == len(mine)
    lgbm = mine[(mine["model"] == "lgbm") & (mine["role"] == "vs_dummy")].iloc[0]
    shown_row = pairs[(pairs.index == "lgbm") & (pairs["role"] == "vs_dummy")].iloc[0]
    assert shown_row["p (Holm)"] == ("<0.001" if lgbm["p_holm"] < 0.001 else f"{lgbm['p_holm']:.3f}")
    assert shown_row["Δ [95 % CI]"].startswith(f"{lgbm['mean_difference']:+.3f} [")
    shown = texts(at)
    assert "Friedman test p < 0.001; post-hoc Nemenyi test, CD 1.930" in shown
    assert len(at.get("image")) == 1  # the CD diagram of attention · sgkf
    assert at.get("download_button")


def test_calibration_personalization_and_tuning(make_app, study_dir):
    at = make_app(page="Study", study=study_dir)
    ece = table_with(at, "ECE isotonic")
    calibration = pd.read_csv(study_dir / "calibration.csv")
    row = calibration[(calibration["label"] == "attention") & (calibration["cv"] == "sgkf") & (calibration["model"] == "rf")
                      & (calibration["variant"] == "isotonic")]
    assert ece.loc["rf", "ECE isotonic"] == f"{row['ece'].item():.3f}"
    reliability = pd.read_csv(study_dir / "reliability.csv")
    drawn = reliability[(reliability["label"] == "attention") & (reliability["cv"] == "sgkf") & (reliability["n"] > 0)]
    points = next(frame for frame in chart_data(at, 0) if "fraction_positive" in frame)
    assert len(points) == len(drawn) and set(points["model"]) == set(MODELS)  # empty bins are not drawn
    gains = table_with(at, "gain [95 % CI]")
    personal = pd.read_csv(study_dir / "personalization.csv")
    lgbm = personal[(personal["label"] == "attention") & (personal["cv"] == "sgkf") & (personal["model"] == "lgbm")].iloc[0]
    assert gains.loc["lgbm", "gain [95 % CI]"] == f"{lgbm['gain']:+.3f} [{lgbm['ci_low']:+.3f}, {lgbm['ci_high']:+.3f}]"
    tuning = table_with(at, "chosen parameters")
    assert list(tuning.index) == ["lgbm-tuned"] and tuning.loc["lgbm-tuned", "folds"] == 10


def test_choosing_label_and_protocol(make_app, study_dir):
    at = make_app(page="Study", study=study_dir, state={"study_label": "stress", "study_protocol": "hybrid"})
    no_exception(at)
    assert at.selectbox(key="study_cv").options == ["sgkf (repeated stratified group 5-fold CV)"]  # stress has no logo run
    board = table_with(at, "ROC AUC [95 % CI]")
    assert "gain over population [95 % CI]" in board.columns
    auc = _summary_value(study_dir, "stress", "sgkf", "hybrid", "lgbm", "roc_auc")
    assert board.loc["lgbm", "ROC AUC [95 % CI]"].startswith(f"{auc:.3f} [")
    assert "Friedman test p = 0.031" in texts(at)
    assert not at.get("image")
    assert "No critical-difference diagram" in texts(at)


def test_a_study_folder_without_summary_is_a_warning_not_a_crash(make_app, study_dir, tmp_path):
    broken = tmp_path / "study"
    shutil.copytree(study_dir, broken)
    (broken / "summary.csv").unlink()
    at = make_app(page="Study", study=broken)
    no_exception(at)
    assert "has no readable `summary.csv` (missing)" in texts(at)


def _run_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["kemo-attention", "dashboard", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    return exc.value.code, capsys.readouterr().err


def test_cli_refuses_a_folder_that_is_not_a_study(monkeypatch, capsys, tmp_path):
    code, err = _run_cli(monkeypatch, capsys, "--study", str(tmp_path / "nowhere"))
    assert code == 2 and f"--study {tmp_path / 'nowhere'}: no such folder; expected a study folder" in err
    code, err = _run_cli(monkeypatch, capsys, "--study", str(tmp_path))
    assert code == 2 and "no summary.csv there; expected the folder `kemo-attention study --out` wrote" in err
    assert "Traceback" not in err


def test_cli_passes_the_study_folder_to_the_app(monkeypatch, capsys, study_dir):
    seen = {}

    class FakePopen:
        def __init__(self, command, env):
            seen["env"] = env

        def wait(self):
            return 0

        def poll(self):
            return 0

    import subprocess

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    code, _ = _run_cli(monkeypatch, capsys, "--study", str(study_dir), "--port", "8598")
    assert code == 0
    assert seen["env"]["KEMO_DASHBOARD_STUDY"] == str(study_dir.resolve())
