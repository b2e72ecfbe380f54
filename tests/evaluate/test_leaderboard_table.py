"""The leaderboard printed by `evaluate` (and `demo`): plain headers, mean ± SD, 80 columns."""

import os
import pickle
import subprocess
import sys

import pandas as pd
from rich.console import Console

from eval_synthetic import synthetic_dataset
from kemo_attention.evaluate.terminal import print_leaderboard

# Values of README's typical demo leaderboard: six models, three decimals, SDs present.
BOARD = pd.DataFrame(
    {
        "model": ["lgbm", "rf", "evxgb", "voting", "logreg", "dummy"],
        "f1_macro_mean": [0.668, 0.650, 0.644, 0.637, 0.589, 0.316],
        "f1_macro_std": [0.024, 0.021, 0.035, 0.032, 0.068, 0.008],
        "roc_auc_mean": [0.730, 0.717, 0.707, 0.696, 0.624, 0.5],
        "roc_auc_std": [0.020, 0.021, 0.039, 0.041, 0.069, 0.0],
        "balanced_accuracy_mean": [0.670, 0.652, 0.645, 0.640, 0.590, 0.5],
        "balanced_accuracy_std": [0.02, 0.02, 0.03, 0.03, 0.07, 0.0],
        "accuracy_mean": [0.671, 0.655, 0.646, 0.641, 0.591, 0.462],
        "accuracy_std": [0.02, 0.02, 0.03, 0.03, 0.07, 0.01],
    }
)


def _printed(board: pd.DataFrame, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None, force_terminal=False)
    print_leaderboard(console, board)
    return console.export_text().rstrip("\n").splitlines()


def test_table_fits_80_columns_with_one_line_per_model():
    lines = _printed(BOARD)
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    for _, row in BOARD.iterrows():
        hits = [line for line in lines if line.strip().startswith(row["model"] + " ")]
        assert len(hits) == 1, f"{row['model']} is not on exactly one line:\n" + "\n".join(lines)
        # every cell whole on that line: a wrapped cell would split "0.668 ± 0.024"
        for key in ("f1_macro", "roc_auc", "balanced_accuracy", "accuracy"):
            assert f"{row[f'{key}_mean']:.3f} ± {row[f'{key}_std']:.3f}" in hits[0]


def test_headers_are_plain_words():
    text = "\n".join(_printed(BOARD))
    for header in ("macro F1", "ROC AUC", "bal. acc.", "accuracy"):
        assert header in text
    assert "_" not in text, text  # no snake_case column names


def test_a_wide_terminal_still_gets_the_80_column_table():
    assert max(len(line) for line in _printed(BOARD, width=200)) <= 80


def test_missing_sd_and_missing_metric():
    board = BOARD.head(1).copy()
    board["roc_auc_std"] = float("nan")
    board["accuracy_mean"] = float("nan")
    line = next(line for line in _printed(board) if line.strip().startswith("lgbm"))
    assert "0.730" in line and "0.730 ±" not in line
    assert line.rstrip().endswith("-")


def test_evaluate_cli_prints_it_in_80_columns(tmp_path):
    ds = synthetic_dataset(participants=6, per_participant=20, n_float=10, n_bool=2, seed=3)
    path = tmp_path / "small.pkl"
    path.write_bytes(pickle.dumps((ds.X, ds.y, ds.group, ds.day_seconds, ds.date_times)))
    env = dict(os.environ, NO_COLOR="1", COLUMNS="80")
    done = subprocess.run(
        [sys.executable, "-m", "kemo_attention.cli", "evaluate", str(path), "--models", "logreg",
         "--n-splits", "3", "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, done.stdout
    assert "macro F1" in done.stdout and "f1_macro" not in done.stdout
    for model in ("logreg", "dummy"):
        row = [line for line in lines if line.strip().startswith(model + " ")]
        assert len(row) == 1 and row[0].count("±") == 4, done.stdout
