"""Hyper-parameter tuning inside one outer training fold (Optuna TPE), without leaks.

``tune_model`` gets the OUTER training side only (rows, labels, participants) and searches
the model's space (:data:`SEARCH_RANGES`) with a seeded TPE sampler. Every trial is scored by
participant-grouped inner cross-validation on those rows:

* inner folds: ``StratifiedGroupKFold(inner_splits, shuffle=True, random_state=seed)`` over
  the outer training side's participants, so no participant is on both sides of an inner
  split; an inner fold whose test side holds one class cannot be scored by ROC AUC and is
  left out (the result's ``warnings`` say which);
* per inner fold, the scale + select front is fitted ONCE on the inner training rows (it does
  not depend on the trial's parameters) and its selected matrices are reused by every trial;
  a trial fits only the tail (``[oversample] -> to_array -> estimator``) of each inner fold.
  The front depends on neither the trial nor the model, so the tuned models of one outer fold
  can share one :func:`prepare_inner_folds` (``tune_model(..., inner=...)``);
* score: mean ROC AUC over the inner test sides (threshold-free, so small inner folds do not
  make it jump the way macro F1 at 0.5 does). The best trial's parameters win; ties go to the
  earlier trial.

Trial 0 is always the zoo's fixed setting (the ranges contain it), so a tuned model's inner
score is never below the fixed model's on the same inner folds. The same inputs and seed give
the same parameters: the sampler, the folds and every estimator are seeded, trials run one
after another, and BLAS runs on one thread. Optuna's log is silenced while a search runs.

The outer test fold never enters: the caller passes only the training side, and the tuned
pipeline (:func:`tuned_pipeline`) is then fitted on that whole side like the fixed models.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from kemo_attention.errors import KemoError

TUNABLE_MODELS = ("logreg", "rf", "lgbm", "evxgb")
TUNED_SUFFIX = "-tuned"


@dataclass(frozen=True)
class Range:
    """A numeric parameter drawn from [low, high] (log scale when ``log``; integers when ``integer``)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def contains(self, value) -> bool:
        if self.integer and not (isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
            return False
        return self.low <= value <= self.high

    def text(self) -> str:
        kind = "integer" if self.integer else "float"
        return f"{kind} {self.low:g} to {self.high:g}" + (", log scale" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """A parameter drawn from a fixed list of values."""

    options: tuple

    def contains(self, value) -> bool:
        return any(type(value) is type(o) and value == o for o in self.options)

    def text(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


# The searched estimator parameters per model, around the zoo's fixed settings (in brackets).
# Every other setting stays as the zoo builds it (models/zoo.py), seeds included.
SEARCH_RANGES: dict[str, dict[str, Range | Choice]] = {
    "logreg": {
        "C": Range(1e-3, 1e2, log=True),  # [1.0]; L1 liblinear: small C keeps few coefficients
    },
    "rf": {
        "n_estimators": Range(50, 300, integer=True),  # [100]
        "max_depth": Range(2, 12, integer=True),  # [5]
        "min_samples_leaf": Range(1, 20, log=True, integer=True),  # [1]
        # shares of the selected columns; the selector keeps a different number per fold
        "max_features": Choice(("sqrt", "log2", 0.25, 0.5)),  # ["sqrt"]
    },
    "lgbm": {
        "learning_rate": Range(0.01, 0.2, log=True),  # [0.03]
        "num_leaves": Range(4, 63, log=True, integer=True),  # [31]
        "max_depth": Range(2, 8, integer=True),  # [5]
        "min_child_samples": Range(5, 50, log=True, integer=True),  # [10]
        "reg_alpha": Range(1e-3, 10.0, log=True),  # [2.0]
        "reg_lambda": Range(1e-3, 10.0, log=True),  # [2.0]
        "colsample_bytree": Range(0.3, 1.0),  # [0.8]
        "n_estimators": Range(50, 400, integer=True),  # [100]
    },
    # n_estimators is not searched: it is the upper bound, early stopping picks the rounds
    "evxgb": {
        "learning_rate": Range(0.01, 0.3, log=True),  # [0.03]
        "max_depth": Range(2, 6, integer=True),  # [3]
        "min_child_weight": Range(0.5, 10.0, log=True),  # [1.0]
        "gamma": Range(0.0, 5.0),  # [2.0]
        "reg_alpha": Range(1e-3, 10.0, log=True),  # [2.0]
        "reg_lambda": Range(1e-3, 10.0, log=True),  # [2.0]
        "subsample": Range(0.5, 1.0),  # [0.8]
        "colsample_bytree": Range(0.3, 1.0),  # [0.8]
    },
}
# fast=True (tests, quick looks) keeps the zoo's caps on trees: rf and lgbm at most 25 (their
# fixed fast setting), evxgb at most 100 rounds (make_pipeline sets that; not searched).
FAST_RANGES: dict[str, dict[str, Range | Choice]] = {
    "rf": {"n_estimators": Range(10, 25, integer=True)},
    "lgbm": {"n_estimators": Range(10, 25, integer=True)},
}


@dataclass(frozen=True)
class TuningResult:
    """What a search found on one outer training side.

    params : the best trial's estimator parameters (JSON-ready), for :func:`tuned_pipeline`
    inner_score : its mean inner ROC AUC
    trials : trials run
    history : one dict per trial: trial, params, inner_score, fold_scores, fixed_settings
    inner_folds : inner folds scored (those whose test side holds both classes)
    seconds : wall time of the search (not part of any comparison: it varies)
    warnings : distinct warning messages raised while fitting (fronts and tails)
    """

    params: dict
    inner_score: float
    trials: int
    history: list[dict]
    inner_folds: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- names
def tuned_name(model: str) -> str:
    """``"lgbm"`` -> ``"lgbm-tuned"``."""
    _check_tunable(model)
    return model + TUNED_SUFFIX


def base_model(name: str) -> str:
    """``"lgbm-tuned"`` -> ``"lgbm"``; a tunable base name is returned as it is."""
    model = name[: -len(TUNED_SUFFIX)] if name.endswith(TUNED_SUFFIX) else name
    _check_tunable(model, given=name)
    return model


def _check_tunable(model: str, given: str | None = None) -> None:
    if model not in TUNABLE_MODELS:
        raise KemoError(
            f"model {given or model!r} cannot be tuned; tunable: {', '.join(TUNABLE_MODELS)} "
            f"(as {', '.join(m + TUNED_SUFFIX for m in TUNABLE_MODELS)})"
        )


# ---------------------------------------------------------------------------- the space
def search_ranges(model: str, *, fast: bool = False) -> dict[str, Range | Choice]:
    """The searched parameters of ``model`` (a base or ``-tuned`` name) and their ranges."""
    model = base_model(model)
    ranges = dict(SEARCH_RANGES[model])
    if fast:
        ranges.update(FAST_RANGES.get(model, {}))
    return ranges


def _suggest(model: str, trial, *, fast: bool = False) -> dict[str, Any]:
    """Draw the estimator parameters of one trial from ``model``'s ranges."""
    params: dict[str, Any] = {}
    for name, spec in search_ranges(model, fast=fast).items():
        if isinstance(spec, Choice):
            params[name] = trial.suggest_categorical(name, list(spec.options))
        elif spec.integer:
            params[name] = trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
        else:
            params[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    return params


# model -> function(optuna trial, *, fast=False) -> estimator params
SEARCH_SPACES: dict[str, Callable[..., dict[str, Any]]] = {m: partial(_suggest, m) for m in TUNABLE_MODELS}


def describe_search_space(model: str, *, fast: bool = False) -> str:
    """One line per searched parameter, ``name: range`` (for manifests and reports)."""
    return "; ".join(f"{name}: {spec.text()}" for name, spec in search_ranges(model, fast=fast).items())


def fixed_settings(model: str, *, fast: bool = False, random_state: int = 42) -> dict[str, Any]:
    """The zoo's fixed values of the searched parameters (trial 0), read from the estimator."""
    from kemo_attention.models.zoo import make_pipeline

    model = base_model(model)
    pipe = make_pipeline(model, bool_columns=[], numeric_columns=["x"], random_state=random_state, fast=fast)
    values = pipe.steps[-1][1].get_params(deep=False)
    return {name: _plain(values[name]) for name in search_ranges(model, fast=fast)}


def _plain(value):
    return value.item() if isinstance(value, (np.integer, np.floating)) else value


# ---------------------------------------------------------------------------- pipelines
def tuned_pipeline(
    model: str,
    params: dict,
    *,
    bool_columns: Sequence[str],
    numeric_columns: Sequence[str],
    oversample: bool = False,
    random_state: int = 42,
    fast: bool = False,
):
    """The unfitted pipeline of ``model`` (base or ``-tuned`` name) with its estimator's
    parameters set to ``params``: ``make_pipeline(model, ...)`` otherwise unchanged."""
    from kemo_attention.models.zoo import make_pipeline

    model = base_model(model)
    unknown = sorted(set(params) - set(SEARCH_RANGES[model]))
    if unknown:
        raise KemoError(
            f"{tuned_name(model)}: parameter(s) {', '.join(unknown)} are not in its search space "
            f"({', '.join(SEARCH_RANGES[model])})"
        )
    pipe = make_pipeline(
        model,
        bool_columns=bool_columns,
        numeric_columns=numeric_columns,
        oversample=oversample,
        random_state=random_state,
        fast=fast,
    )
    pipe.steps[-1][1].set_params(**params)
    return pipe


# ---------------------------------------------------------------------------- inner folds
def inner_folds(y, groups, *, n_splits: int = 3, seed: int = 42) -> list[tuple[np.ndarray, np.ndarray]]:
    """Participant-grouped inner folds of one outer training side (sorted row positions).

    Raises KemoError when there are fewer participants than folds, or when an inner training
    side holds one class (no model can be fitted on it).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y, groups = np.asarray(y), np.asarray(groups)
    if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise KemoError(f"inner_splits must be an integer >= 2; got {n_splits!r}")
    n_groups = np.unique(groups).shape[0]
    if n_groups < n_splits:
        raise KemoError(
            f"tuning: {n_splits} inner folds need at least {n_splits} participants on the training side, "
            f"but it has {n_groups}; use fewer inner folds"
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "the least populated class has only m members": harmless here, AUC needs no quota
        warnings.filterwarnings("ignore", message=".*least populated class.*", category=UserWarning)
        folds = [(np.sort(tr), np.sort(te)) for tr, te in splitter.split(np.zeros(len(y)), y, groups)]
    for k, (tr, _) in enumerate(folds):
        if np.unique(y[tr]).shape[0] < 2:
            raise KemoError(f"tuning: inner fold {k}: the training rows hold only one class; the models need both")
    return folds


# ---------------------------------------------------------------------------- the search
@dataclass(frozen=True)
class InnerFolds:
    """The inner folds of one outer training side with their fronts fitted, ready for trials.

    Made by :func:`prepare_inner_folds`; the tuned models of one outer fold can share it (the
    front does not depend on the model either), which changes no number.
    """

    fitted: list[dict]  # per scored inner fold: selected fit/score rows, labels, participants
    y: np.ndarray
    groups: np.ndarray
    front_key: tuple  # what the fronts depend on: columns, seed of the selector, folds' seed, count
    warnings: list[str]


def _front_key(settings: dict, seed: int, inner_splits: int) -> tuple:
    return (tuple(settings["bool_columns"]), tuple(settings["numeric_columns"]), settings["seed"], seed, inner_splits)


def prepare_inner_folds(
    X_train, y_train, groups_train, *, settings: dict, seed: int = 42, inner_splits: int = 3
) -> InnerFolds:
    """Split one outer training side into participant-grouped inner folds and fit each inner
    fold's scale + select front on its inner training rows (see :func:`tune_model`)."""
    from threadpoolctl import threadpool_limits

    y_train, groups_train = np.asarray(y_train), np.asarray(groups_train)
    if not (len(X_train) == len(y_train) == len(groups_train)):
        raise KemoError(
            f"tuning: X_train has {len(X_train)} rows, y_train {len(y_train)}, groups_train {len(groups_train)}; "
            "they must match"
        )
    notes: list[str] = []
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folds = inner_folds(y_train, groups_train, n_splits=inner_splits, seed=seed)
        scorable = []
        for k, (tr, te) in enumerate(folds):
            if np.unique(y_train[te]).shape[0] == 2:
                scorable.append((tr, te))
            else:
                notes.append(f"tuning: inner fold {k}: its test side holds one class; not scored")
        if not scorable:
            raise KemoError(
                f"tuning: no inner fold of {inner_splits} has both classes on its test side; ROC AUC cannot score a trial"
            )
        fitted = [_prepare_fold(X_train, y_train, groups_train, tr, te, settings) for tr, te in scorable]
    _add_messages(notes, caught)
    return InnerFolds(fitted, y_train, groups_train, _front_key(settings, seed, inner_splits), notes)


def tune_model(
    model: str,
    X_train,
    y_train,
    groups_train,
    *,
    settings: dict,
    n_trials: int,
    seed: int = 42,
    inner_splits: int = 3,
    inner: InnerFolds | None = None,
) -> TuningResult:
    """Search ``model``'s parameters on one outer training side (module docstring).

    Parameters
    ----------
    model : one of TUNABLE_MODELS (or its ``-tuned`` name)
    X_train, y_train, groups_train : the outer training side only: a DataFrame with every
        feature column, its labels and its participants
    settings : the runner's settings: bool_columns, numeric_columns, oversample, seed, fast
    n_trials : trials (>= 1; trial 0 is the zoo's fixed setting)
    seed : seeds the TPE sampler and the inner folds
    inner_splits : inner folds (participants grouped)
    inner : the same side's :func:`prepare_inner_folds`, to share its fitted fronts between
        the tuned models of one outer fold (made here when None)

    Returns
    -------
    TuningResult (params of the best trial, its inner score, the history of all trials)
    """
    import optuna
    from threadpoolctl import threadpool_limits

    model = base_model(model)
    if not isinstance(n_trials, (int, np.integer)) or isinstance(n_trials, bool) or n_trials < 1:
        raise KemoError(f"tuning: n_trials must be an integer >= 1; got {n_trials!r}")
    started = time.perf_counter()
    if inner is None:
        inner = prepare_inner_folds(
            X_train, y_train, groups_train, settings=settings, seed=seed, inner_splits=inner_splits
        )
    elif (
        inner.front_key != _front_key(settings, seed, inner_splits)
        or not np.array_equal(inner.y, np.asarray(y_train))
        or not np.array_equal(inner.groups, np.asarray(groups_train))
    ):
        raise KemoError(
            "tuning: the prepared inner folds were made from other rows, settings, seed or inner_splits; "
            "prepare them from this training side"
        )
    fast = bool(settings.get("fast", False))
    messages = list(inner.warnings)

    def objective(trial) -> float:
        params = SEARCH_SPACES[model](trial, fast=fast)
        scores = [_score_tail(model, params, fold, settings) for fold in inner.fitted]
        trial.set_user_attr("estimator_params", params)
        trial.set_user_attr("fold_scores", scores)
        return float(np.mean(scores))

    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
            study.enqueue_trial(fixed_settings(model, fast=fast, random_state=settings["seed"]))
            study.optimize(objective, n_trials=int(n_trials), catch=())
        finally:
            optuna.logging.set_verbosity(verbosity)
    _add_messages(messages, caught)

    history = [
        {
            "trial": t.number,
            "params": t.user_attrs["estimator_params"],
            "inner_score": float(t.value),
            "fold_scores": list(t.user_attrs["fold_scores"]),
            "fixed_settings": t.number == 0,
        }
        for t in study.trials
    ]
    # ties go to the earlier trial (max keeps the first maximum)
    best = max(history, key=lambda h: h["inner_score"])
    return TuningResult(
        params=dict(best["params"]),
        inner_score=best["inner_score"],
        trials=len(history),
        history=history,
        inner_folds=len(inner.fitted),
        seconds=time.perf_counter() - started,
        warnings=messages,
    )


def _add_messages(messages: list[str], caught) -> None:
    """Append each caught warning once, as "Category: first line"."""
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
        if text not in messages:
            messages.append(text)


def _prepare_fold(X, y, groups, train, test, settings) -> dict[str, Any]:
    """Fit the scale + select front on an inner fold's training rows; keep both selected sides."""
    from kemo_attention.evaluate.runner import fit_front

    _, _, X_fit, X_score, _ = fit_front(train, test, X, y, settings)
    return {"X_fit": X_fit, "y_fit": y[train], "groups_fit": groups[train], "X_score": X_score, "y_score": y[test]}


def _score_tail(model: str, params: dict, fold: dict, settings: dict) -> float:
    """Fit the trial's tail on a prepared inner fold; ROC AUC on its test side."""
    from sklearn.metrics import roc_auc_score

    from kemo_attention.models.zoo import FRONT_STEPS, fit_pipeline

    pipe = tuned_pipeline(
        model,
        params,
        bool_columns=settings["bool_columns"],
        numeric_columns=settings["numeric_columns"],
        oversample=settings["oversample"],
        random_state=settings["seed"],
        fast=settings.get("fast", False),
    )
    tail = pipe[FRONT_STEPS:]
    fit_pipeline(tail, fold["X_fit"], fold["y_fit"], fold["groups_fit"])
    col = list(tail.classes_).index(1)
    proba = tail.predict_proba(fold["X_score"])[:, col]
    return float(roc_auc_score(fold["y_score"], proba))
