"""Calibrated probabilities: a map fitted on out-of-fold P(y=1) of participant-grouped inner folds.

A model's P(y=1) can rank well and still be too sure (or too timid) of itself. Calibration
fits a monotone map from the model's probability to the observed frequency of label 1. That
map must learn from probabilities the model gave to rows it was NOT trained on, else it
learns the training fit's over-confidence: :func:`grouped_inner_oof` fits clones of the
model on participant-grouped inner folds of the rows it is given (the same splitter as the
evaluation's outer folds, ``evaluate.splits.make_splits``) and predicts each held-out part,
so every row gets a probability from a model that saw neither it nor its participant.

Two maps (:data:`CALIBRATION_METHODS`), both :class:`ProbabilityCalibrator`:

* ``sigmoid`` (Platt scaling): ``q = 1 / (1 + exp(-(slope * logit(p) + intercept)))``, a
  two-parameter logistic regression on the logit of p, fitted by Newton's method on Platt's
  smoothed targets (label 1 -> (N1 + 1) / (N1 + 2), label 0 -> 1 / (N0 + 2)), which keep the
  parameters finite when the classes separate. slope 1, intercept 0 is the identity.
* ``isotonic``: scikit-learn's ``IsotonicRegression`` (increasing, outputs in [0, 1],
  out-of-range inputs clipped), kept as its thresholds and applied with ``numpy.interp``
  (the same linear interpolation between thresholds, and the same clipping).

:class:`CalibratedPipeline` is the scikit-learn classifier that puts it together: ``fit``
fits the calibrator on the inner out-of-fold probabilities and the wrapped pipeline on all
its rows; ``predict_proba`` is the calibrated ``[1 - q, q]``. Why not scikit-learn's
``CalibratedClassifierCV(ensemble=False, cv=<grouped splits>)``: the zoo's EvXGB needs the
participant groups at fit time (``zoo.fit_pipeline``), which that class passes only with
metadata routing switched on globally; its fitted calibrators are private classes that the
numpy fast path and skops bundles would have to reach into; and the bundle's manifest wants
the fitted parameters as plain numbers, which :meth:`ProbabilityCalibrator.describe` gives.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from kemo_attention.config import decide
from kemo_attention.errors import KemoError

CALIBRATION_METHODS = ("sigmoid", "isotonic")
DEFAULT_INNER_SPLITS = 3
# Probabilities are clipped to [eps, 1 - eps] before the logit, so that a model's exact 0 or 1
# has a finite logit.
LOGIT_EPS = 1e-12
_NEWTON_MAX_STEPS = 100
_NEWTON_TOLERANCE = 1e-12


# --------------------------------------------------------------------------- inner folds
def _rows(X: Any, idx: np.ndarray) -> Any:
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


def _fit(estimator: Any, X: Any, y: np.ndarray, groups: np.ndarray) -> Any:
    """Fit as the evaluation does: a zoo pipeline through ``zoo.fit_pipeline`` (EvXGB's
    early-stopping split needs the participants); anything else through ``fit(X, y)``."""
    if hasattr(estimator, "named_steps"):
        from kemo_attention.models.zoo import fit_pipeline

        return fit_pipeline(estimator, X, y, groups=groups)
    return estimator.fit(X, y)


def positive_proba(estimator: Any, X: Any) -> np.ndarray:
    """P(y=1) from a fitted classifier: the ``predict_proba`` column of class 1."""
    proba = np.asarray(estimator.predict_proba(X))
    classes = list(getattr(estimator, "classes_", [0, 1]))
    return np.asarray(proba[:, classes.index(1) if 1 in classes else -1], dtype=np.float64)


def grouped_inner_oof(
    make_estimator: Callable[[], Any], X: Any, y, groups, *, n_splits: int = DEFAULT_INNER_SPLITS, seed: int = 42
) -> np.ndarray:
    """P(y=1) of every row of ``X``, each from a model fitted without that row's participant.

    The rows are split by ``StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)``
    over ``groups`` (the participant of each row); for each split a fresh
    ``make_estimator()`` is fitted on the other participants' rows and predicts the held-out
    ones. Raises :class:`KemoError` when there are fewer participants than ``n_splits``, or
    when an inner training part holds one class only.
    """
    from kemo_attention.evaluate.splits import make_splits

    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)
    if len(y) != len(groups) or len(y) != len(X):
        raise KemoError(f"calibration: X has {len(X)} rows, y {len(y)} and groups {len(groups)}; they must match")
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise KemoError(f"calibration: inner splits must be an integer >= 2; got {n_splits!r}")
    n_groups = int(np.unique(groups).shape[0])
    if n_groups < n_splits:
        raise KemoError(
            f"calibration: {n_splits} inner folds need at least {n_splits} participants, but the training "
            f"rows hold {n_groups}; use {max(n_groups, 2)} inner splits or fewer, or more participants"
        )
    oof = np.full(len(y), np.nan)
    for k, (train, held_out) in enumerate(make_splits(y, groups, "sgkf", int(n_splits), int(seed))):
        if np.unique(y[train]).shape[0] < 2:
            raise KemoError(
                f"calibration: inner fold {k} trains on label {int(y[train][0])} only "
                f"({np.unique(groups[train]).shape[0]} participants); use fewer inner splits"
            )
        model = _fit(make_estimator(), _rows(X, train), y[train], groups[train])
        oof[held_out] = positive_proba(model, _rows(X, held_out))
    return oof


# --------------------------------------------------------------------------- the map
def _logit(p: np.ndarray) -> np.ndarray:
    from scipy.special import logit

    return logit(np.clip(p, LOGIT_EPS, 1 - LOGIT_EPS))


def _fit_platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) minimising the cross-entropy of sigmoid(slope * z + intercept)
    against Platt's smoothed targets; Newton steps with step halving (the loss is convex)."""
    from scipy.special import expit, log_expit

    n1 = float(y.sum())
    n0 = float(len(y) - n1)
    target = np.where(y == 1, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))
    design = np.column_stack([z, np.ones_like(z)])

    def loss(theta: np.ndarray) -> float:
        s = design @ theta
        return float(-np.sum(target * log_expit(s) + (1 - target) * log_expit(-s)))

    theta = np.array([0.0, np.log((n1 + 1) / (n0 + 1))])  # Platt's start: the smoothed base rate
    current = loss(theta)
    for _ in range(_NEWTON_MAX_STEPS):
        q = expit(design @ theta)
        grad = design.T @ (q - target)
        hess = design.T @ (design * (q * (1 - q))[:, None])
        # lstsq, not solve: a constant z (a model that predicts one value) makes the Hessian singular
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        size = 1.0
        while size > 1e-10:
            trial = theta - size * step
            trial_loss = loss(trial)
            if trial_loss <= current:
                break
            size /= 2
        else:
            break  # no step lowers the loss: at the minimum to machine precision
        theta, previous, current = trial, current, trial_loss
        if np.max(np.abs(size * step)) < _NEWTON_TOLERANCE or previous - current < 1e-15 * max(1.0, abs(current)):
            break
    return float(theta[0]), float(theta[1])


