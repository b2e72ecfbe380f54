"""Same inputs, same numbers: serial, local processes, real local Ray, and a rerun."""

import pandas as pd
import pytest

from kemo_attention.compute import Executor
from kemo_attention.evaluate.runner import run_evaluation

from eval_synthetic import synthetic_dataset

MODELS = ["rf", "lgbm", "evxgb"]  # the models with randomness inside; dummy is added
FOLDS = 3


def _tables(folder):
    return {
        "fold_metrics": pd.read_csv(folder / "fold_metrics.csv"),
        "leaderboard": pd.read_csv(folder / "leaderboard.csv"),
        "oof": pd.read_parquet(folder / "oof_predictions.parquet"),
        "features": pd.read_csv(folder / "selected_features.csv"),
        "participants": pd.read_csv(folder / "participant_scores.csv"),
    }


def _assert_identical(a, b):
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def small_dataset():
    return synthetic_dataset(participants=8, per_participant=20, n_float=20, n_bool=4, seed=11)


@pytest.fixture(scope="module")
def serial_tables(small_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("det") / "serial"
    run_evaluation(small_dataset, out, models=MODELS, n_splits=FOLDS, fast=True, executor=Executor("serial", progress=False))
    return _tables(out)


def test_processes_and_a_rerun_give_identical_numbers(serial_tables, small_dataset, tmp_path):
    run_evaluation(small_dataset, tmp_path / "processes", models=MODELS, n_splits=FOLDS, fast=True,
                   executor=Executor("processes", workers=2, progress=False))  # fmt: skip
    _assert_identical(serial_tables, _tables(tmp_path / "processes"))
    run_evaluation(small_dataset, tmp_path / "rerun", models=MODELS, n_splits=FOLDS, fast=True)
    _assert_identical(serial_tables, _tables(tmp_path / "rerun"))


@pytest.mark.ray
def test_real_local_ray_gives_identical_numbers(serial_tables, small_dataset, tmp_path):
    import ray

    was_running = ray.is_initialized()
    try:
        run_evaluation(small_dataset, tmp_path / "ray", models=MODELS, n_splits=FOLDS, fast=True,
                       executor=Executor("ray", workers=2, progress=False))  # fmt: skip
        manifest = (tmp_path / "ray" / "manifest.json").read_text()
        assert '"backend": "ray"' in manifest
    finally:
        if not was_running:
            ray.shutdown()
    _assert_identical(serial_tables, _tables(tmp_path / "ray"))
