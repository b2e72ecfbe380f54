"""The leaderboard as a terminal table: plain headers, mean ± SD, 80 columns wide.

``kemo-attention evaluate`` and ``kemo-attention demo`` both print it through
:func:`print_leaderboard`, so the two cannot drift apart. Four metrics fit in 80 columns
("0.668 ± 0.024" is 13 characters); the rest are in ``leaderboard.md`` / ``.csv``.
"""

from __future__ import annotations

import math

import pandas as pd

# (leaderboard column stem, header a reader understands); order = column order.
SHOWN_METRICS: tuple[tuple[str, str], ...] = (
    ("f1_macro", "macro F1"),
    ("roc_auc", "ROC AUC"),
    ("balanced_accuracy", "bal. acc."),
    ("accuracy", "accuracy"),
)
TABLE_WIDTH = 80


def _cell(mean, sd) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {sd:.3f}"


def leaderboard_table(board: pd.DataFrame, title: str):
    """A rich Table of ``board`` (one row per model, ``<metric>_mean`` / ``_std`` columns)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("model", no_wrap=True)
    for _, header in SHOWN_METRICS:
        table.add_column(header, justify="right", no_wrap=True)
    for _, row in board.iterrows():
        cells = [_cell(row.get(f"{key}_mean"), row.get(f"{key}_std")) for key, _ in SHOWN_METRICS]
        table.add_row(str(row["model"]), *cells)
    return table


def print_leaderboard(console, board: pd.DataFrame, title: str = "leaderboard (test folds, mean ± SD)") -> None:
    """Print the leaderboard on ``console`` at most :data:`TABLE_WIDTH` columns wide."""
    console.print(leaderboard_table(board, title), width=min(console.width, TABLE_WIDTH))
