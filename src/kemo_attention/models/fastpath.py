"""A numpy-only route through a fitted pipeline, for low-latency serving.

Why: scikit-learn validates a pandas input column by column. With 3,356 feature columns
one ``pipeline.predict_proba`` on ONE row spends ~200 ms in that validation (measured:
``_pandas_dtype_needs_early_conversion`` runs once per column, twice) and ~10 ms more
building the DataFrame; the arithmetic itself takes well under a millisecond.

How: the same fitted objects are called on numpy arrays. The zoo's pipelines are
``ColumnTransformer -> selector (get_support) -> [sampler] -> [FunctionTransformer] ->
estimator``. For the ColumnTransformer we call each fitted sub-transformer on its columns
(taken by index from a row in manifest order) and stack the outputs in its order; the
selector becomes its support mask; samplers do nothing at predict time; the rest are
called as they are. Copies of the fitted objects lose ``feature_names_in_`` so that numpy
input is accepted without a warning; the arithmetic is scikit-learn's own.

A calibrated pipeline (:class:`~kemo_attention.models.calibration.CalibratedPipeline`) gets
the fast path of the pipeline it wraps, followed by its calibrator (a few numpy operations
on the probabilities), so calibrated bundles predict as fast as the others.

Safety: :func:`build_fast_path` returns None for any other structure, and the service
uses the fast path only after it has given the same probabilities as
``Bundle.predict_proba`` (to 1e-9) on probe rows at start-up.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]


def _strip_names(obj: Any) -> Any:
    """A deep copy that no longer remembers the column names it was fitted with."""
    clone = copy.deepcopy(obj)
    for attr in ("feature_names_in_",):
        if hasattr(clone, attr):
            try:
                delattr(clone, attr)
            except AttributeError:
                pass
    if hasattr(clone, "set_output"):
        try:
            clone.set_output(transform="default")
        except Exception:
            pass
    return clone


class _Scaler:
    """StandardScaler.transform restricted to the columns the selector keeps, with
    scikit-learn's own arithmetic (mean and scale cast to the input dtype, in-place)."""

    def __init__(self, scaler: Any, keep: np.ndarray):
        self.mean = None if not scaler.with_mean else np.asarray(scaler.mean_)[keep]
        self.scale = None if not scaler.with_std or scaler.scale_ is None else np.asarray(scaler.scale_)[keep]

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, copy=True)
        if self.mean is not None:
            X -= self.mean.astype(X.dtype)
        if self.scale is not None:
            X /= self.scale.astype(X.dtype)
        return X


class _Booster:
    """LGBMClassifier (binary) without the per-call parameter handling of its sklearn
    wrapper (~0.5 ms of ``get_params``/``deepcopy`` per call): the booster's own predict."""

    def __init__(self, estimator: Any):
        self.booster = estimator.booster_
        # As the wrapper does: n_jobs becomes num_threads (the zoo uses 1). Without it the
        # booster starts one OpenMP thread per core for every call, costly for one row.
        n_jobs = getattr(estimator, "n_jobs", None)
        self.threads = 1 if n_jobs is None or n_jobs < 1 else int(n_jobs)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p1 = np.asarray(self.booster.predict(X, num_threads=self.threads), dtype=float)
        return np.column_stack([1 - p1, p1])


def _fast_estimator(estimator: Any) -> Any:
    try:
        from lightgbm import LGBMClassifier
    except ImportError:  # pragma: no cover - lightgbm is a dependency
        return estimator
    if (
        type(estimator) is LGBMClassifier
        and list(getattr(estimator, "classes_", [])) == [0, 1]
        and not callable(getattr(estimator, "objective", None))
    ):
        return _Booster(estimator)
    return estimator


