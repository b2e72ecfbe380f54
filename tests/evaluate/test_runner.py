"""run_evaluation: the output folder, honest numbers, training rows only, nothing half-written."""

import json

import numpy as np
import pandas as pd
import pytest

from eval_synthetic import synthetic_dataset
from kemo_attention.compute import TaskError
from kemo_attention.errors import DataError, KemoError
from kemo_attention.evaluate import report, runner
from kemo_attention.evaluate.metrics import METRIC_COLUMNS, SCORE_COLUMNS
from kemo_attention.evaluate.runner import run_evaluation
from kemo_attention.evaluate.splits import make_splits

EXPECTED_FILES = [
    "manifest.json", "fold_metrics.csv", "leaderboard.csv", "leaderboard.md", "oof_predictions.parquet",
    "selected_features.csv", "participant_scores.csv", "plots/roc.png", "plots/pr.png",
    "plots/confusion.png", "plots/top_features.png", "plots/participants.png",
]  # fmt: skip


def test_the_output_folder_has_every_file(signal_run, signal_dataset):
    out, board = signal_run
    for name in EXPECTED_FILES:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
    for png in out.glob("plots/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folder left

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert manifest["label"] == "attention" and manifest["feature_mode"] == "causal"
    assert manifest["settings"]["models"] == ["logreg", "rf", "lgbm", "voting", "evxgb", "dummy"]
    assert {k: manifest["settings"][k] for k in ("cv", "n_splits", "seed", "oversample", "backend")} == {
        "cv": "sgkf", "n_splits": 5, "seed": 42, "oversample": False, "backend": "serial"}  # fmt: skip
    assert manifest["input"]["n_samples"] == 300 and manifest["input"]["n_features"] == 60
    assert manifest["input"]["n_participants"] == 12
    assert {"scikit-learn", "lightgbm", "numpy"} <= set(manifest["versions"])
    assert manifest["timings"]["total_s"] > 0 and manifest["created"]

    fold_metrics = pd.read_csv(out / "fold_metrics.csv")
    assert list(fold_metrics.columns) == ["model", "fold", "split", *METRIC_COLUMNS, "boosting_rounds"]
    assert len(fold_metrics) == 6 * 5 * 2
    assert set(fold_metrics["split"]) == {"train", "test"}
    is_evxgb = fold_metrics["model"] == "evxgb"
    assert fold_metrics.loc[~is_evxgb, "boosting_rounds"].isna().all()
    rounds = fold_metrics.loc[is_evxgb & (fold_metrics["split"] == "test")].set_index("fold")["boosting_rounds"]
    assert ((rounds >= 1) & (rounds <= 100)).all()  # fast: at most 100 rounds

    # the rounds per fold are in the manifest too, and match the settings it records
    recorded = manifest["notes"]["boosting_rounds"]
    assert sorted(recorded) == [f"evxgb/fold{k}" for k in range(5)]
    for k in range(5):
        entry = recorded[f"evxgb/fold{k}"]
        assert entry["used"] == rounds[k] and entry["inner_split"] == "grouped"
        assert entry["trained"] == min(entry["used"] + 50, 100)  # 50 rounds of patience, or the cap
    settings = manifest["model_settings"]
    assert set(settings) == set(manifest["settings"]["models"])
    assert (settings["rf"]["max_depth"], settings["rf"]["random_state"]) == (5, 42)
    assert settings["voting"]["members"]["rf"]["max_depth"] == 5
    users = dict(learning_rate=0.03, max_depth=3, gamma=2.0, reg_alpha=2.0, reg_lambda=2.0, subsample=0.8,
                 colsample_bytree=0.8, eval_size=0.2, early_stopping_rounds=50)  # fmt: skip
    assert {k: settings["evxgb"][k] for k in users} == users
    assert settings["evxgb"]["n_estimators"] == 100  # this run was fast; the cap is recorded
    assert "max_depth=5" in manifest["models"]["rf"] and "learning_rate=0.03" in manifest["models"]["evxgb"]

    lb = pd.read_csv(out / "leaderboard.csv")
    assert "dummy" in set(lb["model"]) and len(lb) == 6
    assert list(lb.columns) == ["model"] + [f"{c}_{s}" for c in SCORE_COLUMNS for s in ("mean", "std")]
    assert lb["f1_macro_mean"].is_monotonic_decreasing
    assert "| dummy |" in (out / "leaderboard.md").read_text()
    pd.testing.assert_frame_equal(lb, board, check_dtype=False)

    oof = pd.read_parquet(out / "oof_predictions.parquet")
    assert list(oof.columns) == ["model", "fold", "sample", "pcode", "prompt_time", "y_true", "proba", "y_pred"]
    for _, part in oof.groupby("model"):
        assert sorted(part["sample"]) == list(range(300))  # each sample predicted once per model
    assert (oof["y_true"].to_numpy() == signal_dataset.y[oof["sample"]]).all()
    assert (oof["pcode"].to_numpy() == signal_dataset.group[oof["sample"]]).all()
    assert str(oof["prompt_time"].dt.tz) in ("+09:00", "UTC+09:00")
    first = oof.loc[oof["sample"] == 0, "prompt_time"].iloc[0]
    assert first == pd.Timestamp("2019-05-01 09:00", tz="+09:00")
    assert ((oof["proba"] > 0.5).astype(int) == oof["y_pred"]).all()

    # test metrics recomputed from the OOF file agree with fold_metrics
    test_rows = fold_metrics[fold_metrics["split"] == "test"].set_index(["model", "fold"])
    for (model, fold), part in oof.groupby(["model", "fold"]):
        assert test_rows.loc[(model, fold), "n"] == len(part)
        assert test_rows.loc[(model, fold), "tp"] == int(((part["y_pred"] == 1) & (part["y_true"] == 1)).sum())

    features = pd.read_csv(out / "selected_features.csv")
    assert list(features.columns) == ["model", "fold", "feature", "importance"]
    assert features.loc[features["model"] == "dummy", "importance"].isna().all()
    assert features.loc[features["model"] != "dummy", "importance"].notna().all()
    assert set(features["feature"]) <= set(signal_dataset.X.columns)

    scores = pd.read_csv(out / "participant_scores.csv")
    assert list(scores.columns) == ["model", "fold", "pcode", "n", "n_1", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc"]
    assert len(scores) == 6 * 12  # each participant is in exactly one test fold


def test_a_real_signal_beats_the_dummy_clearly(signal_run):
    _, board = signal_run
    best = board[board["model"] != "dummy"].iloc[0]
    dummy = board[board["model"] == "dummy"].iloc[0]
    assert best["f1_macro_mean"] - dummy["f1_macro_mean"] > 0.2
    assert best["roc_auc_mean"] > 0.75
    assert dummy["roc_auc_mean"] == pytest.approx(0.5)  # a constant score ranks nothing


def _people_with_shuffled_labels():
    """30 people whose base rates differ widely, labels shuffled inside each person.

    No feature says anything about a sample's label (signal 0) or about a person's base
    rate; each person is recognisable from their features (identity offsets). So a model can
    only beat chance by recognising people it has already seen: a participant leak.
    """
    return synthetic_dataset(participants=30, per_participant=20, signal=0.0, identity=2.0, base_rate_sd=1.5,
                             shuffle_within_participant=True, seed=3)  # fmt: skip


# Near chance means within this of 0.5 (mean test-fold ROC AUC). Measured on seeds 0-5 of the
# dataset above: grouped folds 0.38-0.58, folds that ignore participants 0.73-0.90 (each
# model); the spread comes from ranking a few people per fold whose base rates differ.
CHANCE_TOLERANCE = 0.15


def _near_chance(board) -> bool:
    auc = board.loc[board["model"] != "dummy", "roc_auc_mean"]
    return bool((auc - 0.5).abs().max() < CHANCE_TOLERANCE)


def test_labels_shuffled_within_participants_score_near_chance(tmp_path):
    ds = _people_with_shuffled_labels()
    rates = [ds.y[ds.group == g].mean() for g in np.unique(ds.group)]
    assert max(rates) - min(rates) > 0.6  # people differ: recognising one would pay
    board = run_evaluation(ds, tmp_path / "null", models=["logreg", "rf", "evxgb"], fast=True)
    assert _near_chance(board), board[["model", "roc_auc_mean"]]


def test_the_chance_check_catches_a_participant_leak(monkeypatch, tmp_path):
    # inject a leak: folds that ignore participants, so every person is on both sides
    from sklearn.model_selection import StratifiedKFold

    def ignoring_groups(y, groups, **kwargs):
        return list(StratifiedKFold(5, shuffle=True, random_state=42).split(np.zeros(len(y)), y))

    monkeypatch.setattr(runner, "make_splits", ignoring_groups)
    ds = _people_with_shuffled_labels()
    board = run_evaluation(ds, tmp_path / "leak", models=["logreg", "rf", "evxgb"], fast=True)
    assert not _near_chance(board)  # the test above would fail
    auc = board.loc[board["model"] != "dummy", "roc_auc_mean"]
    assert auc.min() > 0.5 + CHANCE_TOLERANCE, board[["model", "roc_auc_mean"]]  # every model, clearly


def test_each_task_fits_on_its_training_rows_only(monkeypatch, signal_dataset, tmp_path):
    from kemo_attention.models import zoo

    fronts, tails = [], []
    real_front, real_fit = runner._fit_front, zoo.fit_pipeline

    def spy_front(front, X_train, y_train):
        fronts.append(X_train.index.to_numpy().copy())
        return real_front(front, X_train, y_train)

    def spy_fit(pipeline, X, y, groups=None):
        tails.append((zoo.model_name(pipeline), X.index.to_numpy().copy(), np.asarray(groups).copy()))
        return real_fit(pipeline, X, y, groups)

    monkeypatch.setattr(runner, "_fit_front", spy_front)
    monkeypatch.setattr(zoo, "fit_pipeline", spy_fit)
    run_evaluation(signal_dataset, tmp_path / "spy", models=["lgbm", "evxgb"], fast=True)
    folds = make_splits(signal_dataset.y, signal_dataset.group)
    # scale + select: fitted once per fold (shared by the models of the fold), training rows only
    assert len(fronts) == 5
    for rows, (train, _) in zip(fronts, folds):
        assert (rows == train).all()
    # the models: fold by fold, slowest first; training rows and their participants only
    assert [name for name, _, _ in tails] == ["evxgb", "lgbm", "dummy"] * 5
    for k, (name, rows, groups) in enumerate(tails):
        train, test = folds[k // 3]
        assert (rows == train).all()
        assert (groups == signal_dataset.group[train]).all()
        assert not set(groups) & set(signal_dataset.group[test])


def test_a_failing_task_leaves_no_output_and_keeps_the_previous_run(monkeypatch, signal_dataset, signal_run, tmp_path):
    good, _ = signal_run
    real = runner.fit_model

    def failing(model, *args):
        test_rows = args[3].index.to_numpy()  # fit_model(model, scale, select, X_train, X_test, ...)
        if model == "lgbm" and np.array_equal(test_rows, folds[2][1]):
            raise RuntimeError("worker died")
        return real(model, *args)

    folds = make_splits(signal_dataset.y, signal_dataset.group)
    monkeypatch.setattr(runner, "fit_model", failing)
    fresh = tmp_path / "attention"
    with pytest.raises(TaskError, match="task fold2 failed: RuntimeError: lgbm: RuntimeError: worker died"):
        run_evaluation(signal_dataset, fresh, models=["lgbm"], fast=True)
    assert not fresh.exists() and list(tmp_path.iterdir()) == []

    before = (good / "manifest.json").read_text()
    with pytest.raises(TaskError):
        run_evaluation(signal_dataset, good, models=["lgbm"], fast=True)
    assert (good / "manifest.json").read_text() == before  # the earlier complete run is untouched


def test_a_failure_while_writing_leaves_no_folder(monkeypatch, signal_dataset, tmp_path):
    from kemo_attention.evaluate import plots

    def broken(folder, tables):
        raise OSError("disk full")

    monkeypatch.setattr(plots, "write_plots", broken)
    with pytest.raises(OSError, match="disk full"):
        run_evaluation(signal_dataset, tmp_path / "attention", models=["dummy"], fast=True)
    assert list(tmp_path.iterdir()) == []


def test_bad_data_is_refused_naming_the_column(signal_dataset, tmp_path):
    from kemo_attention.dataset import Dataset

    X = signal_dataset.X.copy()
    X.loc[7, "bpm#AVG#3"] = np.nan
    bad = Dataset(X, signal_dataset.y, signal_dataset.group)
    with pytest.raises(DataError, match=r"row 7, column 'bpm#AVG#3': expected a finite number; got nan"):
        run_evaluation(bad, tmp_path / "x")
    one_class = Dataset(signal_dataset.X, np.ones(300, dtype=int), signal_dataset.group)
    with pytest.raises(DataError, match=r"y holds only class \[1\]"):
        run_evaluation(one_class, tmp_path / "x")
    with pytest.raises(KemoError, match="unknown model\\(s\\) 'svm'"):
        run_evaluation(signal_dataset, tmp_path / "x", models=["svm"])
    assert not (tmp_path / "x").exists()


def test_leaderboard_skips_nan_folds():
    fm = pd.DataFrame({"model": ["a"] * 3, "fold": [0, 1, 2], "split": ["test"] * 3,
                       **{c: [0.5, np.nan, 0.7] for c in SCORE_COLUMNS}})  # fmt: skip
    board = report.leaderboard(fm)
    assert board.loc[0, "f1_macro_mean"] == pytest.approx(0.6)
    assert board.loc[0, "f1_macro_std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))


def test_an_oversampled_run_completes_and_says_so(tmp_path):
    ds = synthetic_dataset(participants=6, per_participant=20, n_float=15, n_bool=4, seed=9)
    keep = np.flatnonzero((ds.y == 0) | (np.arange(len(ds.y)) % 3 == 0))  # make class 1 rare
    from kemo_attention.dataset import Dataset

    rare = Dataset(ds.X.iloc[keep].reset_index(drop=True), ds.y[keep], ds.group[keep], meta=ds.meta)
    board = run_evaluation(rare, tmp_path / "os", models=["logreg", "evxgb"], n_splits=3, oversample=True, fast=True)
    manifest = json.loads((tmp_path / "os" / "manifest.json").read_text())
    assert manifest["settings"]["oversample"] is True
    assert set(board["model"]) == {"logreg", "evxgb", "dummy"}
    # oversampling shifts predictions towards the rare class compared with no oversampling
    plain = run_evaluation(rare, tmp_path / "plain", models=["logreg"], n_splits=3, fast=True)
    recall_os = board.set_index("model").loc["logreg", "recall_1_mean"]
    recall_plain = plain.set_index("model").loc["logreg", "recall_1_mean"]
    assert recall_os >= recall_plain


def test_the_recorded_rounds_are_the_rounds_of_the_folds_evxgb(signal_run, signal_dataset):
    # refit fold 0's EvXGB outside the runner (same front, same seed) and compare its rounds
    from kemo_attention.models.zoo import fit_pipeline, make_pipeline

    out, _ = signal_run
    fold_metrics = pd.read_csv(out / "fold_metrics.csv")
    train, _ = make_splits(signal_dataset.y, signal_dataset.group)[0]
    pipe = make_pipeline("evxgb", bool_columns=signal_dataset.bool_columns,
                         numeric_columns=signal_dataset.numeric_columns, fast=True)  # fmt: skip
    fit_pipeline(pipe, signal_dataset.X.iloc[train], signal_dataset.y[train], signal_dataset.group[train])
    evxgb = pipe.named_steps["evxgb"]
    held_out = evxgb.model_.evals_result()["validation_0"]["logloss"]
    expected = int(np.argmin(held_out)) + 1  # the round with the lowest held-out log loss
    row = fold_metrics[(fold_metrics["model"] == "evxgb") & (fold_metrics["fold"] == 0)]
    assert (row["boosting_rounds"] == expected).all()
