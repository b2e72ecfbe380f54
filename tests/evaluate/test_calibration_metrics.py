"""Expected calibration error and the reliability table: by hand, and against scikit-learn's
``calibration_curve`` (an independent implementation of the same bins)."""

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from kemo_attention.evaluate.metrics import RELIABILITY_COLUMNS, expected_calibration_error, reliability_table


def test_ece_by_hand():
    # 10 bins. Bin 0 [0, .1]: p .05, .05 with labels 0, 1 -> |.05 - .5| = .45, weight 2/5;
    # bin 3 (.3, .4]: p .35, label 1 -> .65, weight 1/5; bin 9 (.9, 1]: p .95, .95, labels 1, 1
    # -> .05, weight 2/5. ECE = .18 + .13 + .02.
    y = [0, 1, 1, 1, 1]
    p = [0.05, 0.05, 0.35, 0.95, 0.95]
    assert expected_calibration_error(y, p) == pytest.approx(0.33, abs=1e-12)
    # Two bins: [0, .5] holds .1 and .4 (labels 0, 0), (.5, 1] holds .9 and .6 (labels 1, 1).
    assert expected_calibration_error([0, 1, 1, 0], [0.1, 0.9, 0.6, 0.4], n_bins=2) == pytest.approx(0.25, abs=1e-12)


def test_ece_zero_when_frequencies_match_and_nan_without_rows():
    # in each bin the mean probability equals the share of positives
    y = [0, 1, 1, 0, 0, 0, 1, 1, 1, 0]
    p = [0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75]
    assert expected_calibration_error(y, p, n_bins=4) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(expected_calibration_error([], []))


def test_edges_are_right_closed_and_empty_bins_kept():
    table = reliability_table([0, 1, 1, 0], [0.0, 0.5, 1.0, 0.5000001], n_bins=4)
    assert tuple(table.columns) == RELIABILITY_COLUMNS
    assert table["n"].tolist() == [1, 1, 1, 1]
    # 0.5 sits on the edge between bins 1 and 2 and belongs to the lower one
    assert table.loc[1, "mean_predicted"] == 0.5 and table.loc[2, "mean_predicted"] == pytest.approx(0.5000001)
    empty = reliability_table([1, 1], [0.95, 0.99], n_bins=5)
    assert empty["n"].tolist() == [0, 0, 0, 0, 2]
    assert empty.loc[:3, "mean_predicted"].isna().all() and empty.loc[:3, "fraction_positive"].isna().all()
    np.testing.assert_allclose(empty["lower"], [0, 0.2, 0.4, 0.6, 0.8])
    np.testing.assert_allclose(empty["upper"], [0.2, 0.4, 0.6, 0.8, 1.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_reliability_matches_calibration_curve(seed, n_bins):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.7, 1.3, 400)
    p[:30] = np.round(p[:30], 1)  # values on bin edges
    y = (rng.random(400) < p**1.5).astype(int)
    frac, mean = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    table = reliability_table(y, p, n_bins=n_bins)
    full = table[table["n"] > 0]
    np.testing.assert_allclose(full["fraction_positive"], frac, rtol=0, atol=1e-12)
    np.testing.assert_allclose(full["mean_predicted"], mean, rtol=0, atol=1e-12)
    assert table["n"].sum() == 400
    # ECE from the curve and the bin counts, computed here independently
    counts = np.array([np.sum((p > lo) | ((p == 0) & (lo == 0))) - np.sum(p > hi) for lo, hi in
                       zip(np.linspace(0, 1, n_bins + 1)[:-1], np.linspace(0, 1, n_bins + 1)[1:])])
    counts = counts[counts > 0]
    assert expected_calibration_error(y, p, n_bins) == pytest.approx(np.sum(counts / 400 * np.abs(frac - mean)), abs=1e-12)


@pytest.mark.parametrize(("y", "p", "n_bins", "match"), [
    ([0, 1], [0.2, 1.2], 10, r"\[0, 1\]; row 1 holds 1.2"),
    ([0, 1], [0.2, float("nan")], 10, "row 1 holds nan"),
    ([0, 1], [0.2], 10, "y_true has 2 entries but proba has 1"),
    ([0, 1], [0.2, 0.3], 0, "n_bins must be an integer >= 1; got 0"),
])  # fmt: skip
def test_bad_inputs_are_named(y, p, n_bins, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(y, p, n_bins)
