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


def repeated_sgkf_splits(y, groups, n_splits: int = 5, seed: int = 42, repeat: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeat ``repeat`` of repeated stratified group k-fold.

    Repeat 0 is ``make_splits(cv="sgkf", seed=seed)``: the folds ``evaluate`` uses. scikit-learn's
    StratifiedGroupKFold places participants greedily in order of how unbalanced their answers
    are and its ``shuffle`` only breaks ties in that order, so other seeds very often give the
    very same partition (seen on the demo data: seeds 42 and 43 agree) and "repeats" would
    repeat nothing. Repeats 1, 2, ... therefore run the same greedy placement over the
    participants in a random order (seeded with ``seed + repeat``): each participant goes to the
    fold where the classes' shares across folds spread least after adding them (ties: the
    fold with fewer samples, then the lower number).
    """
    if repeat == 0:
        return make_splits(y, groups, cv="sgkf", n_splits=n_splits, seed=seed)
    make_splits(y, groups, cv="sgkf", n_splits=n_splits, seed=seed)  # the same checks and errors
    y = np.asarray(y)
    groups = np.asarray(groups)
    classes, y_index = np.unique(y, return_inverse=True)
    people, person_index = np.unique(groups, return_inverse=True)
    counts = np.zeros((people.shape[0], classes.shape[0]))
    np.add.at(counts, (person_index, y_index), 1)
    class_totals = counts.sum(axis=0)
    fold_counts = np.zeros((n_splits, classes.shape[0]))
    fold_of = np.empty(people.shape[0], dtype=np.int64)
    order = np.random.default_rng(seed + repeat).permutation(people.shape[0])
    for person in order:
        spread = np.empty(n_splits)
        for k in range(n_splits):
            trial = fold_counts.copy()
            trial[k] += counts[person]
            spread[k] = np.mean(np.std(trial / class_totals, axis=0))
        candidates = np.flatnonzero(np.isclose(spread, spread.min(), rtol=0, atol=1e-12))
        k = candidates[np.argmin(fold_counts[candidates].sum(axis=1))]  # first minimum: the lower fold
        fold_counts[k] += counts[person]
        fold_of[person] = k
    folds = []
    sample_fold = fold_of[person_index]
    for k in range(n_splits):
        test = np.flatnonzero(sample_fold == k)
        train = np.flatnonzero(sample_fold != k)
        if len(test) == 0 or len(train) == 0:
            raise KemoError(f"repeat {repeat} fold {k} has an empty {'test' if len(test) == 0 else 'training'} side")
        folds.append((train.astype(np.int64), test.astype(np.int64)))
    return folds
