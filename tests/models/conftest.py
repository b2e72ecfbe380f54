"""A small classification frame with foreign feature names, bool columns and participants."""

import numpy as np
import pandas as pd
import pytest


def make_frame(n_participants=12, per_participant=25, n_float=40, n_bool=8, seed=0):
    rng = np.random.default_rng(seed)
    n = n_participants * per_participant
    groups = np.repeat([f"P{i + 1:02d}" for i in range(n_participants)], per_participant)
    Z = rng.normal(size=(n, n_float))
    latent = Z[:, 0] + Z[:, 1] - Z[:, 2] + rng.normal(size=n)
    y = (latent > 0).astype(int)
    cols = {f"bpm#AVG#{j}": Z[:, j].astype(np.float32) for j in range(n_float)}
    for k in range(n_bool):
        # the first bool column is strongly tied to the label, so selection keeps it
        cols[f"APP=x[{k}]#M01"] = (latent + 0.3 * rng.normal(size=n) > 0.5) if k == 0 else rng.random(n) < 0.3
    return pd.DataFrame(cols), y, groups


@pytest.fixture(scope="session")
def frame():
    X, y, groups = make_frame()
    bools = [c for c in X.columns if X[c].dtype == bool]
    nums = [c for c in X.columns if c not in bools]
    return X, y, groups, bools, nums

from synthetic_features import kinds, small_kinds  # noqa: E402,F401  (shared fixtures: the fast-path tests)