class ProbabilityCalibrator:
    """A fitted map from a model's P(y=1) to a calibrated one; made by :func:`fit_calibrator`.

    Holds only numbers (``slope``/``intercept``, or the isotonic thresholds), so it pickles
    and travels in skops bundles as plain arrays, and :meth:`describe` lists them all.
    """

    def __init__(self, method: str, *, slope: float | None = None, intercept: float | None = None,
                 x_thresholds: np.ndarray | None = None, y_thresholds: np.ndarray | None = None,
                 n_samples: int = 0):  # fmt: skip
        self.method = method
        self.slope = slope
        self.intercept = intercept
        self.x_thresholds = x_thresholds
        self.y_thresholds = y_thresholds
        self.n_samples = n_samples

    def transform(self, proba) -> np.ndarray:
        """Calibrated P(y=1) for each P(y=1) in ``proba`` (float64 array of the same shape)."""
        p = np.asarray(proba, dtype=np.float64)
        if self.method == "sigmoid":
            from scipy.special import expit

            return expit(self.slope * _logit(p) + self.intercept)
        return np.interp(p, self.x_thresholds, self.y_thresholds)  # clips outside the thresholds

    def describe(self) -> dict[str, Any]:
        """``{"method", "n_samples", "parameters"}`` in plain JSON types."""
        if self.method == "sigmoid":
            parameters = {"slope": float(self.slope), "intercept": float(self.intercept), "logit_clip": LOGIT_EPS}
        else:
            parameters = {"x_thresholds": [float(v) for v in self.x_thresholds],
                          "y_thresholds": [float(v) for v in self.y_thresholds]}  # fmt: skip
        return {"method": self.method, "n_samples": int(self.n_samples), "parameters": parameters}

    def __repr__(self) -> str:
        return f"ProbabilityCalibrator({self.method!r}, fitted on {self.n_samples} probabilities)"


def _check_method(method: str) -> None:
    if method not in CALIBRATION_METHODS:
        raise KemoError(f"calibration method must be one of {', '.join(CALIBRATION_METHODS)}; got {method!r}")


