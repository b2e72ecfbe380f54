"""One evaluation run: every model on the same grouped folds, one task per (model, fold).

The dataset travels to the workers once (``Executor.map(shared=...)``: Ray's object store,
or each local process's initializer); a task gets only (model name, fold number, training
rows, test rows), fits the pipeline on the training rows, and returns probabilities for the
test and training rows plus the selected features and their importances. Metrics are
computed here from those probabilities, so every backend gives the same numbers.

The output folder is written into a hidden temporary folder beside the target and renamed
into place only when complete (``manifest.json`` with ``"complete": true`` is written last);
an existing folder is replaced only after the new one is complete. Nothing is printed here.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections import OrderedDict
from typing import Any, Iterable

import numpy as np
import pandas as pd

from kemo_attention.compute import Executor
from kemo_attention.config import DECISION_THRESHOLD
from kemo_attention.dataset import Dataset
from kemo_attention.errors import DataError, KemoError
from kemo_attention.evaluate.metrics import binary_metrics, participant_metrics, predict_labels
from kemo_attention.evaluate.splits import make_splits
from kemo_attention.models.zoo import MODEL_NAMES


# ---------------------------------------------------------------------------- the task
# The scale + select steps are the same for every model of a fold (same parameters, same
# training rows), and on the release's 3,356 columns they cost as much as fitting most
# models. Each worker process therefore keeps the fitted front of its most recent folds,
# keyed by the run's id and the fold, and reuses it for the other models of that fold.
# Fitting is deterministic, so a reused front is identical to a refitted one (the
# backend-equality test checks this). Items are ordered fold by fold to make hits likely.
_FRONT_CACHE: "OrderedDict[tuple[str, int], tuple]" = OrderedDict()
_FRONT_CACHE_SIZE = 2
_COST_ORDER = ("evxgb", "voting", "rf", "lgbm", "logreg", "dummy")  # slowest first (bench/bench_evaluate.py)


def _fit_front(front, X_train, y_train):
    """Fit scale + select on the training rows; return the selected training matrix."""
    return front.fit_transform(X_train, y_train)


def _front_for_fold(fold, train_idx, test_idx, X, y, settings):
    """(scale, select, selected training rows, selected test rows, seconds spent fitting)."""
    from kemo_attention.models.zoo import FRONT_STEPS, make_pipeline

    key = (settings["run_id"], int(fold))
    if key in _FRONT_CACHE:
        _FRONT_CACHE.move_to_end(key)
        return (*_FRONT_CACHE[key], 0.0)
    started = time.perf_counter()
    front = make_pipeline(
        "dummy",
        bool_columns=settings["bool_columns"],
        numeric_columns=settings["numeric_columns"],
        random_state=settings["seed"],
    )[:FRONT_STEPS]
    X_train = _fit_front(front, X.iloc[train_idx], y[train_idx])
    X_test = front.transform(X.iloc[test_idx])
    entry = (front.steps[0][1], front.steps[1][1], X_train, X_test)
    seconds = time.perf_counter() - started
    _FRONT_CACHE[key] = entry
    while len(_FRONT_CACHE) > _FRONT_CACHE_SIZE:
        _FRONT_CACHE.popitem(last=False)
    return (*entry, seconds)


def fit_fold(item, X, y, groups, settings) -> dict[str, Any]:
    """Fit one model on one fold's training rows; score nothing (the parent does).

    ``item`` = (model name, fold number, train indices, test indices).
    """
    from threadpoolctl import threadpool_limits

    from kemo_attention.models.zoo import (
        FRONT_STEPS,
        feature_importances,
        fit_pipeline,
        make_pipeline,
        selected_features,
    )

    model, fold, train_idx, test_idx = item
    caught_messages: list[str] = []
    # One BLAS thread on every backend: same arithmetic in the parent (serial) as in workers.
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe = make_pipeline(
            model,
            bool_columns=settings["bool_columns"],
            numeric_columns=settings["numeric_columns"],
            oversample=settings["oversample"],
            random_state=settings["seed"],
            fast=settings.get("fast", False),
        )
        scale, select, X_train, X_test, front_seconds = _front_for_fold(fold, train_idx, test_idx, X, y, settings)
        pipe.steps[0] = (pipe.steps[0][0], scale)
        pipe.steps[1] = (pipe.steps[1][0], select)
        tail = pipe[FRONT_STEPS:]  # shares its step objects with pipe: fitting it fits pipe
        started = time.perf_counter()
        fit_pipeline(tail, X_train, y[train_idx], groups[train_idx])
        fit_seconds = time.perf_counter() - started
        col = list(pipe.classes_).index(1)
        proba_test = np.asarray(tail.predict_proba(X_test)[:, col], dtype=np.float64)
        proba_train = np.asarray(tail.predict_proba(X_train)[:, col], dtype=np.float64)
        features = selected_features(pipe)
        importances = np.asarray(feature_importances(pipe), dtype=np.float64)
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
        if text not in caught_messages:
            caught_messages.append(text)
    last = pipe.steps[-1][1]
    return {
        "model": model,
        "fold": int(fold),
        "proba_test": proba_test,
        "proba_train": proba_train,
        "features": features,
        "importances": importances,
        "fit_seconds": fit_seconds,
        "front_seconds": front_seconds,
        "selector_fallback": bool(getattr(select, "fallback_used_", False)),
        # EvXGB: rounds the fitted model uses and rounds built before early stopping ended it
        "boosting_rounds": _boosting_rounds(last) if model == "evxgb" else None,
        "warnings": caught_messages,
    }


def _boosting_rounds(estimator) -> dict[str, Any]:
    return {
        "used": int(estimator.n_rounds_),
        "trained": int(estimator.n_rounds_trained_),
        "inner_split": str(estimator.inner_split_),
    }


# ---------------------------------------------------------------------------- checks
def normalise_models(models: Iterable[str] | str) -> list[str]:
    """Validated model names in MODEL_NAMES order, "all" expanded, dummy always added."""
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    models = list(models)
    if models == ["all"] or not models:
        return list(MODEL_NAMES)
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        raise KemoError(f"unknown model(s) {', '.join(map(repr, unknown))}; choose from all, {', '.join(MODEL_NAMES)}")
    wanted = set(models) | {"dummy"}
    return [m for m in MODEL_NAMES if m in wanted]


def check_dataset(dataset: Dataset, source: str | None = None) -> None:
    """Refuse data the models cannot use, naming the column and row."""
    where = source or str(dataset.meta.get("source", "dataset"))
    X = dataset.X
    if X.shape[1] == 0:
        raise DataError("X has no feature columns", file=where)
    if X.columns.duplicated().any():
        dup = X.columns[X.columns.duplicated()][0]
        raise DataError("feature names must be unique; this one appears more than once", file=where, column=str(dup))
    for col in X.columns:
        dtype = X[col].dtype
        if dtype != bool and not pd.api.types.is_numeric_dtype(dtype):
            raise DataError(f"expected a numeric or bool feature; got dtype {dtype}", file=where, column=str(col))
    numeric = X.select_dtypes(exclude=["bool"])
    if numeric.shape[1]:
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            row, j = np.argwhere(bad)[0]
            raise DataError(
                f"expected a finite number; got {float(values[row, j])!r} ({int(bad.sum())} non-finite values in X; "
                "fill or drop them before evaluating)",
                file=where,
                row=int(row),
                column=str(numeric.columns[j]),
            )
    classes = np.unique(dataset.y)
    if classes.shape[0] < 2:
        raise DataError(f"y holds only class {classes.tolist()}; evaluation needs both 0 and 1", file=where)


# ---------------------------------------------------------------------------- the run
def run_evaluation(
    dataset: Dataset,
    out_dir,
    *,
    models=MODEL_NAMES,
    cv: str = "sgkf",
    n_splits: int = 5,
    oversample: bool = False,
    executor: Executor | None = None,
    seed: int = 42,
    input_path=None,
    fast: bool = False,
) -> pd.DataFrame:
    """Evaluate ``models`` on grouped folds of ``dataset`` and write ``out_dir``.

    Parameters
    ----------
    dataset : the samples (``group`` = participant)
    out_dir : output folder (replaced atomically when it exists)
    models : names from MODEL_NAMES or "all"; "dummy" is always added
    cv, n_splits, seed : see :func:`kemo_attention.evaluate.splits.make_splits`
    oversample : SMOTE/SMOTENC on every training fold after selection
    executor : where the (model, fold) tasks run (default: serial, no progress bar)
    input_path : the file the dataset came from (hashed into the manifest)
    fast : fewer trees, for tests (recorded in the manifest)

    Returns
    -------
    The leaderboard (one row per model, sorted by f1_macro_mean descending).
    """
    from kemo_attention.evaluate import report

    started = time.perf_counter()
    model_list = normalise_models(models)
    check_dataset(dataset, str(input_path) if input_path else None)
    folds = make_splits(dataset.y, dataset.group, cv=cv, n_splits=n_splits, seed=seed)
    for k, (tr, _) in enumerate(folds):
        if np.unique(dataset.y[tr]).shape[0] < 2:
            raise KemoError(f"fold {k}: the training rows hold only one class; the models need both")
    executor = executor or Executor("serial", progress=False)

    X = dataset.X
    settings = {
        "bool_columns": dataset.bool_columns,
        "numeric_columns": dataset.numeric_columns,
        "oversample": bool(oversample),
        "seed": int(seed),
        "fast": bool(fast),
        "run_id": uuid.uuid4().hex,  # keys the per-worker cache of fitted scale + select steps
    }
    # Fold by fold, so that a worker's cached front serves the other models of its fold;
    # within a fold the slowest models first, so no long task is left alone at the end.
    by_cost = sorted(model_list, key=_COST_ORDER.index)
    items = [(m, k, tr, te) for k, (tr, te) in enumerate(folds) for m in by_cost]
    names = [f"{m}/fold{k}" for m, k, _, _ in items]
    tasks_started = time.perf_counter()
    results = executor.map(
        fit_fold,
        items,
        shared={"X": X, "y": dataset.y, "groups": dataset.group, "settings": settings},
        desc=f"evaluate {len(model_list)} models x {len(folds)} folds",
        names=names,
    )
    tasks_seconds = time.perf_counter() - tasks_started
    rank = {m: i for i, m in enumerate(model_list)}
    results.sort(key=lambda r: (rank[r["model"]], r["fold"]))  # tables read model by model

    tables = collect_tables(dataset, folds, results)
    timings = {
        "tasks_wall_s": round(tasks_seconds, 3),
        "fit_s_by_model": {
            m: round(sum(r["fit_seconds"] for r in results if r["model"] == m), 3) for m in model_list
        },
        # scale + select fits (once per fold and worker; the models of a fold share them)
        "front_fit_s": round(sum(r["front_seconds"] for r in results), 3),
    }
    run_info = {
        "models": model_list,
        "cv": cv,
        "n_splits": int(n_splits) if cv == "sgkf" else len(folds),
        "n_folds": len(folds),
        "seed": int(seed),
        "oversample": bool(oversample),
        "backend": executor.backend,
        "workers": executor.workers,
        **({"ray_nodes": executor.nodes_used} if executor.backend == "ray" else {}),
        "fast": bool(fast),
        "prediction_threshold": DECISION_THRESHOLD,
    }
    notes = {
        "selector_fallbacks": [f"{r['model']}/fold{r['fold']}" for r in results if r["selector_fallback"]],
        "warnings": sorted({w for r in results for w in r["warnings"]}),
        # per EvXGB fold: rounds used (best round + 1), rounds built, kind of inner split
        "boosting_rounds": {
            f"{r['model']}/fold{r['fold']}": r["boosting_rounds"] for r in results if r["boosting_rounds"] is not None
        },
    }
    report.write_run_folder(
        out_dir,
        dataset=dataset,
        tables=tables,
        run_info=run_info,
        timings=timings,
        notes=notes,
        input_path=input_path,
        started=started,
    )
    return tables["leaderboard"]


def collect_tables(dataset: Dataset, folds, results) -> dict[str, pd.DataFrame]:
    """Turn task results into the run's tables (fold metrics, OOF, features, participants)."""
    from kemo_attention.evaluate.report import leaderboard, prompt_times

    y, groups = dataset.y, dataset.group
    times = prompt_times(dataset)
    metric_rows, oof_parts, feature_rows, participant_rows = [], [], [], []
    for r in results:
        tr, te = folds[r["fold"]]
        key = {"model": r["model"], "fold": r["fold"]}
        rounds = {"boosting_rounds": (r.get("boosting_rounds") or {}).get("used")}
        metric_rows.append({**key, "split": "train", **binary_metrics(y[tr], r["proba_train"]), **rounds})
        metric_rows.append({**key, "split": "test", **binary_metrics(y[te], r["proba_test"]), **rounds})
        oof_parts.append(
            pd.DataFrame(
                {
                    "model": r["model"],
                    "fold": r["fold"],
                    "sample": te,
                    "pcode": groups[te],
                    "prompt_time": times.iloc[te].reset_index(drop=True),
                    "y_true": y[te],
                    "proba": r["proba_test"],
                    "y_pred": predict_labels(r["proba_test"]),
                }
            )
        )
        for feature, importance in zip(r["features"], r["importances"]):
            feature_rows.append({**key, "feature": feature, "importance": float(importance)})
        for row in participant_metrics(y[te], r["proba_test"], groups[te]):
            participant_rows.append({**key, **row})

    # results come in item order (model, then fold) and train precedes test: no sorting needed
    fold_metrics = pd.DataFrame(metric_rows)
    # rounds the fold's EvXGB model used; empty for the other models
    fold_metrics["boosting_rounds"] = fold_metrics["boosting_rounds"].astype("Int64")
    oof = pd.concat(oof_parts, ignore_index=True)
    oof["fold"] = oof["fold"].astype("int64")
    oof["sample"] = oof["sample"].astype("int64")
    oof["y_true"] = oof["y_true"].astype("int64")
    oof["y_pred"] = oof["y_pred"].astype("int64")
    features = pd.DataFrame(feature_rows, columns=["model", "fold", "feature", "importance"])
    participants = pd.DataFrame(
        participant_rows,
        columns=["model", "fold", "pcode", "n", "n_1", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc"],
    )
    return {
        "fold_metrics": fold_metrics,
        "leaderboard": leaderboard(fold_metrics),
        "oof": oof,
        "selected_features": features,
        "participant_scores": participants,
    }
