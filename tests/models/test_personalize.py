"""The per-person offset (models/personalize.py), each against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from kemo_attention.errors import KemoError
from kemo_attention.models.personalize import (
    DEFAULT_PERSONAL_LABELS,
    PROBA_CLIP,
    apply_offset,
    fit_offset,
    personal_split,
    personalize_predictions,
)


def _map_objective(b: float, p: np.ndarray, y: np.ndarray, prior_sd: float) -> float:
    """The brief's objective written out in plain terms: log-loss of the shifted score plus the
    Gaussian prior's negative log density (constant dropped)."""
    p = np.clip(p, PROBA_CLIP, 1 - PROBA_CLIP)
    odds = p / (1 - p) * math.exp(b)
    q = odds / (1 + odds)
    return float(-np.sum(y * np.log(q) + (1 - y) * np.log(1 - q)) + b * b / (2 * prior_sd * prior_sd))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("prior_sd", [0.3, 1.0, 3.0])
def test_fit_offset_minimises_the_map_objective(seed, prior_sd):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    p = rng.beta(2, 2, n)
    y = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
    got = fit_offset(p, y, prior_sd)
    ref = minimize_scalar(_map_objective, bounds=(-30, 30), args=(p, y, prior_sd), method="bounded",
                          options={"xatol": 1e-10})
    # the bounded search stops at ~1e-9; 1e-6 leaves room for its last step
    assert got == pytest.approx(ref.x, abs=1e-6)
    assert _map_objective(got, p, y, prior_sd) <= ref.fun + 1e-12


def test_ten_answers_all_one_where_the_model_says_half():
    # At p = 0.5 the objective's derivative is n * (sigmoid(b) - 1) + b / sd**2: its root by brentq.
    expected = brentq(lambda b: 10 * (1 / (1 + math.exp(-b)) - 1) + b, 0, 10, xtol=1e-14)
    got = fit_offset(np.full(10, 0.5), np.ones(10))
    assert got == pytest.approx(expected, abs=1e-10)
    assert 1.6 < got < 1.7  # the figure the module's docstring quotes


def test_a_person_whose_answers_are_all_one_gets_a_positive_finite_offset():
    p = np.array([0.2, 0.4, 0.6, 0.1, 0.3])
    b = fit_offset(p, np.ones(5))
    assert math.isfinite(b) and b > 0
    # more such answers say it more firmly; a tighter prior shrinks it
    assert fit_offset(np.tile(p, 4), np.ones(20)) > b
    assert 0 < fit_offset(p, np.ones(5), prior_sd=0.2) < b
    # even when the model is certain the other way, the clip keeps it finite
    assert math.isfinite(fit_offset(np.zeros(5), np.ones(5)))


def test_the_offset_is_antisymmetric_and_zero_without_answers():
    rng = np.random.default_rng(1)
    p, y = rng.random(12), rng.integers(0, 2, 12)
    assert fit_offset(1 - p, 1 - y) == pytest.approx(-fit_offset(p, y), abs=1e-10)
    assert fit_offset([], []) == 0.0


def test_apply_offset():
    p = np.array([0.0, 1e-9, 0.2, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(apply_offset(p, 0.0), p, rtol=0, atol=1e-12)  # logit/expit round trip
    shifted = apply_offset(p, 0.7)
    assert shifted[0] == 0.0 and shifted[-1] == 1.0
    inner = slice(1, -1)
    np.testing.assert_allclose(np.log(shifted[inner] / (1 - shifted[inner])) - np.log(p[inner] / (1 - p[inner])), 0.7, atol=1e-9)
    with pytest.raises(KemoError, match="finite"):
        apply_offset(p, math.nan)


def test_personal_split_takes_the_chronologically_first_k_of_shuffled_rows():
    rng = np.random.default_rng(7)
    groups = np.repeat(["P01", "P02", "P03"], [15, 4, 12])
    times = np.concatenate([rng.permutation(15) * 1000, [5, 1, 9, 3], rng.permutation(12) * 60_000]) + 1_600_000_000_000
    order = rng.permutation(groups.size)
    groups, times = groups[order], times[order]
    personal, scored = personal_split(groups, times, 5)
    assert not (personal & scored).any() and (personal | scored).all()
    for g in ("P01", "P02", "P03"):
        mine = groups == g
        want = np.sort(times[mine])[:5]
        assert sorted(times[mine & personal]) == sorted(want.tolist())
        assert (times[mine & scored] > want.max()).all()
    assert not scored[groups == "P02"].any()  # 4 rows <= k: nothing left to score


def test_personal_split_keeps_row_order_among_equal_times():
    personal, _ = personal_split(["P1"] * 4, [5, 5, 5, 5], 2)
    assert personal.tolist() == [True, True, False, False]


def test_personalize_predictions_fits_on_the_first_k_and_scores_the_rest():
    rng = np.random.default_rng(3)
    groups = np.repeat(["P01", "P02"], [14, 9])
    times = rng.permutation(groups.size) * 1000
    proba = rng.uniform(0.05, 0.95, groups.size)
    y = rng.integers(0, 2, groups.size)
    out, scored, offsets = personalize_predictions(proba, y, groups, times, k=4)
    assert set(offsets) == {"P01", "P02"}
    for g in ("P01", "P02"):
        mine = np.flatnonzero(groups == g)
        first = mine[np.argsort(times[mine], kind="stable")[:4]]
        assert offsets[g] == pytest.approx(fit_offset(proba[first], y[first]), abs=1e-12)
        later = np.setdiff1d(mine, first)
        assert scored[later].all() and not scored[first].any()
        np.testing.assert_allclose(out[later], apply_offset(proba[later], offsets[g]), atol=1e-15)
        assert np.isnan(out[first]).all()
    # the scored rows' own labels play no part (no leak from what is scored)
    flipped = np.where(scored, 1 - y, y)
    again, _, offsets_again = personalize_predictions(proba, flipped, groups, times, k=4)
    np.testing.assert_array_equal(again, out)
    assert offsets_again == offsets


def test_k_zero_scores_everything_unchanged():
    p = np.array([0.3, 0.6, 0.8])
    out, scored, offsets = personalize_predictions(p, [1, 1, 1], ["P1", "P1", "P2"], [1, 2, 3], k=0)
    assert scored.all() and offsets == {"P1": 0.0, "P2": 0.0}
    np.testing.assert_allclose(out, p, atol=1e-12)


def test_default_leaves_the_reference_minimum_a_scored_remainder():
    assert DEFAULT_PERSONAL_LABELS == 10 and 35 - DEFAULT_PERSONAL_LABELS >= 25


@pytest.mark.parametrize(("call", "message"), [
    (lambda: fit_offset([0.2, 1.5], [0, 1]), r"probability 1 \(0-based\) is 1.5"),
    (lambda: fit_offset([0.2, 0.5], [0, 2]), r"label 1 \(0-based\) is 2.0; expected 0 or 1"),
    (lambda: fit_offset([0.2], [0, 1]), "1 probabilities but 2 labels"),
    (lambda: fit_offset([0.2], [0], prior_sd=0), "prior_sd must be a positive number"),
    (lambda: personal_split(["a"], [1], -1), "k must be a whole number >= 0; got -1"),
    (lambda: personal_split(["a", "b"], [1], 1), "of one length"),
])
def test_bad_inputs_are_named(call, message):
    with pytest.raises(KemoError, match=message):
        call()
