"""A synthetic study folder written from the schema (briefs: study-schema.md), with plausible numbers.

Two labels: ``attention`` on ``sgkf`` (2 repeats x 5 folds) and ``logo`` (8 participants),
``stress`` on ``sgkf`` only; protocols ``population`` and ``hybrid``; five models, one of
them tuned. ``attention`` has critical-difference diagrams (real PNGs), ``stress`` has none,
so a report shows both the picture and the note for its absence. ``BASE_AUC`` is the
truth the scores scatter around; the tables the report reads are derived from the fold
scores the way the schema defines them (means, Holm-adjusted p values, best model).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

LABELS = ("attention", "stress")
MODELS = ("logreg", "rf", "lgbm", "lgbm-tuned", "dummy")
PROTOCOLS = ("population", "hybrid")
CV_OF_LABEL = {"attention": ("sgkf", "logo"), "stress": ("sgkf",)}
REPEATS, FOLDS = 2, 5
PARTICIPANTS = tuple(f"P{i:02d}" for i in range(1, 9))
# Mean ROC AUC per label and model: rf best on attention, lgbm best on stress.
BASE_AUC = {
    "attention": {"logreg": 0.58, "rf": 0.64, "lgbm": 0.62, "lgbm-tuned": 0.63, "dummy": 0.5},
    "stress": {"logreg": 0.55, "rf": 0.57, "lgbm": 0.61, "lgbm-tuned": 0.60, "dummy": 0.5},
}
HYBRID_GAIN = 0.03  # hybrid scores this much higher on average
TESTS = {
    "corrected resampled t (Nadeau-Bengio)": "Fold scores of one repeated CV are correlated; the variance is inflated by n_test/n_train. Assumes fold differences roughly normal.",
    "Wilcoxon signed-rank": "Paired participants, independent of each other; differences symmetric about their median.",
    "Friedman test": "Blocks (folds or participants) independent; models ranked within each block.",
    "Nemenyi test": "All pairs compared by mean rank; two models differ when their mean ranks differ by more than the critical difference.",
}
INTERVAL = {"sgkf": "corrected resampled t (Nadeau-Bengio)", "logo": "t over participants"}
PAIRED_TEST = {"sgkf": "corrected resampled t (Nadeau-Bengio)", "logo": "Wilcoxon signed-rank"}
METRICS = ("roc_auc", "f1_macro", "balanced_accuracy", "brier", "log_loss", "ece")


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment, written out (independent of the code under test)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(p) - rank) * p[index])
        adjusted[index] = min(running, 1.0)
    return adjusted


def _units(cv: str) -> list[tuple[int, int, str]]:
    """(repeat, fold, pcode) of every unit of a cv; pcode is empty for sgkf."""
    if cv == "logo":
        return [(0, i, p) for i, p in enumerate(PARTICIPANTS)]
    return [(r, f, "") for r in range(REPEATS) for f in range(FOLDS)]


def _fold_scores(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for label in LABELS:
        for cv in CV_OF_LABEL[label]:
            for protocol in PROTOCOLS:
                for repeat, fold, _pcode in _units(cv):
                    for model in MODELS:
                        auc = BASE_AUC[label][model] + (HYBRID_GAIN if protocol == "hybrid" and model != "dummy" else 0.0)
                        auc = float(np.clip(auc + rng.normal(0, 0.03 if model != "dummy" else 0.0), 0, 1))
                        f1 = float(np.clip(auc - 0.06 + rng.normal(0, 0.02), 0, 1)) if model != "dummy" else 0.4
                        brier = float(0.25 - 0.4 * (auc - 0.5) ** 2 + abs(rng.normal(0, 0.005)))
                        rows.append({
                            "label": label, "cv": cv, "protocol": protocol, "repeat": repeat, "fold": fold, "model": model,
                            "n_train": 1400 if cv == "sgkf" else 1600, "n_test": 350 if cv == "sgkf" else 200,
                            "n_test_participants": 2 if cv == "sgkf" else 1,
                            "roc_auc": auc, "f1_macro": f1, "balanced_accuracy": (auc + f1) / 2, "brier": brier,
                            "log_loss": -math.log(1 - brier) * 3, "ece": float(abs(rng.normal(0.06, 0.02))),
                        })
    return pd.DataFrame(rows)


def _summary(fold: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (label, cv, protocol, model), part in fold.groupby(["label", "cv", "protocol", "model"], sort=False):
        for metric in METRICS:
            values = part[metric].to_numpy(dtype=float)
            mean, sd = float(values.mean()), float(values.std(ddof=1))
            half = 2.0 * sd * math.sqrt(1 / len(values) + (0.25 if cv == "sgkf" else 0.0))
            rows.append({"label": label, "cv": cv, "protocol": protocol, "model": model, "metric": metric, "mean": mean,
                         "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "interval": INTERVAL[cv],
                         "n_units": len(values), "n_excluded": 0})
    return pd.DataFrame(rows)


def best_model(summary: pd.DataFrame, label: str, cv: str, protocol: str) -> str:
    """The schema's best model: highest mean roc_auc among non-dummy models."""
    part = summary[(summary["label"] == label) & (summary["cv"] == cv) & (summary["protocol"] == protocol)
                   & (summary["metric"] == "roc_auc") & (summary["model"] != "dummy")]
    return str(part.loc[part["mean"].idxmax(), "model"])


