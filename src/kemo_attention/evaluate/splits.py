"""Outer cross-validation folds: grouped by participant, never a participant on both sides.

``make_splits`` returns index arrays, never data, so every model of a run is scored on the
very same folds (the runner computes them once).
"""

from __future__ import annotations

import numpy as np

from kemo_attention.errors import KemoError

CV_KINDS = ("sgkf", "logo")


def make_splits(y, groups, cv: str = "sgkf", n_splits: int = 5, seed: int = 42) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds as ``[(train_idx, test_idx), ...]`` (sorted int64 row indices).

    Parameters
    ----------
    y : labels (stratification for ``sgkf``)
    groups : participant of each row
    cv : "sgkf" = ``StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)``;
         "logo" = ``LeaveOneGroupOut`` (one fold per participant; ``n_splits`` ignored)
    n_splits : number of folds for ``sgkf``
    seed : shuffling seed for ``sgkf``

    Raises
    ------
    KemoError : unknown cv, fewer participants than folds, a fold with an empty side.
    """
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

    y = np.asarray(y)
    groups = np.asarray(groups)
    if len(y) != len(groups):
        raise KemoError(f"y has {len(y)} entries but groups has {len(groups)}")
    n_groups = np.unique(groups).shape[0]
    if cv == "sgkf":
        if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
            raise KemoError(f"n_splits must be an integer >= 2; got {n_splits!r}")
        if n_groups < n_splits:
            raise KemoError(
                f"{n_splits} folds need at least {n_splits} participants, but the data have "
                f"{n_groups}; use --n-splits {max(n_groups, 2)} or fewer"
                + ("" if n_groups >= 2 else " (grouped cross-validation needs 2 or more participants)")
            )
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    elif cv == "logo":
        if n_groups < 2:
            raise KemoError(f"leave-one-participant-out needs at least 2 participants; the data have {n_groups}")
        splitter = LeaveOneGroupOut()
    else:
        raise KemoError(f"cv must be one of {', '.join(CV_KINDS)}; got {cv!r}")

    folds = []
    for k, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        if len(tr) == 0 or len(te) == 0:
            raise KemoError(f"fold {k} has an empty {'training' if len(tr) == 0 else 'test'} side")
        folds.append((np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)))
    return folds
