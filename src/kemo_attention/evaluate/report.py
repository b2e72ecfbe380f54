"""The run folder: tables, leaderboard, manifest, written completely or not at all.

Layout (interfaces.md)::

    manifest.json  fold_metrics.csv  leaderboard.csv  leaderboard.md  oof_predictions.parquet
    selected_features.csv  participant_scores.csv  plots/{roc,pr,confusion,top_features,participants}.png

``fold_metrics.csv`` ends with ``boosting_rounds`` (the rounds EvXGB used in that fold; empty
for the other models). The manifest holds each model's description, its settings as the run
built them (``model_settings``) and, per EvXGB fold, the rounds used and built
(``notes.boosting_rounds``).

Everything goes into a hidden ``.<name>.partial-*`` folder (``files.atomic_folder``) beside the target; ``manifest.json``
(with ``"complete": true``) is the last file written, then the folder is renamed into place.
An existing target is moved aside only once the new folder is complete, and deleted after
the new one took its place. A run that fails or is interrupted leaves at most a hidden
temporary folder without a manifest, never a complete-looking ``eval/<label>``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kemo_attention.config import DEFAULT_TZ_OFFSET, parse_tz_offset
from kemo_attention.evaluate.metrics import SCORE_COLUMNS
from kemo_attention.files import atomic_folder, check_replaceable_folder, file_sha256
from kemo_attention.versions import library_versions

OUTPUT_FILES = (
    "manifest.json",
    "fold_metrics.csv",
    "leaderboard.csv",
    "leaderboard.md",
    "oof_predictions.parquet",
    "selected_features.csv",
    "participant_scores.csv",
    "plots/roc.png",
    "plots/pr.png",
    "plots/confusion.png",
    "plots/top_features.png",
    "plots/participants.png",
)


# ---------------------------------------------------------------------------- tables
def leaderboard(fold_metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD (ddof=1) across folds of every test score, one row per model.

    NaN folds (e.g. macro F1 of a one-class participant under ``logo``) are skipped.
    Sorted by f1_macro_mean descending (NaN last); ties keep the run's model order.
    """
    test = fold_metrics[fold_metrics["split"] == "test"]
    rows = []
    for model, part in test.groupby("model", sort=False):
        row: dict[str, Any] = {"model": model}
        for col in SCORE_COLUMNS:
            values = part[col].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            row[f"{col}_mean"] = float(values.mean()) if values.size else math.nan
            row[f"{col}_std"] = float(values.std(ddof=1)) if values.size > 1 else math.nan
        rows.append(row)
    board = pd.DataFrame(rows)
    return board.sort_values("f1_macro_mean", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


# The Markdown page is for reading: the headline scores as "mean ± SD", the CSV has them all.
MARKDOWN_SCORES = (
    ("f1_macro", "macro F1"),
    ("roc_auc", "ROC AUC"),
    ("pr_auc_1", "PR AUC (focused)"),
    ("balanced_accuracy", "balanced acc."),
    ("accuracy", "accuracy"),
    ("mcc", "MCC"),
    ("log_loss", "log loss"),
    ("brier", "Brier"),
)


def leaderboard_markdown(board: pd.DataFrame, title: str = "Leaderboard") -> str:
    """The leaderboard as a Markdown table: headline scores as mean ± SD, 3 decimals."""
    scores = [(key, name) for key, name in MARKDOWN_SCORES if f"{key}_mean" in board.columns]
    lines = [
        f"# {title}",
        "",
        "Test-fold scores, mean ± SD across folds, sorted by macro F1. All scores: leaderboard.csv.",
        "",
        "| model | " + " | ".join(name for _, name in scores) + " |",
        "|---|" + "|".join("---:" for _ in scores) + "|",
    ]
    for _, row in board.iterrows():
        cells = []
        for key, _ in scores:
            mean, sd = row[f"{key}_mean"], row.get(f"{key}_std")
            cells.append("" if pd.isna(mean) else f"{mean:.3f}" + ("" if pd.isna(sd) else f" ± {sd:.3f}"))
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def prompt_times(dataset) -> pd.Series:
    """Prompt time of every sample as a tz-aware datetime Series (all null when unknown).

    From ``date_times`` (naive values are taken as local time at the dataset's
    ``tz_offset``; a file that records none is taken as the release's, ``DEFAULT_TZ_OFFSET``),
    else from ``meta["prompt_time_ms"]``. A recorded offset that does not parse is an error.
    """
    tz = parse_tz_offset(dataset.meta.get("tz_offset") or DEFAULT_TZ_OFFSET)
    n = len(dataset)
    empty = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ms, UTC]")
    values = dataset.date_times
    try:
        if values is not None:
            try:
                s = pd.to_datetime(pd.Series(list(values)), errors="coerce")
            except (ValueError, TypeError):  # mixed offsets
                s = pd.to_datetime(pd.Series(list(values)), errors="coerce", utc=True)
            if not isinstance(s.dtype, pd.DatetimeTZDtype):
                s = s.dt.tz_localize(tz)
            return s.dt.tz_convert(tz).astype(pd.DatetimeTZDtype("ms", tz)).reset_index(drop=True)
        ms = dataset.meta.get("prompt_time_ms")
        if ms is not None and len(ms) == n:
            s = pd.to_datetime(pd.Series(np.asarray(ms, dtype="int64")), unit="ms", utc=True)
            return s.dt.tz_convert(tz).astype(pd.DatetimeTZDtype("ms", tz))
    except (ValueError, TypeError, OverflowError, AttributeError):
        pass
    return empty


