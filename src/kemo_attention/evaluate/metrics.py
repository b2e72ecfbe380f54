"""Scores of one (y_true, P(y=1)) pair: every metric of spec/evaluation.md, never a crash.

A prediction is class 1 when P(y=1) >= 0.5 (``config.decide``: the same rule as the API and
the dashboard, so a probability of exactly 0.5 is class 1 everywhere).

Undefined values are NaN, never a made-up number:

* recall of a class absent from y_true: NaN;
* precision of a class never predicted: 0 when the class is present (all of it was
  missed), NaN when it is also absent from y_true (nothing to score);
* F1 of a class: NaN only when the class is absent and never predicted;
* macro precision/recall/F1, balanced accuracy, G-mean, MCC, ROC AUC: NaN when y_true
  holds one class (a one-class fold or participant); MCC is 0 when y_true has both classes
  but all predictions are one class (its usual convention);
* PR AUC of class c (average precision, the step-wise area): NaN when c is absent;
  its chance level is the share of class c;
* log loss and Brier score: always defined (probabilities clipped to [1e-15, 1 - 1e-15]);
* expected calibration error: NaN for no rows (:func:`expected_calibration_error`).

Calibration is read on equal-width bins of P(y=1) (:func:`reliability_table`), the bins of
scikit-learn's ``calibration_curve(strategy="uniform")``, so the two agree row for row.
"""

from __future__ import annotations

import math

import numpy as np

import pandas as pd

from kemo_attention.config import decide

