"""One evaluation run: every model on the same grouped folds, one task per fold.

The dataset travels to the workers once (``Executor.map(shared=...)``: Ray's object store,
or each local process's initializer); a task gets only (fold number, model names, training
rows, test rows), fits the fold's scale + select front once and every model behind it on
the training rows (the voting model from its already fitted members), and returns, per
model, probabilities for the test and training rows plus the selected features and their
importances. Metrics are computed here from those probabilities, so every backend gives
the same numbers.

The output folder is written into a hidden temporary folder beside the target and renamed
into place only when complete (``manifest.json`` with ``"complete": true`` is written last);
an existing folder is replaced only after the new one is complete. Nothing is printed here.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Iterable

import numpy as np
import pandas as pd

from kemo_attention.compute import Executor, default_workers
from kemo_attention.config import DECISION_THRESHOLD
from kemo_attention.dataset import Dataset
from kemo_attention.errors import DataError, KemoError
from kemo_attention.evaluate.metrics import binary_metrics, participant_metrics, predict_labels
from kemo_attention.evaluate.splits import make_splits
from kemo_attention.models.zoo import MODEL_NAMES, VOTING_MEMBERS, same_settings


# ---------------------------------------------------------------------------- the task
# A task fits several models of ONE fold: by default every model of the run (see
# _model_groups). What those models have in common is fitted once per task, because it is
# the same computation with the same settings on the same rows, and fitting is
# deterministic, so sharing it changes no number (tests/evaluate/test_shared_fits.py
# compares with fitting each pipeline on its own):
#
# * the front (scale + select): on the release's 3,356 columns about 1 s per fold, as much
#   as fitting a whole model;
# * the voting model's members: soft voting is the mean of the predict_proba of logreg, rf
#   and lgbm, which the same fold has just fitted on the same selected rows with the same
#   settings; ``soft_voting_from_fitted`` builds the fitted VotingClassifier from them.
# Order of fitting within a task: the voting model after its members (it reuses them).
_FIT_ORDER = ("evxgb", "rf", "lgbm", "logreg", "voting", "dummy")


def _model_groups(models: list[str], n_folds: int, workers: int) -> list[tuple[str, ...]]:
    """How a fold's models are split into tasks (each group fits its own copy of the front).

    One group per fold when there are folds enough to keep every worker busy (at least two
    per worker); with fewer folds (5-fold CV on many cores) two groups per fold: the voting
    model with its members (it reuses them), and the rest.
    """
    ordered = sorted(models, key=_FIT_ORDER.index)
    if n_folds >= 2 * workers:
        return [tuple(ordered)]
    family = {"voting", *VOTING_MEMBERS} if "voting" in models else set()
    groups = [tuple(m for m in ordered if m in family), tuple(m for m in ordered if m not in family)]
    return [g for g in groups if g]


def _fit_front(front, X_train, y_train):
    """Fit scale + select on the training rows; return the selected training matrix."""
    return front.fit_transform(X_train, y_train)


def fit_front(train_idx, test_idx, X, y, settings):
    """The fold's fitted front: (scale, select, selected training rows, selected test rows, seconds).

    Fitted on the training rows only; the test rows are only transformed.
    """
    from kemo_attention.models.zoo import FRONT_STEPS, make_pipeline

    started = time.perf_counter()
    front = make_pipeline(
        "dummy",
        bool_columns=settings["bool_columns"],
        numeric_columns=settings["numeric_columns"],
        random_state=settings["seed"],
    )[:FRONT_STEPS]
    X_train = _fit_front(front, X.iloc[train_idx], y[train_idx])
    X_test = front.transform(X.iloc[test_idx])
    return front.steps[0][1], front.steps[1][1], X_train, X_test, time.perf_counter() - started


def fit_fold(item, X, y, groups, settings) -> dict[str, Any]:
    """Fit a group of models on one fold's training rows; score nothing (the parent does).

    ``item`` = (fold number, model names, train indices, test indices). Returns the fold,
    the seconds spent fitting its front and one result per model, in the order given.
    """
    from threadpoolctl import threadpool_limits

    fold, models, train_idx, test_idx = item
    # One BLAS thread on every backend: same arithmetic in the parent (serial) as in workers.
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scale, select, X_train, X_test, front_seconds = fit_front(train_idx, test_idx, X, y, settings)
    front_warnings = _messages(caught)
    fitted: dict[str, Any] = {}  # model name -> its fitted pipeline, for the voting model
    results = []
    for model in models:
        try:
            results.append(
                fit_model(model, scale, select, X_train, X_test, y[train_idx], groups[train_idx], settings, fitted)
            )
        except KemoError:
            raise
        except Exception as exc:  # name the model: a task holds several
            raise RuntimeError(f"{model}: {type(exc).__name__}: {exc}") from exc
    return {"fold": int(fold), "front_seconds": front_seconds, "front_warnings": front_warnings, "models": results}


def fit_model(model, scale, select, X_train, X_test, y_train, groups_train, settings, fitted) -> dict[str, Any]:
    """Fit one model's pipeline behind the fold's fitted front; its probabilities and features.

    ``fitted`` holds the pipelines this fold has fitted so far (the voting model reuses its
    members from it) and gets this one added.
    """
    from threadpoolctl import threadpool_limits

    from kemo_attention.models.zoo import (
        FRONT_STEPS,
        feature_importances,
        fit_pipeline,
        make_pipeline,
        selected_features,
        soft_voting_from_fitted,
    )

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
        pipe.steps[0] = (pipe.steps[0][0], scale)
        pipe.steps[1] = (pipe.steps[1][0], select)
        tail = pipe[FRONT_STEPS:]  # shares its step objects with pipe: fitting it fits pipe
        started = time.perf_counter()
        members = [fitted.get(m) for m in VOTING_MEMBERS]
        reused = model == "voting" and all(p is not None for p in members)
        if reused:
            # the members' fitted steps between the front and the estimator (to_array, and the
            # sampler when oversampling) are the voting pipeline's, fitted on the same rows
            for i, (name, step) in enumerate(tail.steps[:-1]):
                tail.steps[i] = (name, _same_step(step, members[0][FRONT_STEPS:].steps[i], name))
            voting = soft_voting_from_fitted(
                tail.steps[-1][1], {m: p.steps[-1][1] for m, p in zip(VOTING_MEMBERS, members)}, y_train
            )
            tail.steps[-1] = (tail.steps[-1][0], voting)
        else:
            fit_pipeline(tail, X_train, y_train, groups_train)
        fit_seconds = time.perf_counter() - started
        fitted[model] = pipe
        col = list(pipe.classes_).index(1)
        proba_test = np.asarray(tail.predict_proba(X_test)[:, col], dtype=np.float64)
        proba_train = np.asarray(tail.predict_proba(X_train)[:, col], dtype=np.float64)
        features = selected_features(pipe)
        importances = np.asarray(feature_importances(pipe), dtype=np.float64)
    last = pipe.steps[-1][1]
    return {
        "model": model,
        "proba_test": proba_test,
        "proba_train": proba_train,
        "features": features,
        "importances": importances,
        "fit_seconds": fit_seconds,
        "reused_members": reused,
        "selector_fallback": bool(getattr(select, "fallback_used_", False)),
        # EvXGB: rounds the fitted model uses and rounds built before early stopping ended it
        "boosting_rounds": _boosting_rounds(last) if model == "evxgb" else None,
        "warnings": _messages(caught),
    }


def _same_step(unfitted, member_step, name):
    """The member's fitted step, after checking it is the step the voting pipeline would fit."""
    member_name, fitted = member_step
    if member_name != name or not same_settings(fitted, unfitted):
        raise RuntimeError(f"voting: its {name!r} step differs from its members'; cannot reuse their fits")
    return fitted


