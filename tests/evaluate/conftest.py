"""Shared data and one evaluation run reused by the output-folder tests."""

import pytest

from eval_synthetic import synthetic_dataset


@pytest.fixture(scope="session")
def signal_dataset():
    """12 participants x 25 samples, 50 float + 10 bool features, a real per-sample signal."""
    return synthetic_dataset(seed=0)


@pytest.fixture(scope="session")
def signal_run(signal_dataset, tmp_path_factory):
    """One complete run (all six models, fewer trees) on the signal dataset."""
    from kemo_attention.evaluate.runner import run_evaluation

    out = tmp_path_factory.mktemp("runs") / "attention"
    board = run_evaluation(signal_dataset, out, fast=True)
    return out, board