METRIC_COLUMNS = (
    "n", "n_0", "n_1", "tn", "fp", "fn", "tp",
    "accuracy", "balanced_accuracy", "gmean", "mcc",
    "precision_macro", "recall_macro", "f1_macro",
    "precision_0", "recall_0", "f1_0", "precision_1", "recall_1", "f1_1",
    "roc_auc", "pr_auc_0", "pr_auc_1", "pr_chance_0", "pr_chance_1",
    "log_loss", "brier",
)  # fmt: skip
COUNT_COLUMNS = ("n", "n_0", "n_1", "tn", "fp", "fn", "tp")
SCORE_COLUMNS = tuple(c for c in METRIC_COLUMNS if c not in COUNT_COLUMNS)
PARTICIPANT_COLUMNS = ("n", "n_1", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc")

_NAN = float("nan")
_EPS = 1e-15


def predict_labels(proba) -> np.ndarray:
    """Class 1 where P(y=1) >= 0.5: ``config.decide``, the rule the API and dashboard use too."""
    return np.atleast_1d(decide(proba))


def _div(a: float, b: float) -> float:
    return a / b if b else _NAN


def _class_scores(tp: int, fp: int, fn: int, present: bool) -> tuple[float, float, float]:
    recall = _div(tp, tp + fn) if present else _NAN
    if tp + fp:
        precision = tp / (tp + fp)
    else:
        precision = 0.0 if present else _NAN
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    return precision, recall, f1


def _threshold_counts(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives when predicting 1 for score >= each distinct score (descending)."""
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), t.shape[0] - 1]  # end of each tie block
    tps = np.cumsum(t)[last].astype(float)
    fps = (last + 1) - tps
    return tps, fps


def roc_auc(y_true, score) -> float:
    """Area under the ROC curve (ties count one half); NaN unless both classes are present."""
    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    n1 = int(y.sum())
    n0 = y.shape[0] - n1
    if n0 == 0 or n1 == 0:
        return _NAN
    tps, fps = _threshold_counts(y, s)
    tpr = np.r_[0.0, tps / n1]
    fpr = np.r_[0.0, fps / n0]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoids = Mann-Whitney U


def roc_points(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every distinct threshold, from (0, 0)."""
    y = np.asarray(y_true).astype(int)
    tps, fps = _threshold_counts(y, np.asarray(score, dtype=float))
    return np.r_[0.0, fps / max(fps[-1], 1)], np.r_[0.0, tps / max(tps[-1], 1)]


def pr_points(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at every distinct threshold, with (0, 1) first."""
    y = np.asarray(y_true).astype(int)
    tps, fps = _threshold_counts(y, np.asarray(score, dtype=float))
    return np.r_[0.0, tps / max(tps[-1], 1)], np.r_[1.0, tps / (tps + fps)]


def average_precision(y_true, score) -> float:
    """Step-wise area under the precision-recall curve of class 1: sum (R_k - R_k-1) P_k."""
    y = np.asarray(y_true).astype(int)
    if y.sum() == 0:
        return _NAN
    recall, precision = pr_points(y, score)
    return float(np.sum(np.diff(recall) * precision[1:]))


def binary_metrics(y_true, proba) -> dict[str, float]:
    """Every column of :data:`METRIC_COLUMNS` for one set of rows (module docstring)."""
    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(proba, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true has {y.shape[0]} entries but proba has {p.shape[0]}")
    n = int(y.shape[0])
    out: dict[str, float] = {c: _NAN for c in METRIC_COLUMNS}
    out.update(n=n, n_0=int((y == 0).sum()), n_1=int((y == 1).sum()))
    pred = predict_labels(p)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    out.update(tn=tn, fp=fp, fn=fn, tp=tp)
    if n == 0:
        return out
    both = out["n_0"] > 0 and out["n_1"] > 0
    out["accuracy"] = (tp + tn) / n
    p0, r0, f0 = _class_scores(tn, fn, fp, present=out["n_0"] > 0)  # class 0: its "tp" is tn
    p1, r1, f1 = _class_scores(tp, fp, fn, present=out["n_1"] > 0)
    out.update(precision_0=p0, recall_0=r0, f1_0=f0, precision_1=p1, recall_1=r1, f1_1=f1)
    out["pr_chance_0"] = out["n_0"] / n
    out["pr_chance_1"] = out["n_1"] / n
    pc = np.clip(p, _EPS, 1 - _EPS)
    out["log_loss"] = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
    out["brier"] = float(np.mean((p - y) ** 2))
    if out["n_1"] > 0:
        out["pr_auc_1"] = average_precision(y, p)
    if out["n_0"] > 0:
        out["pr_auc_0"] = average_precision(1 - y, 1 - p)
    if both:
        out["precision_macro"] = (p0 + p1) / 2
        out["recall_macro"] = (r0 + r1) / 2
        out["f1_macro"] = (f0 + f1) / 2
        out["balanced_accuracy"] = (r0 + r1) / 2
        out["gmean"] = math.sqrt(r0 * r1)
        denom = math.sqrt(float(tp + fp) * float(tp + fn) * float(tn + fp) * float(tn + fn))
        out["mcc"] = (tp * tn - fp * fn) / denom if denom else 0.0
        out["roc_auc"] = roc_auc(y, p)
    return out


def participant_metrics(y_true, proba, pcodes) -> list[dict]:
    """One row per participant: pcode and :data:`PARTICIPANT_COLUMNS` (NaN with one class)."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=float)
    pcodes = np.asarray(pcodes).astype(str)
    rows = []
    for code in np.unique(pcodes):
        m = pcodes == code
        full = binary_metrics(y[m], p[m])
        rows.append({"pcode": code, **{c: full[c] for c in PARTICIPANT_COLUMNS}})
    return rows


RELIABILITY_COLUMNS = ("bin", "lower", "upper", "n", "mean_predicted", "fraction_positive")


def _calibration_bins(y_true, proba, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels, probabilities, bin of each row, bin edges) after checking the inputs."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1; got {n_bins!r}")
    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(proba, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true has {y.shape[0]} entries but proba has {p.shape[0]}")
    outside = ~((p >= 0) & (p <= 1))  # NaN counts as outside
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise ValueError(f"proba must lie in [0, 1]; row {k} holds {float(p[k])}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins: (lower, upper], the first one [0, upper]; a value on an inner edge
    # belongs to the bin below it.
    bins = np.searchsorted(edges[1:-1], p, side="left")
    return y, p, bins, edges


def reliability_table(y_true, proba, n_bins: int = 10) -> pd.DataFrame:
    """The reliability diagram as a table: one row per bin of P(y=1), empty bins included.

    Bins are ``n_bins`` equal-width intervals of [0, 1] with edges
    ``numpy.linspace(0, 1, n_bins + 1)``; each is right-closed, ``(lower, upper]``, except the
    first, ``[0, upper]``. Columns: ``bin`` (0-based), ``lower``, ``upper``, ``n`` (rows in the
    bin), ``mean_predicted`` (mean P(y=1) there) and ``fraction_positive`` (share of label 1
    there); both means are NaN for an empty bin (n = 0). A well-calibrated model has
    ``fraction_positive`` close to ``mean_predicted`` in every bin.
    """
    y, p, bins, edges = _calibration_bins(y_true, proba, n_bins)
    counts = np.bincount(bins, minlength=n_bins).astype(np.int64)
    sum_p = np.bincount(bins, weights=p, minlength=n_bins)
    sum_y = np.bincount(bins, weights=y.astype(float), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(counts > 0, sum_p / counts, np.nan)
        frac = np.where(counts > 0, sum_y / counts, np.nan)
    return pd.DataFrame(
        {"bin": np.arange(n_bins), "lower": edges[:-1], "upper": edges[1:], "n": counts,
         "mean_predicted": mean_p, "fraction_positive": frac},
        columns=list(RELIABILITY_COLUMNS),
    )  # fmt: skip


def expected_calibration_error(y_true, proba, n_bins: int = 10) -> float:
    """Expected calibration error: ``sum_b (n_b / N) |mean_predicted_b - fraction_positive_b|``.

    Over the equal-width bins of :func:`reliability_table` (``n_bins`` intervals of [0, 1],
    right-closed, the first one closed on both sides); empty bins weigh nothing. 0 is perfect
    calibration, 1 the worst; NaN when there are no rows.
    """
    table = reliability_table(y_true, proba, n_bins)
    total = int(table["n"].sum())
    if total == 0:
        return _NAN
    full = table[table["n"] > 0]
    gaps = np.abs(full["mean_predicted"].to_numpy() - full["fraction_positive"].to_numpy())
    return float(np.sum(full["n"].to_numpy() / total * gaps))
