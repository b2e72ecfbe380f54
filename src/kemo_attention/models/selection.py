"""Feature selection that never leaves the model with zero features.

``SelectFromModel(LinearSVC(penalty="l1", C=0.01), threshold=1e-5)`` (the user's selector)
keeps nothing when the data are weak: at C=0.01 every L1 coefficient can be exactly zero,
and the next step would then fail on an empty matrix. :class:`L1Selector` behaves exactly
like ``SelectFromModel`` whenever at least one feature passes the threshold; when none does,
it keeps a single feature:

* the one with the largest |coefficient| (or importance) of the fitted selector model, or,
  when every coefficient is exactly zero,
* the one with the largest |Pearson correlation| with ``y`` on the training rows
  (ties: the first such column).

``fallback_used_`` records whether that happened, so a report can say so.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_selection import SelectFromModel


def _importances(estimator) -> np.ndarray:
    if hasattr(estimator, "coef_"):
        return np.linalg.norm(np.atleast_2d(np.asarray(estimator.coef_, dtype=float)), axis=0, ord=1)
    return np.abs(np.asarray(estimator.feature_importances_, dtype=float))


def _abs_correlation(X, y) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    xc = X - X.mean(axis=0)
    yc = y - y.mean()
    denom = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(denom > 0, (xc * yc[:, None]).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0)
    return np.abs(np.nan_to_num(corr))


class L1Selector(SelectFromModel):
    """``SelectFromModel`` that falls back to one feature instead of none (module docstring).

    Same parameters as :class:`sklearn.feature_selection.SelectFromModel`.

    Attributes
    ----------
    fallback_used_ : bool
        True when no feature passed the threshold and one was kept by the fallback rule.
    fallback_index_ : int
        The column the fallback rule would keep.
    """

    def fit(self, X, y=None, **fit_params):
        super().fit(X, y, **fit_params)
        scores = _importances(self.estimator_)
        if scores.size and scores.max() > 0:
            self.fallback_index_ = int(np.argmax(scores))
        else:
            self.fallback_index_ = int(np.argmax(_abs_correlation(X, y)))
        self.fallback_used_ = not bool(super()._get_support_mask().any())
        return self

    def _get_support_mask(self):
        mask = super()._get_support_mask()
        if not mask.any() and hasattr(self, "fallback_index_"):
            mask = mask.copy()
            mask[self.fallback_index_] = True
        return mask
