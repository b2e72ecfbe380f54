"""Compare the tables of two evaluation output folders, number by number.

    .venv/bin/python bench/compare_eval_outputs.py BEFORE_DIR AFTER_DIR

For every table (fold metrics, leaderboard, out-of-fold predictions, selected features,
participant scores) it checks that both runs have the same rows and columns and reports,
per table, how many numbers differ and the largest absolute difference. Exit 0 when every
number is equal (NaN equals NaN) or within ``--tolerance`` (default 0: bit for bit), 1 otherwise.
Timings and paths (manifest.json) are expected to differ and are not compared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TABLES = {
    "fold_metrics.csv": pd.read_csv,
    "leaderboard.csv": pd.read_csv,
    "oof_predictions.parquet": pd.read_parquet,
    "selected_features.csv": pd.read_csv,
    "participant_scores.csv": pd.read_csv,
}


def compare(before: Path, after: Path, tolerance: float = 0.0) -> bool:
    same = True
    for name, read in TABLES.items():
        a, b = read(before / name), read(after / name)
        if list(a.columns) != list(b.columns) or a.shape != b.shape:
            print(f"{name}: shapes/columns differ: {a.shape} {list(a.columns)[:5]}... vs {b.shape}")
            same = False
            continue
        numbers, differ, largest = 0, 0, 0.0
        for col in a.columns:
            x, y = a[col], b[col]
            if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
                xv, yv = x.to_numpy(dtype=float, na_value=np.nan), y.to_numpy(dtype=float, na_value=np.nan)
                both_nan = np.isnan(xv) & np.isnan(yv)
                diff = np.where(both_nan, 0.0, np.abs(xv - yv))
                diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only
                numbers += len(xv)
                differ += int((diff > tolerance).sum())
                largest = max(largest, float(diff.max()) if len(diff) else 0.0)
            elif not x.astype(str).equals(y.astype(str)):
                print(f"{name}: column {col!r} differs")
                same = False
        verdict = "identical" if differ == 0 and largest == 0 else ("within tolerance" if differ == 0 else "DIFFERENT")
        if name.endswith(".csv") and (before / name).read_bytes() == (after / name).read_bytes():
            verdict += " (same bytes)"
        print(f"{name:<26} {a.shape[0]:>7} rows {numbers:>9} numbers  differing {differ:>6}  max |diff| {largest:.3g}  {verdict}")
        same = same and differ == 0
    return same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--tolerance", type=float, default=0.0)
    args = ap.parse_args()
    sys.exit(0 if compare(args.before, args.after, args.tolerance) else 1)


if __name__ == "__main__":
    main()
