"""Calibration: grouped inner folds that keep participants apart, the two maps against
independent fits, and the calibrated classifier (held-out ECE goes down, nothing leaks)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from kemo_attention.errors import KemoError
from kemo_attention.evaluate.metrics import expected_calibration_error
from kemo_attention.evaluate.splits import make_splits
from kemo_attention.models.calibration import (
    CALIBRATION_METHODS,
    CalibratedPipeline,
    calibrate_pipeline,
    fit_calibrator,
    grouped_inner_oof,
    uncalibrated,
)
from kemo_attention.models.zoo import fit_pipeline, make_pipeline


LOGS: dict[str, list] = {}


class Spy(ClassifierMixin, BaseEstimator):
    """Column 0 of X is the row id, column 1 the participant. Records, in ``LOGS[log]`` (a name,
    so that clones share it), the rows every fit and every predict_proba saw; predicts the
    training base rate."""

    def __init__(self, log="default"):
        self.log = log

    def fit(self, X, y):
        LOGS.setdefault(self.log, []).append(("fit", X[:, 0].astype(int).tolist(), set(X[:, 1].astype(int).tolist())))
        self.classes_ = np.array([0, 1])
        self.rate_ = float(np.mean(y))
        return self

    def predict_proba(self, X):
        LOGS.setdefault(self.log, []).append(("predict", X[:, 0].astype(int).tolist(), set(X[:, 1].astype(int).tolist())))
        return np.column_stack([np.full(len(X), 1 - self.rate_), np.full(len(X), self.rate_)])


def _fresh_log(name: str) -> list:
    LOGS[name] = []
    return LOGS[name]


def _grouped_rows(n_participants=9, per=12, seed=0):
    rng = np.random.default_rng(seed)
    n = n_participants * per
    groups = np.repeat(np.arange(n_participants), per)
    X = np.column_stack([np.arange(n), groups, rng.normal(size=n)])
    y = (rng.random(n) < 0.4).astype(int)
    y[::per] = 1  # every participant holds both labels
    y[1::per] = 0
    return X, y, groups


@pytest.mark.parametrize("n_splits", [2, 3, 5])
def test_inner_folds_never_put_a_participant_on_both_sides(n_splits):
    X, y, groups = _grouped_rows()
    for seed in range(15):
        log = _fresh_log("folds")
        oof = grouped_inner_oof(lambda: Spy("folds"), X, y, groups, n_splits=n_splits, seed=seed)
        fits, predicts = log[0::2], log[1::2]
        assert len(fits) == n_splits and all(f[0] == "fit" for f in fits) and all(p[0] == "predict" for p in predicts)
        for (_, _, fit_people), (_, _, held_people) in zip(fits, predicts):
            assert not fit_people & held_people
        held_rows = sorted(r for _, rows, _ in predicts for r in rows)
        assert held_rows == list(range(len(y)))  # every row predicted exactly once
        # each row's value is the base rate of the part trained without its participant
        for (_, fit_rows, _), (_, rows, _) in zip(fits, predicts):
            np.testing.assert_allclose(oof[rows], y[fit_rows].mean())


def test_inner_folds_depend_on_the_seed_only():
    X, y, groups = _grouped_rows()

    def parts(seed):
        log = _fresh_log("seed")
        grouped_inner_oof(lambda: Spy("seed"), X, y, groups, n_splits=3, seed=seed)
        return [sorted(people) for kind, _, people in log if kind == "predict"]

    assert parts(4) == parts(4)
    assert any(parts(s) != parts(0) for s in range(1, 6))


def test_too_few_participants_names_both_numbers():
    X, y, groups = _grouped_rows(n_participants=2)
    with pytest.raises(KemoError, match="3 inner folds need at least 3 participants, but the training rows hold 2"):
        grouped_inner_oof(lambda: Spy(), X, y, groups, n_splits=3)
    with pytest.raises(KemoError, match="inner splits must be an integer >= 2; got 1"):
        grouped_inner_oof(lambda: Spy(), X, y, groups, n_splits=1)


def test_sigmoid_is_platt_scaling_on_the_logit():
    """Against scikit-learn's LogisticRegression (no penalty) fitted on the logit with Platt's
    smoothed targets, written as weighted rows of both labels."""
    rng = np.random.default_rng(1)
    p = rng.random(400)
    y = (rng.random(400) < p**2).astype(int)
    cal = fit_calibrator(p, y, "sigmoid")
    n1, n0 = y.sum(), (1 - y).sum()
    target = np.where(y == 1, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))
    z = logit(p)[:, None]
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(
        np.vstack([z, z]), np.r_[np.ones(400), np.zeros(400)], sample_weight=np.r_[target, 1 - target])
    params = cal.describe()["parameters"]
    assert params["slope"] == pytest.approx(lr.coef_[0, 0], abs=1e-5)
    assert params["intercept"] == pytest.approx(lr.intercept_[0], abs=1e-5)
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(cal.transform(grid), expit(params["slope"] * logit(np.clip(grid, 1e-12, 1 - 1e-12)) + params["intercept"]))


def test_sigmoid_of_calibrated_probabilities_is_near_identity():
    rng = np.random.default_rng(2)
    p = rng.random(20_000)
    y = (rng.random(20_000) < p).astype(int)
    params = fit_calibrator(p, y, "sigmoid").describe()["parameters"]
    assert params["slope"] == pytest.approx(1, abs=0.05) and params["intercept"] == pytest.approx(0, abs=0.05)


def test_isotonic_is_scikit_learns_isotonic_regression():
    rng = np.random.default_rng(3)
    p = np.round(rng.random(300), 2)  # ties
    y = (rng.random(300) < p).astype(int)
    cal = fit_calibrator(p, y, "isotonic")
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
    grid = np.r_[np.linspace(0, 1, 1001), p]
    np.testing.assert_allclose(cal.transform(grid), iso.predict(grid), rtol=0, atol=1e-15)
    d = cal.describe()
    assert d["method"] == "isotonic" and d["n_samples"] == 300
    assert np.all(np.diff(d["parameters"]["y_thresholds"]) >= 0)


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_fit_is_deterministic(method):
    rng = np.random.default_rng(4)
    p = rng.random(200)
    y = (rng.random(200) < p).astype(int)
    assert fit_calibrator(p, y, method).describe() == fit_calibrator(p.copy(), y.copy(), method).describe()


@pytest.mark.parametrize(("args", "match"), [
    (([0.2, 0.4], [0, 1], "platt"), "calibration method must be one of sigmoid, isotonic; got 'platt'"),
    (([0.2, 1.4], [0, 1], "sigmoid"), r"must lie in \[0, 1\]; row 1 holds 1.4"),
    (([0.2, 0.4], [0, 2], "sigmoid"), "labels must be 0 or 1; got \\[2\\]"),
    (([0.2], [0, 1], "isotonic"), "1 probabilities but 2 labels"),
])  # fmt: skip
def test_bad_calibrator_inputs(args, match):
    with pytest.raises(KemoError, match=match):
        fit_calibrator(*args)


class Overconfident(ClassifierMixin, BaseEstimator):
    """A logistic regression whose logit is multiplied by 4: the right ranking, far too sure."""

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        p = expit(4 * self.model_.decision_function(X))
        return np.column_stack([1 - p, p])


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_lowers_ece_on_held_out_participants(method, seed):
    rng = np.random.default_rng(seed)
    n_people, per = 40, 60
    groups = np.repeat(np.arange(n_people), per)
    X = rng.normal(size=(n_people * per, 3))
    y = (rng.random(len(X)) < expit(X[:, 0] - 0.5 * X[:, 1])).astype(int)
    train, test = make_splits(y, groups, "sgkf", n_splits=4, seed=seed)[0]
    raw = Overconfident().fit(X[train], y[train]).predict_proba(X[test])[:, 1]
    model = CalibratedPipeline(Overconfident(), method=method, seed=seed).fit(X[train], y[train], groups[train])
    calibrated = model.predict_proba(X[test])[:, 1]
    ece_raw, ece_cal = expected_calibration_error(y[test], raw), expected_calibration_error(y[test], calibrated)
    assert ece_raw > 0.1  # the data are what the test claims: badly calibrated
    assert ece_cal < 0.5 * ece_raw
    np.testing.assert_allclose(model.raw_proba(X[test]), raw)  # the base model is the one fitted on all training rows


def test_the_calibrator_never_sees_outer_test_rows():
    X, y, groups = _grouped_rows(n_participants=12)
    train, test = make_splits(y, groups, "sgkf", n_splits=4, seed=0)[0]
    log = _fresh_log("outer")
    model = CalibratedPipeline(Spy("outer"), method="isotonic").fit(X[train], y[train], groups[train])
    seen = {r for _, rows, _ in log for r in rows}
    assert seen == set(train.tolist())
    assert not seen & set(test.tolist())
    assert model.calibrator_.n_samples == len(train)
    # the last fit is the base model on every training row
    assert log[-1][0] == "fit" and sorted(log[-1][1]) == sorted(train.tolist())


def test_calibrated_zoo_pipeline(frame):
    X, y, groups, bools, nums = frame

    def factory():
        return make_pipeline("logreg", bool_columns=bools, numeric_columns=nums)

    model = calibrate_pipeline(factory, X, y, groups, "sigmoid", n_splits=3, seed=7)
    assert list(model.classes_) == [0, 1]
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    plain = fit_pipeline(factory(), X, y, groups)
    # the base model is what fitting the plain pipeline on the same rows gives
    np.testing.assert_allclose(uncalibrated(model).predict_proba(X), plain.predict_proba(X), rtol=0, atol=0)
    np.testing.assert_allclose(proba[:, 1], model.calibrator_.transform(plain.predict_proba(X)[:, 1]), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), (proba[:, 1] >= 0.5).astype(int))
    d = model.describe()
    assert d["method"] == "sigmoid" and d["inner_splits"] == 3 and d["seed"] == 7 and d["n_samples"] == len(y)
    assert set(d["parameters"]) == {"slope", "intercept", "logit_clip"}
    assert uncalibrated(plain) is plain
    # clones fit the same: CalibratedPipeline is a scikit-learn estimator
    again = clone(CalibratedPipeline(factory(), method="sigmoid", seed=7)).fit(X, y, groups)
    np.testing.assert_array_equal(again.predict_proba(X), proba)


def test_calibrated_pipeline_needs_groups_and_a_known_method():
    X, y, groups = _grouped_rows()
    with pytest.raises(KemoError, match="needs the participant of each row"):
        CalibratedPipeline(Spy()).fit(X, y)
    with pytest.raises(KemoError, match="got 'beta'"):
        CalibratedPipeline(Spy(), method="beta").fit(X, y, groups)
