"""The run's PNG plots (matplotlib, Agg: no display needed).

* ``roc.png`` / ``pr.png``: out-of-fold curves per model, pooled over folds (PR for class 1,
  with its chance level);
* ``confusion.png``: one pooled out-of-fold confusion matrix per model (counts and row %);
* ``top_features.png``: the best non-dummy model (by mean test macro F1): its 20 features
  with the largest mean |importance| across folds (a fold that did not select a feature
  counts 0), labelled with how many folds selected each;
* ``participants.png``: spread of per-participant macro F1 (inside every outer fold) per
  model, as box plots; participants with one class (macro F1 undefined) are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def write_plots(folder, tables: dict[str, pd.DataFrame]) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    oof = tables["oof"]
    models = list(dict.fromkeys(oof["model"]))
    return [
        roc_plot(oof, models, folder / "roc.png"),
        pr_plot(oof, models, folder / "pr.png"),
        confusion_plot(oof, models, folder / "confusion.png"),
        top_features_plot(tables["selected_features"], tables["leaderboard"], tables["fold_metrics"], folder / "top_features.png"),
        participants_plot(tables["participant_scores"], models, folder / "participants.png"),
    ]


def _save(fig, path: Path) -> Path:
    plt = _plt()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def roc_plot(oof: pd.DataFrame, models, path: Path) -> Path:
    from kemo_attention.evaluate.metrics import roc_auc, roc_points

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
    for m in models:
        part = oof[oof["model"] == m]
        if part["y_true"].nunique() < 2:
            continue
        fpr, tpr = roc_points(part["y_true"], part["proba"])
        ax.plot(fpr, tpr, label=f"{m} (AUC {roc_auc(part['y_true'], part['proba']):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, out-of-fold (pooled)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def pr_plot(oof: pd.DataFrame, models, path: Path) -> Path:
    from kemo_attention.evaluate.metrics import average_precision, pr_points

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
    chance = None
    for m in models:
        part = oof[oof["model"] == m]
        if part["y_true"].sum() == 0:
            continue
        recall, precision = pr_points(part["y_true"], part["proba"])
        ap = average_precision(part["y_true"], part["proba"])
        ax.step(recall, precision, where="pre", label=f"{m} (AP {ap:.3f})")
        chance = float(part["y_true"].mean())
    if chance is not None:
        ax.axhline(chance, ls="--", color="grey", lw=1, label=f"chance ({chance:.2f})")
    ax.set(xlabel="recall (class 1)", ylabel="precision (class 1)", title="Precision-recall, out-of-fold (pooled)", ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def confusion_plot(oof: pd.DataFrame, models, path: Path) -> Path:
    plt = _plt()
    n = len(models)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False, layout="constrained")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, m in zip(axes.ravel(), models):
        part = oof[oof["model"] == m]
        cm = np.zeros((2, 2), dtype=int)
        for t in (0, 1):
            for p in (0, 1):
                cm[t, p] = int(((part["y_true"] == t) & (part["y_pred"] == p)).sum())
        row_share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(row_share, cmap="Blues", vmin=0, vmax=1)
        for t in (0, 1):
            for p in (0, 1):
                ax.text(p, t, f"{cm[t, p]}\n{row_share[t, p]:.0%}", ha="center", va="center",
                        color="white" if row_share[t, p] > 0.6 else "black", fontsize=9)
        ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="true", title=m)
    fig.suptitle("Confusion matrices, out-of-fold (pooled)")
    return _save(fig, path)


def _best_model(leaderboard: pd.DataFrame) -> str | None:
    for m in leaderboard["model"]:
        if m != "dummy":
            return str(m)
    return None


def top_features_plot(features: pd.DataFrame, leaderboard: pd.DataFrame, fold_metrics: pd.DataFrame, path: Path, top: int = 20) -> Path:
    plt = _plt()
    best = _best_model(leaderboard)
    n_folds = int(fold_metrics["fold"].nunique()) if len(fold_metrics) else 0
    part = features[features["model"] == best] if best else features.iloc[0:0]
    fig, ax = plt.subplots(figsize=(8, 6.5), layout="constrained")
    if part.empty or part["importance"].isna().all():
        ax.text(0.5, 0.5, "no model with feature importances in this run", ha="center", va="center")
        ax.axis("off")
        return _save(fig, path)
    magnitude = part.assign(importance=part["importance"].abs())
    summary = magnitude.groupby("feature").agg(total=("importance", "sum"), folds=("fold", "nunique"))
    summary["mean"] = summary["total"] / max(n_folds, 1)
    summary = summary.sort_values(["mean", "folds"], ascending=False).head(top)[::-1]
    bars = ax.barh(range(len(summary)), summary["mean"], color="#4c72b0")
    ax.set_yticks(range(len(summary)), summary.index, fontsize=7)
    for bar, k in zip(bars, summary["folds"]):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {k}/{n_folds}", va="center", fontsize=7)
    ax.set(xlabel="mean |importance| across folds (0 where not selected)",
           title=f"Top features: {best} (label = folds that selected it)")
    return _save(fig, path)


def participants_plot(scores: pd.DataFrame, models, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(models) + 2), 4.5), layout="constrained")
    data, labels = [], []
    for m in models:
        values = scores.loc[scores["model"] == m, "f1_macro"].dropna().to_numpy()
        data.append(values if values.size else np.array([np.nan]))
        labels.append(f"{m}\n(n={values.size})")
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    ax.set(ylabel="macro F1 per participant", ylim=(0, 1), title="Per-participant macro F1 (test folds)")
    return _save(fig, path)