def prompt_order(dataset) -> np.ndarray:
    """A sortable prompt time per sample (int64 ns; all -1 when the file has none): what "a
    participant's first K answers" are ordered by."""
    times = prompt_times(dataset)
    if times.isna().any():
        return np.full(len(dataset), -1, dtype=np.int64)
    return times.astype("int64").to_numpy()


# ---------------------------------------------------------------------------- manifest
# The libraries whose versions an evaluation run records in its manifest.
RUN_LIBRARIES = ("kemo-attention", "numpy", "pandas", "scikit-learn", "imbalanced-learn", "lightgbm", "xgboost", "ray", "pyarrow", "matplotlib")


def _input_info(dataset, input_path) -> dict[str, Any]:
    path = Path(input_path) if input_path else None
    return {
        "path": str(path) if path else dataset.meta.get("source"),
        "sha256": file_sha256(path) if path and path.is_file() else None,
        "n_samples": int(len(dataset)),
        "n_features": int(dataset.X.shape[1]),
        "n_bool_features": len(dataset.bool_columns),
        "n_participants": int(np.unique(dataset.group).shape[0]),
        "n_positive": int(dataset.y.sum()),
    }


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------------- the folder
def write_run_folder(out_dir, *, dataset, tables, run_info, timings, notes, input_path, started) -> Path:
    """Write every output file into a temporary folder, then rename it to ``out_dir``."""
    from kemo_attention.evaluate import plots
    from kemo_attention.models.zoo import describe_model, model_settings

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: exists and is not a folder; choose another --out")
    # an earlier evaluation's manifest records its settings and models; any other folder is refused
    check_replaceable_folder(out_dir, lambda manifest: "models" in manifest and "settings" in manifest, "evaluation")
    with atomic_folder(out_dir) as tmp:
        write_started = time.perf_counter()
        tables["fold_metrics"].to_csv(tmp / "fold_metrics.csv", index=False)
        tables["leaderboard"].to_csv(tmp / "leaderboard.csv", index=False)
        label = dataset.label
        (tmp / "leaderboard.md").write_text(leaderboard_markdown(tables["leaderboard"], f"Leaderboard: {label}"))
        tables["oof"].to_parquet(tmp / "oof_predictions.parquet", index=False)
        tables["selected_features"].to_csv(tmp / "selected_features.csv", index=False)
        tables["participant_scores"].to_csv(tmp / "participant_scores.csv", index=False)
        plots_started = time.perf_counter()
        plots.write_plots(tmp / "plots", tables)
        now = time.perf_counter()
        manifest = {
            "label": label,
            "feature_mode": dataset.feature_mode,
            "settings": run_info,
            "input": _input_info(dataset, input_path),
            "dataset_meta": {k: v for k, v in dataset.meta.items() if k != "prompt_time_ms"},
            "models": {m: describe_model(m) for m in run_info["models"]},
            # read back from the estimators as this run built them (seed, fast cap included)
            "model_settings": {
                m: model_settings(m, random_state=run_info["seed"], fast=run_info["fast"]) for m in run_info["models"]
            },
            "versions": library_versions(RUN_LIBRARIES),
            "timings": {
                **timings,
                "plots_s": round(now - plots_started, 3),
                "write_s": round(now - write_started, 3),
                "total_s": round(now - started, 3),
            },
            "notes": notes,
            "files": list(OUTPUT_FILES),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "complete": True,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default, allow_nan=True))
    return out_dir
