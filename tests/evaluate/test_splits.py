"""Outer folds: grouped by participant on every seed, errors that state the numbers."""

import numpy as np
import pytest

from kemo_attention.errors import KemoError
from kemo_attention.evaluate.splits import make_splits


def _data(participants=12, seed=0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 40, participants)
    groups = np.repeat([f"P{i:02d}" for i in range(participants)], sizes)
    y = rng.integers(0, 2, len(groups))
    return y, groups


@pytest.mark.parametrize("seed", [0, 1, 7, 42, 2024])
@pytest.mark.parametrize("cv", ["sgkf", "logo"])
def test_no_participant_on_both_sides(seed, cv):
    y, groups = _data(seed=seed)
    folds = make_splits(y, groups, cv=cv, n_splits=5, seed=seed)
    tested = []
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == len(y)
        tested.extend(test)
    assert sorted(tested) == list(range(len(y)))  # every sample tested exactly once
    assert len(folds) == (5 if cv == "sgkf" else 12)
    if cv == "logo":
        assert all(len(set(groups[test])) == 1 for _, test in folds)


def test_same_seed_same_folds_other_seed_other_folds():
    y, groups = _data()
    a = make_splits(y, groups, seed=42)
    b = make_splits(y, groups, seed=42)
    c = make_splits(y, groups, seed=1)
    assert all((ta == tb).all() for (_, ta), (_, tb) in zip(a, b))
    assert any(len(ta) != len(tc) or (ta != tc).any() for (_, ta), (_, tc) in zip(a, c))


def test_too_few_participants_states_both_numbers():
    y, groups = _data(participants=3)
    with pytest.raises(KemoError, match="5 folds need at least 5 participants, but the data have 3"):
        make_splits(y, groups, cv="sgkf", n_splits=5)
    with pytest.raises(KemoError, match="needs at least 2 participants; the data have 1"):
        make_splits(y[:4], np.array(["P1"] * 4), cv="logo")
    with pytest.raises(KemoError, match="cv must be one of sgkf, logo; got 'kfold'"):
        make_splits(y, groups, cv="kfold")