def _comparisons(fold: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (label, cv, protocol), part in fold.groupby(["label", "cv", "protocol"], sort=False):
        best = best_model(summary, label, cv, protocol)
        by_model = {m: g["roc_auc"].to_numpy(dtype=float) for m, g in part.groupby("model")}
        for role, versus_of in (("vs_dummy", lambda m: "dummy"), ("vs_best", lambda m: best)):
            batch = []
            for model in MODELS:
                versus = versus_of(model)
                if model == "dummy" or model == versus:
                    continue
                diffs = by_model[model] - by_model[versus]
                sd = float(diffs.std(ddof=1)) or 1e-9
                statistic = float(diffs.mean() / (sd * math.sqrt(1 / len(diffs) + 0.25)))
                p_value = float(math.erfc(abs(statistic) / math.sqrt(2)))  # normal approximation: plausible, not exact
                half = 2 * sd * math.sqrt(1 / len(diffs) + 0.25)
                batch.append({"label": label, "cv": cv, "protocol": protocol, "metric": "roc_auc", "model": model,
                              "versus": versus, "role": role, "mean_difference": float(diffs.mean()),
                              "ci_low": float(diffs.mean() - half), "ci_high": float(diffs.mean() + half),
                              "statistic": statistic, "p_value": p_value, "test": PAIRED_TEST[cv],
                              "n_units": len(diffs), "n_excluded": 0})
            adjusted = holm([r["p_value"] for r in batch])
            for row, p_holm in zip(batch, adjusted):
                row["p_holm"] = float(p_holm)
                row["significant"] = bool(p_holm < 0.05)
            rows += batch
    return pd.DataFrame(rows)


def _omnibus(fold: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (label, cv, protocol), part in fold.groupby(["label", "cv", "protocol"], sort=False):
        wide = part.pivot_table(index=["repeat", "fold"], columns="model", values="roc_auc")
        ranks = wide.rank(axis=1, ascending=False).mean()
        for model in MODELS:
            rows.append({"label": label, "cv": cv, "protocol": protocol, "metric": "roc_auc",
                         "omnibus_test": "Friedman test", "omnibus_p": 0.0004 if label == "attention" else 0.031,
                         "posthoc_test": "Nemenyi test", "critical_difference": 1.93 if cv == "sgkf" else 2.16,
                         "model": model, "mean_rank": float(ranks[model]),
                         "meanrank_group": "a" if ranks[model] < 3 else "b"})
    return pd.DataFrame(rows)


def _calibration_and_reliability(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    cal, rel = [], []
    edges = np.linspace(0, 1, 11)
    for label in LABELS:
        for cv in CV_OF_LABEL[label]:
            for model in MODELS:
                for variant, ece in (("raw", 0.08), ("sigmoid", 0.035), ("isotonic", 0.03)):
                    ece = ece + float(abs(rng.normal(0, 0.005)))
                    cal.append({"label": label, "cv": cv, "model": model, "variant": variant, "brier": 0.24 - ece / 10,
                                "log_loss": 0.67 - ece / 5, "ece": ece, "n_bins": 10, "n": 1750})
                    for b in range(10):
                        lower, upper = float(edges[b]), float(edges[b + 1])
                        n = 0 if b in (0, 9) else int(rng.integers(20, 300))  # empty end bins, as the schema allows
                        mean_predicted = (lower + upper) / 2 if n else math.nan
                        skew = 0.15 if variant == "raw" else 0.03
                        fraction = float(np.clip(0.5 + (mean_predicted - 0.5) * (1 - skew * 4) + rng.normal(0, 0.02), 0, 1)) if n else math.nan
                        rel.append({"label": label, "cv": cv, "model": model, "variant": variant, "bin": b, "lower": lower,
                                    "upper": upper, "n": n, "mean_predicted": mean_predicted, "fraction_positive": fraction})
    return pd.DataFrame(cal), pd.DataFrame(rel)


def _personalization(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for label in LABELS:
        for cv in CV_OF_LABEL[label]:
            for model in MODELS:
                def mean(protocol: str) -> float:
                    row = summary[(summary["label"] == label) & (summary["cv"] == cv) & (summary["protocol"] == protocol)
                                  & (summary["model"] == model) & (summary["metric"] == "roc_auc")]
                    return float(row["mean"].item())

                population, hybrid = mean("population"), mean("hybrid")
                gain = hybrid - population
                rows.append({"label": label, "cv": cv, "model": model, "metric": "roc_auc", "population_mean": population,
                             "hybrid_mean": hybrid, "gain": gain, "ci_low": gain - 0.02, "ci_high": gain + 0.02,
                             "p_value": 0.002 if model != "dummy" else 1.0, "test": PAIRED_TEST[cv],
                             "n_units": REPEATS * FOLDS if cv == "sgkf" else len(PARTICIPANTS), "personal_labels": 10,
                             "participants_scored": len(PARTICIPANTS) - 1, "participants_excluded": 1})
    return pd.DataFrame(rows)


def _tuning(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for label in LABELS:
        for repeat, fold, _ in _units("sgkf"):
            params = {"learning_rate": round(float(rng.uniform(0.01, 0.2)), 4), "num_leaves": int(rng.integers(8, 64)),
                      "boosting_type": "gbdt"}
            rows.append({"label": label, "cv": "sgkf", "repeat": repeat, "fold": fold, "model": "lgbm-tuned",
                         "params": json.dumps(params), "inner_score": float(rng.uniform(0.55, 0.65)), "trials": 20})
    return pd.DataFrame(rows)


def _participant_scores(fold: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    logo = fold[fold["cv"] == "logo"]
    for _, row in logo.iterrows():
        rows.append({"label": row["label"], "cv": "logo", "protocol": row["protocol"], "repeat": 0, "fold": row["fold"],
                     "model": row["model"], "pcode": PARTICIPANTS[int(row["fold"])], "n": 200, "n_1": int(rng.integers(60, 140)),
                     "roc_auc": row["roc_auc"], "f1_macro": row["f1_macro"]})
    return pd.DataFrame(rows)


def _cd_png(path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2))
    ax.set_title(title)
    ax.plot([1, 5], [0, 0], color="black")
    fig.savefig(path, dpi=60)
    plt.close(fig)


def manifest(*, complete: bool = True) -> dict:
    return {
        "complete": complete,
        "settings": {"labels": list(LABELS), "cv": ["sgkf", "logo"], "repeats": REPEATS, "n_splits": FOLDS,
                     "models": [m for m in MODELS if not m.endswith("-tuned")], "protocols": list(PROTOCOLS),
                     "tune": 20, "personal_labels": 10},
        "inputs": {label: {"path": f"/data/features/{label}.parquet", "sha256": f"{i:x}" * 64} for i, label in enumerate(LABELS, 10)},
        "versions": {"kemo-attention": "0.1.0", "scikit-learn": "1.5.2", "autorank": "1.2.1"},
        "seeds": {"cv": 42, "models": 42, "tuning": 42},
        "timings": {"total_seconds": 1234.5},
        "tests": dict(TESTS),
    }


def write_study_folder(root: Path, seed: int = 3) -> Path:
    """Write every table of the schema, the CD diagrams of ``attention`` and the manifest under ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    fold = _fold_scores(rng)
    summary = _summary(fold)
    calibration, reliability = _calibration_and_reliability(rng)
    tables = {
        "fold_scores": fold,
        "participant_scores": _participant_scores(fold, rng),
        "summary": summary,
        "comparisons": _comparisons(fold, summary),
        "omnibus": _omnibus(fold),
        "calibration": calibration,
        "reliability": reliability,
        "personalization": _personalization(summary),
        "tuning": _tuning(rng),
    }
    for name, table in tables.items():
        table.to_csv(root / f"{name}.csv", index=False)
    plots = root / "plots" / "attention"
    plots.mkdir(parents=True, exist_ok=True)
    for cv in CV_OF_LABEL["attention"]:
        _cd_png(plots / f"cd_{cv}_roc_auc.png", f"attention {cv}")
    (root / "manifest.json").write_text(json.dumps(manifest(), indent=2), encoding="utf-8")
    return root