def _messages(caught) -> list[str]:
    messages: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
        if text not in messages:
            messages.append(text)
    return messages


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
    }
    # Fold by fold (the items' order is the order the tasks start in).
    workers = 1 if executor.backend == "serial" else (executor.workers or default_workers())
    model_groups = _model_groups(model_list, len(folds), workers)
    items = [(k, group, tr, te) for k, (tr, te) in enumerate(folds) for group in model_groups]
    names = [f"fold{k}" + ("" if len(model_groups) == 1 else f" ({', '.join(g)})") for k, g, _, _ in items]
    tasks_started = time.perf_counter()
    task_results = executor.map(
        fit_fold,
        items,
        shared={"X": X, "y": dataset.y, "groups": dataset.group, "settings": settings},
        desc=f"evaluate {len(model_list)} models x {len(folds)} folds",
        names=names,
    )
    tasks_seconds = time.perf_counter() - tasks_started
    results = [{**r, "fold": t["fold"]} for t in task_results for r in t["models"]]
    rank = {m: i for i, m in enumerate(model_list)}
    results.sort(key=lambda r: (rank[r["model"]], r["fold"]))  # tables read model by model

    tables = collect_tables(dataset, folds, results)
    timings = {
        "tasks_wall_s": round(tasks_seconds, 3),
        "fit_s_by_model": {
            m: round(sum(r["fit_seconds"] for r in results if r["model"] == m), 3) for m in model_list
        },
        # scale + select: fitted once per task (a task = the models of one fold, or a group of them)
        "front_fit_s": round(sum(t["front_seconds"] for t in task_results), 3),
        "front_fits": len(task_results),
        # folds whose voting model was assembled from the fold's fitted logreg, rf and lgbm
        "voting_folds_reusing_members": sum(bool(r["reused_members"]) for r in results if r["model"] == "voting"),
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
        "warnings": sorted({w for r in results for w in r["warnings"]} | {w for t in task_results for w in t["front_warnings"]}),
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