class FastPath:
    """``predict_proba(matrix)`` -> P(y=1) for rows given as a float64 matrix in manifest order."""

    def __init__(self, blocks, tail: list[Any], estimator: Any, positive: int):
        # [(column indices, input dtype, transform or None = passthrough, output positions kept
        #   by the selector or None = the transform already returns only those)]
        self.blocks = blocks
        self.tail = tail
        self.estimator = estimator
        self.positive = positive

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        parts = []
        for idx, dtype, trans, keep in self.blocks:
            sub = matrix[:, idx]
            sub = (sub != 0) if dtype == np.bool_ else sub.astype(dtype, copy=False)
            out = np.asarray(sub if trans is None else trans.transform(sub))
            parts.append(out if keep is None else out[:, keep])
        # Mixed dtypes (float32 scaled block, float64 flags) upcast as the DataFrame concat does.
        X = np.hstack(parts) if len(parts) > 1 else parts[0]
        for step in self.tail:
            X = step.transform(X)
        proba = self.estimator.predict_proba(X)
        return np.asarray(proba[:, self.positive], dtype=float)


class CalibratedFastPath:
    """The wrapped pipeline's fast path, then the calibrator: what ``CalibratedPipeline`` computes."""

    def __init__(self, raw: FastPath, calibrator: Any):
        self.raw = raw
        self.calibrator = calibrator

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.calibrator.transform(self.raw.predict_proba(matrix)), dtype=float)


def build_fast_path(
    pipeline: Any, names: list[str], kinds: dict[str, str], numeric_dtype: np.dtype
) -> FastPath | CalibratedFastPath | None:
    """The fast path for ``pipeline``, or None when its structure is not the one handled."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    from kemo_attention.models.calibration import CalibratedPipeline

    if isinstance(pipeline, CalibratedPipeline):
        raw = build_fast_path(pipeline.estimator_, names, kinds, numeric_dtype)
        return None if raw is None else CalibratedFastPath(raw, pipeline.calibrator_)

    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) < 3:
        return None
    ct = steps[0][1]
    selector = steps[1][1]
    if not isinstance(ct, ColumnTransformer) or not hasattr(selector, "get_support"):
        return None
    index = {n: i for i, n in enumerate(names)}
    mask = np.asarray(selector.get_support(), dtype=bool)
    blocks = []
    offset = 0
    for _, trans, cols in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        if not isinstance(cols, (list, tuple, np.ndarray)) or not all(isinstance(c, str) and c in index for c in cols):
            return None
        if len(cols) == 0:
            continue
        idx = np.array([index[c] for c in cols], dtype=np.intp)
        col_kinds = {kinds.get(c) for c in cols}
        if col_kinds == {"bool"}:
            dtype = np.dtype(np.bool_)
        elif col_kinds == {"numeric"}:
            dtype = np.dtype(numeric_dtype)
        else:
            dtype = np.dtype(np.float64)
        # Every transformer here maps its columns one-to-one (checked through the selector's
        # input width below); the selector's mask splits into one slice per block.
        keep = np.flatnonzero(mask[offset : offset + len(cols)])
        offset += len(cols)
        if isinstance(trans, str):
            if trans != "passthrough":
                return None
            blocks.append((idx[keep], dtype, None, None))
        elif type(trans) is StandardScaler:
            blocks.append((idx[keep], dtype, _Scaler(trans, keep), None))  # only the kept columns
        else:
            blocks.append((idx, dtype, _strip_names(trans), keep))
    if not blocks or offset != len(mask):
        return None
    tail = []
    for _, step in steps[2:-1]:
        if hasattr(step, "fit_resample"):
            continue  # samplers only act while fitting
        if not hasattr(step, "transform"):
            return None
        tail.append(_strip_names(step))
    estimator = _strip_names(steps[-1][1])
    classes = list(getattr(estimator, "classes_", [0, 1]))
    positive = classes.index(1) if 1 in classes else len(classes) - 1
    return FastPath(blocks, tail, _fast_estimator(estimator), positive)


def probe_rows(defaults: np.ndarray, is_bool: np.ndarray, n: int = 6, seed: int = 0) -> np.ndarray:
    """Rows to compare the fast path with the pipeline: the defaults, and perturbations of
    them (numeric values moved by up to a few units, bools flipped at random)."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(defaults[None, :], n, axis=0)
    noise = rng.normal(0, 2, size=rows.shape) * (1 + np.abs(rows))
    rows[1:] += np.where(is_bool, 0, noise[1:])
    flips = rng.random(rows.shape) < 0.3
    rows[1:] = np.where(is_bool & flips[1:], 1 - rows[1:], rows[1:])
    return rows
