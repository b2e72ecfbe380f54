"""SMOTE after feature selection, SMOTENC when one-hot (bool) features survived selection.

The dataset authors oversampled the training fold after selection (their ``_os`` variants).
Which of the surviving columns are categorical is known only after selection, so this
sampler takes the names of ALL bool columns and looks up which ones it actually receives
(the pipeline hands it a DataFrame with the selected feature names).

Choice of sampler on the rows it gets:

* only numeric columns -> ``SMOTE``; numeric and bool -> ``SMOTENC`` (bool columns
  categorical); only bool columns -> ``SMOTEN``;
* ``k_neighbors`` shrinks to (minority count - 1) on small folds; a minority class of a
  single row is duplicated with ``RandomOverSampler`` (SMOTE cannot interpolate from one);
* a single class: returned unchanged (nothing to balance).

Synthetic rows are appended after the original rows (imbalanced-learn's order).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator


class BoolAwareSMOTE(BaseEstimator):
    """Oversample the minority class; bool columns (by name) treated as categorical.

    Parameters
    ----------
    bool_columns : sequence of str
        Names of every bool feature of the dataset (before selection).
    k_neighbors : int, default=5
    random_state : int, default=42

    Attributes
    ----------
    kind_ : "SMOTE" | "SMOTENC" | "SMOTEN" | "RandomOverSampler" | "none"
    """

    def __init__(self, bool_columns=(), k_neighbors=5, random_state=42):
        self.bool_columns = bool_columns
        self.k_neighbors = k_neighbors
        self.random_state = random_state

    def fit(self, X, y):
        self.fit_resample(X, y)
        return self

    def fit_resample(self, X, y):
        from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC, RandomOverSampler

        y = np.asarray(y)
        _, counts = np.unique(y, return_counts=True)
        if counts.shape[0] < 2 or counts.min() == counts.max():
            self.kind_ = "none"
            return X, y
        minority = int(counts.min())
        names = list(X.columns) if hasattr(X, "columns") else []
        wanted = set(self.bool_columns)
        cat = [i for i, c in enumerate(names) if c in wanted]
        n_features = X.shape[1]
        k = min(self.k_neighbors, minority - 1)
        if k < 1:
            sampler = RandomOverSampler(random_state=self.random_state)
        elif not cat:
            sampler = SMOTE(k_neighbors=k, random_state=self.random_state)
        elif len(cat) == n_features:
            sampler = SMOTEN(k_neighbors=k, random_state=self.random_state)
        else:
            sampler = SMOTENC(categorical_features=cat, k_neighbors=k, random_state=self.random_state)
        self.kind_ = type(sampler).__name__
        return sampler.fit_resample(X, y)
