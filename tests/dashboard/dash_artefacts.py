"""Artefacts for the dashboard tests, written here in the interfaces.md formats (not by our code).

The evaluation folder has 3 models (lgbm, logreg, dummy), 5 folds and 6 participants with
numbers chosen by hand, so the tests can look for them on the pages.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

MODELS = ("lgbm", "logreg", "dummy")
PCODES = ("P01", "P02", "P03", "P04", "P05", "P06")
FOLD_OF = {"P01": 0, "P02": 0, "P03": 1, "P04": 2, "P05": 3, "P06": 4}
N_FOLDS = 5
PROMPTS_PER_PERSON = 12
START_MS = 1_556_668_800_000  # 2019-05-01 00:00 UTC = 09:00 in Korea

# Leaderboard numbers (mean, sd) the Models page must show, sorted by f1_macro_mean as evaluate writes them.
LEADERBOARD = {
    "lgbm": {"f1_macro": (0.6123, 0.0456), "balanced_accuracy": (0.6210, 0.0388), "roc_auc": (0.6544, 0.0291), "accuracy": (0.6302, 0.0410)},
    "logreg": {"f1_macro": (0.5811, 0.0312), "balanced_accuracy": (0.5877, 0.0290), "roc_auc": (0.6017, 0.0333), "accuracy": (0.5990, 0.0350)},
    "dummy": {"f1_macro": (0.3333, 0.0101), "balanced_accuracy": (0.5000, 0.0000), "roc_auc": (0.5000, 0.0000), "accuracy": (0.5012, 0.0120)},
}
METRICS = (
    "accuracy", "balanced_accuracy", "gmean", "mcc", "precision_macro", "recall_macro", "f1_macro",
    "precision_0", "recall_0", "f1_0", "precision_1", "recall_1", "f1_1", "roc_auc",
    "pr_auc_0", "pr_auc_1", "pr_chance_0", "pr_chance_1", "log_loss", "brier",
)
# lgbm keeps HRT#AVG#H01 in every fold; the user's own bpm#AVG#60 does not parse.
SELECTED = {
    "lgbm": [("HRT#AVG#H01", (0, 1, 2, 3, 4), 12.5), ("SCR#DSC", (0, 1, 2), 4.0), ("ESM#HRN=MORNING", (1, 3), 2.0),
             ("APP_CAT#DUR=SOCIAL#M30", (2,), 1.5), ("bpm#AVG#60", (4,), 0.5), ("HRT#STD#S30", (0, 1), 3.0)],
    "logreg": [("HRT#AVG#H01", (0, 2), 0.8), ("PIF#GEN=F", (0, 1, 2, 3, 4), 0.3)],
    "dummy": [("HRT#AVG#H01", (0, 1, 2, 3, 4), float("nan"))],
}


def _labels(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {p: (rng.random(PROMPTS_PER_PERSON) < 0.5).astype(int) for p in PCODES}


def write_eval_folder(out: Path, seed: int = 3) -> Path:
    """An eval folder as `kemo-attention evaluate` writes it (interfaces.md), with fixed numbers."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    labels = _labels(rng)
    tz = "+09:00"
    rows = []
    sample = 0
    for p in PCODES:
        for k in range(PROMPTS_PER_PERSON):
            y = int(labels[p][k])
            # 4 prompts a day over 3 days, between 10:00 and 20:00 local time
            t_ms = START_MS + (k // 4) * 86_400_000 + (1 + (k % 4) * 3) * 3_600_000 + int(rng.integers(0, 600_000))
            for model in MODELS:
                if model == "dummy":
                    proba = 0.5
                elif model == "lgbm":
                    proba = float(np.clip(0.5 + (0.25 if y else -0.25) + rng.normal(0, 0.2), 0.01, 0.99))
                else:
                    proba = float(np.clip(0.5 + (0.1 if y else -0.1) + rng.normal(0, 0.2), 0.01, 0.99))
                rows.append({"model": model, "fold": FOLD_OF[p], "sample": sample, "pcode": p,
                             "prompt_time": pd.Timestamp(t_ms, unit="ms", tz="UTC").tz_convert(tz),
                             "y_true": y, "proba": proba, "y_pred": int(proba >= 0.5) if model != "dummy" else 1})
            sample += 1
    oof = pd.DataFrame(rows)
    oof.to_parquet(out / "oof_predictions.parquet", index=False)

    board = []
    for model in MODELS:
        row = {"model": model}
        for metric in METRICS:
            mean, sd = LEADERBOARD[model].get(metric, (0.5, 0.05))
            row[f"{metric}_mean"], row[f"{metric}_std"] = mean, sd
        board.append(row)
    pd.DataFrame(board).to_csv(out / "leaderboard.csv", index=False)
    (out / "leaderboard.md").write_text(pd.DataFrame(board).to_string(index=False))

    fold_rows = []
    for model in MODELS:
        for fold in range(N_FOLDS):
            for split in ("train", "test"):
                part = oof[(oof["model"] == model) & (oof["fold"] == fold)]
                y, pred = part["y_true"].to_numpy(), part["y_pred"].to_numpy()
                r = {"model": model, "fold": fold, "split": split, "n": len(part), "n_0": int((y == 0).sum()), "n_1": int((y == 1).sum()),
                     "tn": int(((y == 0) & (pred == 0)).sum()), "fp": int(((y == 0) & (pred == 1)).sum()),
                     "fn": int(((y == 1) & (pred == 0)).sum()), "tp": int(((y == 1) & (pred == 1)).sum())}
                r.update({m: float(rng.uniform(0.4, 0.7)) for m in METRICS})
                fold_rows.append(r)
    pd.DataFrame(fold_rows).to_csv(out / "fold_metrics.csv", index=False)

    sel = [{"model": m, "fold": f, "feature": name, "importance": imp + f * 0.1}
           for m, items in SELECTED.items() for name, folds, imp in items for f in folds]
    pd.DataFrame(sel).to_csv(out / "selected_features.csv", index=False)

    scores = []
    for model in MODELS:
        for p in PCODES:
            part = oof[(oof["model"] == model) & (oof["pcode"] == p)]
            y, pred = part["y_true"].to_numpy(), part["y_pred"].to_numpy()
            acc = float((y == pred).mean())
            scores.append({"model": model, "fold": FOLD_OF[p], "pcode": p, "n": len(part), "n_1": int(y.sum()),
                           "accuracy": acc, "balanced_accuracy": acc, "f1_macro": round(acc - 0.05, 4),
                           "roc_auc": float("nan") if len(set(y)) < 2 else float(rng.uniform(0.4, 0.8))})
    pd.DataFrame(scores).to_csv(out / "participant_scores.csv", index=False)

    manifest = {
        "label": "attention", "feature_mode": "causal",
        "settings": {"models": list(MODELS), "cv": "sgkf", "n_splits": N_FOLDS, "seed": 42, "oversample": False, "backend": "serial"},
        "input": {"path": "features/attention.pkl", "sha256": "0" * 64, "n_samples": int(sample), "n_features": 6, "n_participants": len(PCODES)},
        "versions": {}, "timings": {}, "created": "2024-01-01T00:00:00+00:00", "complete": True,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    (out / "plots").mkdir(exist_ok=True)
    return out


# Data-yield fixture: P01..P04 x 3 types x 3 days; P02 has no EDA at all, P03 no HR on day 2.
CHECK_TYPES = ("HR", "EDA", "ScreenEvent")
CHECK_DAYS = ("2019-05-01", "2019-05-02", "2019-05-03")


def write_check_json(path: Path) -> Path:
    daily = []
    for i, p in enumerate(("P01", "P02", "P03", "P04")):
        for t in CHECK_TYPES:
            for d in CHECK_DAYS:
                if p == "P02" and t == "EDA":
                    continue
                if p == "P03" and t == "HR" and d == "2019-05-02":
                    continue
                daily.append({"pcode": p, "type": t, "day": d, "rows": 1000 * (i + 1) + len(t)})
    report = {
        "root": "/data/release",
        "usable": True,
        "participants": [{"pcode": p, "files": 3, "rows": 9000, "first_ms": START_MS, "last_ms": START_MS + 3 * 86_400_000,
                          "days": 3, "problems": 1, "esm_responses": 12} for p in ("P01", "P02", "P03", "P04")],
        "problems": [{"file": "Sensor/P02/HR.csv", "kind": "duplicate_timestamps", "count": 7, "message": "7 duplicated timestamps",
                      "row": None, "column": None}],
        "daily_rows": daily,
        "summary": {"participants": 4, "problems": 1, "rows": 36000},
    }
    path.write_text(json.dumps(report))
    return path


