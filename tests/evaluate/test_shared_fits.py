"""Shared fits change no number: a run equals fitting every model's whole pipeline on its own.

A run fits a fold's scale + select front once for all of its models, and builds the voting
model from the logreg, rf and lgbm it has just fitted (runner.py). The reference here is the
straightforward path, written independently of the runner: for every (model, fold), a fresh
``make_pipeline`` fitted end to end on the fold's training rows, its own front and its own
voting members included. Every out-of-fold probability, every train and test metric and every
selected feature's importance must be equal, exactly.
"""

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from kemo_attention.compute import Executor
from kemo_attention.evaluate import runner
from kemo_attention.evaluate.metrics import METRIC_COLUMNS, binary_metrics
from kemo_attention.evaluate.runner import run_evaluation
from kemo_attention.evaluate.splits import make_splits
from kemo_attention.models.zoo import MODEL_NAMES, feature_importances, fit_pipeline, make_pipeline, selected_features

from eval_synthetic import synthetic_dataset

FOLDS = 3


@pytest.fixture(scope="module")
def dataset():
    return synthetic_dataset(participants=9, per_participant=20, n_float=24, n_bool=5, seed=5)


def _straightforward(dataset, model, train, test, oversample=False):
    """(P(y=1) on the test rows, on the training rows, features, importances): one whole pipeline."""
    pipe = make_pipeline(model, bool_columns=dataset.bool_columns, numeric_columns=dataset.numeric_columns,
                         oversample=oversample, random_state=42, fast=True)  # fmt: skip
    with threadpool_limits(1):
        fit_pipeline(pipe, dataset.X.iloc[train], dataset.y[train], dataset.group[train])
        col = list(pipe.classes_).index(1)
        p_test = pipe.predict_proba(dataset.X.iloc[test])[:, col]
        p_train = pipe.predict_proba(dataset.X.iloc[train])[:, col]
    return p_test, p_train, selected_features(pipe), feature_importances(pipe)


def _assert_equal_to_straightforward(dataset, out, models, oversample=False):
    oof = pd.read_parquet(out / "oof_predictions.parquet")
    fold_metrics = pd.read_csv(out / "fold_metrics.csv")
    features = pd.read_csv(out / "selected_features.csv")
    folds = make_splits(dataset.y, dataset.group, n_splits=FOLDS)
    for model in models:
        for k, (train, test) in enumerate(folds):
            p_test, p_train, names, importances = _straightforward(dataset, model, train, test, oversample)
            run_oof = oof[(oof["model"] == model) & (oof["fold"] == k)]
            assert run_oof["sample"].tolist() == test.tolist()
            assert np.array_equal(run_oof["proba"].to_numpy(), p_test), (model, k)
            for split, y_rows, proba in (("train", dataset.y[train], p_train), ("test", dataset.y[test], p_test)):
                row = fold_metrics[(fold_metrics["model"] == model) & (fold_metrics["fold"] == k)
                                   & (fold_metrics["split"] == split)].iloc[0]  # fmt: skip
                expected = binary_metrics(y_rows, proba)
                for column in METRIC_COLUMNS:
                    # the CSV holds repr-exact floats, which pandas reads back exactly
                    assert row[column] == pytest.approx(expected[column], rel=0, abs=0, nan_ok=True), (model, k, split, column)
            run_features = features[(features["model"] == model) & (features["fold"] == k)]
            assert run_features["feature"].tolist() == names
            assert np.array_equal(run_features["importance"].to_numpy(), importances, equal_nan=True), (model, k)


def _reuse_count(out):
    import json

    return json.loads((out / "manifest.json").read_text())["timings"]["voting_folds_reusing_members"]


@pytest.fixture(scope="module")
def serial_run(dataset, tmp_path_factory):
    """All six models, serial: one task per fold."""
    out = tmp_path_factory.mktemp("shared") / "serial"
    run_evaluation(dataset, out, n_splits=FOLDS, fast=True)
    return out


def test_a_run_equals_fitting_each_pipeline_on_its_own(dataset, serial_run):
    out = serial_run
    assert _reuse_count(out) == FOLDS  # the voting model really was built from its members
    _assert_equal_to_straightforward(dataset, out, MODEL_NAMES)


def test_with_oversampling_too(dataset, tmp_path):
    out = tmp_path / "oversampled"
    models = ["voting", "logreg", "rf", "lgbm"]
    run_evaluation(dataset, out, models=models, n_splits=FOLDS, fast=True, oversample=True)
    assert _reuse_count(out) == FOLDS
    _assert_equal_to_straightforward(dataset, out, models + ["dummy"], oversample=True)


def test_voting_without_its_members_is_fitted_whole(dataset, tmp_path):
    out = tmp_path / "voting-alone"
    run_evaluation(dataset, out, models=["voting"], n_splits=FOLDS, fast=True)
    assert _reuse_count(out) == 0
    _assert_equal_to_straightforward(dataset, out, ["voting", "dummy"])


def test_splitting_a_folds_models_over_tasks_gives_the_same_tables(dataset, serial_run, tmp_path):
    # few folds for the workers: each fold's models go to two tasks, each fitting its own front
    assert runner._model_groups(list(MODEL_NAMES), FOLDS, workers=2) == [
        ("rf", "lgbm", "logreg", "voting"),
        ("evxgb", "dummy"),
    ]
    assert runner._model_groups(list(MODEL_NAMES), 47, workers=2) == [("evxgb", "rf", "lgbm", "logreg", "voting", "dummy")]
    run_evaluation(dataset, tmp_path / "split", n_splits=FOLDS, fast=True,
                   executor=Executor("processes", workers=2, progress=False))  # fmt: skip
    import json

    timings = json.loads((tmp_path / "split" / "manifest.json").read_text())["timings"]
    assert timings["front_fits"] == 2 * FOLDS
    assert json.loads((serial_run / "manifest.json").read_text())["timings"]["front_fits"] == FOLDS
    for name in ("fold_metrics.csv", "leaderboard.csv", "selected_features.csv", "participant_scores.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(serial_run / name), pd.read_csv(tmp_path / "split" / name),
                                      check_exact=True, obj=name)  # fmt: skip
    pd.testing.assert_frame_equal(pd.read_parquet(serial_run / "oof_predictions.parquet"),
                                  pd.read_parquet(tmp_path / "split" / "oof_predictions.parquet"), check_exact=True)  # fmt: skip