def fit_calibrator(proba, y, method: str) -> ProbabilityCalibrator:
    """Fit the ``method`` map (sigmoid or isotonic; module docstring) from ``proba`` to ``y``.

    ``proba`` must be out-of-fold probabilities (:func:`grouped_inner_oof`): a map fitted on a
    model's own training fit learns its over-confidence. Deterministic.
    """
    _check_method(method)
    p = np.asarray(proba, dtype=np.float64).ravel()
    y = np.asarray(y).astype(int).ravel()
    if p.shape != y.shape:
        raise KemoError(f"calibration: {p.shape[0]} probabilities but {y.shape[0]} labels")
    if p.size == 0:
        raise KemoError("calibration: no probabilities to fit the map on")
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise KemoError(f"calibration: probabilities must lie in [0, 1]; row {k} holds {float(p[k])}")
    if not np.isin(y, (0, 1)).all():
        raise KemoError(f"calibration: labels must be 0 or 1; got {sorted(set(y.tolist()) - {0, 1})[:5]}")
    if method == "sigmoid":
        slope, intercept = _fit_platt(_logit(p), y)
        return ProbabilityCalibrator("sigmoid", slope=slope, intercept=intercept, n_samples=p.size)
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(p, y)
    return ProbabilityCalibrator(
        "isotonic", x_thresholds=np.asarray(iso.X_thresholds_, dtype=np.float64).copy(),
        y_thresholds=np.asarray(iso.y_thresholds_, dtype=np.float64).copy(), n_samples=p.size,
    )  # fmt: skip


# --------------------------------------------------------------------------- the classifier
class CalibratedPipeline(ClassifierMixin, BaseEstimator):
    """A classifier whose ``predict_proba`` is ``calibrator(estimator's P(y=1))``.

    ``fit(X, y, groups)`` fits the calibrator on :func:`grouped_inner_oof` probabilities of
    clones of ``estimator`` (``n_splits`` participant-grouped inner folds, ``seed``), then a
    clone of ``estimator`` on all rows (``estimator_``); the rows given must be training rows
    only (an outer fold's training part in evaluation, all samples at export).
    """

    def __init__(self, estimator: Any, method: str = "sigmoid", n_splits: int = DEFAULT_INNER_SPLITS, seed: int = 42):
        self.estimator = estimator
        self.method = method
        self.n_splits = n_splits
        self.seed = seed

    def fit(self, X, y, groups=None) -> "CalibratedPipeline":
        _check_method(self.method)
        if groups is None:
            raise KemoError("calibration needs the participant of each row (groups) for its grouped inner folds")
        y = np.asarray(y).astype(int)
        groups = np.asarray(groups)
        oof = grouped_inner_oof(lambda: clone(self.estimator), X, y, groups, n_splits=self.n_splits, seed=self.seed)
        self.calibrator_ = fit_calibrator(oof, y, self.method)
        self.estimator_ = _fit(clone(self.estimator), X, y, groups)
        self.classes_ = np.asarray(self.estimator_.classes_)
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    def raw_proba(self, X) -> np.ndarray:
        """The wrapped pipeline's own P(y=1), before calibration."""
        return positive_proba(self.estimator_, X)

    def predict_proba(self, X) -> np.ndarray:
        q = self.calibrator_.transform(self.raw_proba(X))
        columns = {1: q, 0: 1 - q}
        return np.column_stack([columns[int(c)] for c in self.classes_])

    def predict(self, X) -> np.ndarray:
        """Label 1 where the calibrated P(y=1) >= 0.5 (``config.decide``)."""
        return np.atleast_1d(decide(self.calibrator_.transform(self.raw_proba(X))))

    def describe(self) -> dict[str, Any]:
        """What a bundle's manifest records as ``calibration``: method, inner folds, fitted map."""
        fitted = self.calibrator_.describe()
        return {"method": self.method, "inner_splits": int(self.n_splits), "seed": int(self.seed),
                "n_samples": fitted["n_samples"], "parameters": fitted["parameters"]}  # fmt: skip


def calibrate_pipeline(
    pipeline_factory: Callable[[], Any], X, y, groups, method: str, n_splits: int = DEFAULT_INNER_SPLITS, seed: int = 42
) -> CalibratedPipeline:
    """A fitted :class:`CalibratedPipeline` around ``pipeline_factory()`` (e.g. a
    ``functools.partial`` of ``zoo.make_pipeline``) on the rows ``X, y, groups``."""
    return CalibratedPipeline(pipeline_factory(), method=method, n_splits=n_splits, seed=seed).fit(X, y, groups)


def uncalibrated(model: Any) -> Any:
    """The fitted pipeline inside a :class:`CalibratedPipeline`, or ``model`` itself."""
    return model.estimator_ if isinstance(model, CalibratedPipeline) else model
