"""The Markdown leaderboard: headline scores as mean ± SD, sorted by macro F1, dummy shown."""

import pandas as pd

from kemo_attention.evaluate.report import leaderboard, leaderboard_markdown
from kemo_attention.evaluate.metrics import SCORE_COLUMNS


def _fold_rows(model, f1s):
    rows = []
    for fold, f1 in enumerate(f1s):
        row = {c: 0.5 for c in SCORE_COLUMNS}
        row.update(model=model, fold=fold, split="test", f1_macro=f1)
        rows.append(row)
    return rows


def test_markdown_shows_mean_and_sd_sorted_by_macro_f1():
    folds = pd.DataFrame(_fold_rows("dummy", [0.3, 0.3]) + _fold_rows("lgbm", [0.5, 0.7]))
    text = leaderboard_markdown(leaderboard(folds), "Leaderboard: attention")
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| model | macro F1 | ROC AUC")
    # mean 0.6, SD (ddof 1) of 0.5 and 0.7 = sqrt(0.02) = 0.1414
    assert lines[1].startswith("| lgbm | 0.600 ± 0.141 |")
    assert lines[2].startswith("| dummy | 0.300 ± 0.000 |")
