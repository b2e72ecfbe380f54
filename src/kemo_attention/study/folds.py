"""One fold of a study: every model (fixed, tuned, calibrated) fitted on one outer training side.

A study runs many folds: labels x cross-validations x repeats x folds. Each is one task on the
executor (:func:`study_fold`), and each finished task is written to the study's fold store by the
worker itself (:class:`FoldStore`), so Ctrl-C loses only the folds in flight and a rerun resumes
with identical numbers (fitting is deterministic).

What a task fits, all on the outer training rows only:

* the fold's scale + select front, once, and every model of the zoo behind it
  (:func:`kemo_attention.evaluate.runner.fit_front` / ``fit_model``: the code ``evaluate`` runs);
* with tuning, each tunable model's parameters chosen by Optuna on participant-grouped inner folds
  of the training side (:func:`kemo_attention.models.tuning.tune_model`), then that model refitted
  behind the same front;
* with calibration, each model's probabilities on participant-grouped inner folds of the training
  side (front and model refitted per inner fold), from which a calibrator is fitted and applied
  to the outer test probabilities.

The outer test rows are only ever predicted. Personalization needs no fit here: it recalibrates
these population probabilities per person afterwards (:mod:`kemo_attention.models.personalize`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FoldTask:
    """What travels to a worker: which data, which rows, and where to store the result."""

    label: str
    cv: str  # "sgkf" | "logo"
    repeat: int
    fold: int
    train_idx: np.ndarray
    test_idx: np.ndarray
    store: str  # the fold store's folder

    @property
    def key(self) -> str:
        return f"{self.label}-{self.cv}-r{self.repeat}-f{self.fold}"

    @property
    def name(self) -> str:
        return f"{self.label} {self.cv} repeat {self.repeat} fold {self.fold}"


class FoldStore:
    """Finished folds of one study set-up, one pickle per fold, written whole or not at all.

    The folder's name carries a hash of everything that changes a fit (input file hashes, models,
    folds, seeds, tuning, calibration, code version), so a rerun with other settings never
    reuses a fold fitted under different ones.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @staticmethod
    def fingerprint(settings: dict[str, Any]) -> str:
        text = json.dumps(settings, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.pkl"

    def load(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception:  # a damaged file is a fold to fit again, not an error
            return None

    def save(self, key: str, result: dict[str, Any]) -> None:
        from kemo_attention.files import atomic_write

        atomic_write(self.path(key), lambda f: pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL))


def study_fold(task: FoldTask, datasets, settings) -> dict[str, Any]:
    """Fit and predict one fold (module docstring); store the result and return it.

    ``datasets``: label -> (X, y, groups). ``settings``: the evaluation runner's settings plus
    ``models``, ``tune`` (trials, 0 = none), ``tune_models``, ``calibrate`` (method or None),
    ``calibrate_cvs`` and ``calibrate_repeats`` (which folds fit calibrated models), ``inner_splits``.
    """
    from threadpoolctl import threadpool_limits

    from kemo_attention.evaluate.runner import fit_front, fit_model

    X, y, groups, order = datasets[task.label]
    tr, te = task.train_idx, task.test_idx
    started = time.perf_counter()
    with threadpool_limits(1):
        scale, select, X_train, X_test, _ = fit_front(tr, te, X, y, settings)
    fitted: dict[str, Any] = {}
    proba: dict[str, np.ndarray] = {}
    for model in settings["models"]:
        result = fit_model(model, scale, select, X_train, X_test, y[tr], groups[tr], settings, fitted)
        proba[model] = result["proba_test"]

    tuning: list[dict[str, Any]] = []
    if settings["tune"] and settings["tune_models"]:
        from kemo_attention.models.tuning import prepare_inner_folds

        # the inner folds' fronts do not depend on the model: fitted once for every tuned model
        inner = prepare_inner_folds(X.iloc[tr], y[tr], groups[tr], settings=settings, seed=settings["seed"],
                                    inner_splits=settings["inner_splits"])  # fmt: skip
        for model in settings["tune_models"]:
            tuned_proba, record = _fit_tuned(model, X, y, groups, tr, scale, select, X_train, X_test, settings, inner)
            proba[record["model"]] = tuned_proba
            tuning.append(record)

    calibrated: dict[str, np.ndarray] = {}
    calibrators: dict[str, dict[str, Any]] = {}
    if settings["calibrate"] and task.cv in settings["calibrate_cvs"] and task.repeat < settings["calibrate_repeats"]:
        calibrated, calibrators = _calibrate(X, y, groups, tr, proba, settings)

    # hybrid by the rows method: each test participant's first K answers join the training side
    proba_rows = _fit_with_personal_rows(X, y, groups, order, tr, te, settings) if settings["personal_rows"] else {}

    result = {
        "key": task.key,
        "label": task.label,
        "cv": task.cv,
        "repeat": task.repeat,
        "fold": task.fold,
        "n_train": int(tr.shape[0]),
        "test_idx": te,
        "proba": proba,
        "calibrated": calibrated,
        "calibrators": calibrators,
        "tuning": tuning,
        "proba_rows": proba_rows,
        "seconds": time.perf_counter() - started,
    }
    FoldStore(Path(task.store)).save(task.key, result)
    return result


def _fit_with_personal_rows(X, y, groups, order, tr, te, settings) -> dict[str, np.ndarray]:
    """Every (fixed) model refitted on the training rows plus each test participant's first K
    answers; probabilities for the test rows, NaN on those K (they are never scored)."""
    from threadpoolctl import threadpool_limits

    from kemo_attention.evaluate.runner import fit_front, fit_model
    from kemo_attention.models.personalize import personal_split

    personal, scored = personal_split(np.asarray(groups[te]).astype(str), order[te], settings["personal_rows"])
    train = np.sort(np.concatenate([tr, te[personal]]))
    with threadpool_limits(1):
        scale, select, X_train, X_test, _ = fit_front(train, te, X, y, settings)
    fitted: dict[str, Any] = {}
    out = {}
    for model in settings["models"]:
        result = fit_model(model, scale, select, X_train, X_test, y[train], groups[train], settings, fitted)
        out[model] = np.where(scored, result["proba_test"], np.nan)
    return out


def _fit_tuned(model, X, y, groups, tr, scale, select, X_train, X_test, settings, inner):
    """Tune ``model`` on inner folds of the outer training rows, refit it behind the fold's front."""
    from threadpoolctl import threadpool_limits

    from kemo_attention.models.tuning import tune_model, tuned_name, tuned_pipeline
    from kemo_attention.models.zoo import FRONT_STEPS, fit_pipeline

    with threadpool_limits(1):
        tuned = tune_model(
            model, X.iloc[tr], y[tr], groups[tr], settings=settings, n_trials=settings["tune"],
            seed=settings["seed"], inner_splits=settings["inner_splits"], inner=inner,
        )  # fmt: skip
        pipe = tuned_pipeline(
            model, tuned.params, bool_columns=settings["bool_columns"], numeric_columns=settings["numeric_columns"],
            oversample=settings["oversample"], random_state=settings["seed"], fast=settings.get("fast", False),
        )  # fmt: skip
        pipe.steps[0] = (pipe.steps[0][0], scale)
        pipe.steps[1] = (pipe.steps[1][0], select)
        tail = pipe[FRONT_STEPS:]
        fit_pipeline(tail, X_train, y[tr], groups[tr])
        col = list(tail.classes_).index(1)
        proba = np.asarray(tail.predict_proba(X_test)[:, col], dtype=np.float64)
    record = {
        "model": tuned_name(model),
        "params": tuned.params,
        "inner_score": float(tuned.inner_score),
        "trials": int(tuned.trials),
    }
    return proba, record


def _calibrate(X, y, groups, tr, proba, settings):
    """Calibrated outer-test probabilities per model, from grouped inner folds of the training side.

    Per inner fold the front and every model are refitted on the inner training rows (as in an
    outer fold), so each training row's calibration input comes from models that never saw it.
    """
    from kemo_attention.evaluate.runner import fit_front, fit_model
    from kemo_attention.evaluate.splits import make_splits
    from kemo_attention.models.calibration import fit_calibrator
    from threadpoolctl import threadpool_limits

    models = [m for m in settings["models"] if m != "dummy"]
    y_tr, g_tr = y[tr], groups[tr]
    inner = make_splits(y_tr, g_tr, cv="sgkf", n_splits=settings["inner_splits"], seed=settings["seed"])
    oof = {m: np.full(tr.shape[0], np.nan) for m in models}
    for inner_tr, inner_te in inner:
        rows_tr, rows_te = tr[inner_tr], tr[inner_te]
        with threadpool_limits(1):
            scale, select, X_in, X_out, _ = fit_front(rows_tr, rows_te, X, y, settings)
        fitted: dict[str, Any] = {}
        for model in models:
            result = fit_model(model, scale, select, X_in, X_out, y[rows_tr], groups[rows_tr], settings, fitted)
            oof[model][inner_te] = result["proba_test"]
    calibrated, described = {}, {}
    for model in models:
        calibrator = fit_calibrator(oof[model], y_tr, settings["calibrate"])
        calibrated[model] = np.asarray(calibrator.transform(proba[model]), dtype=np.float64)
        described[model] = calibrator.describe()
    return calibrated, described
