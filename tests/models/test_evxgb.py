"""EvXGBClassifier: the scikit-learn contract, settings that survive clone, grouped early stopping."""

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from kemo_attention.models.evxgb import EvXGBClassifier
from kemo_attention.models.zoo import fit_pipeline, make_pipeline


# Fewer rounds than the default 2000 upper bound: the checks test the contract, not accuracy.
@parametrize_with_checks([EvXGBClassifier(n_estimators=30)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _booster_config(clf):
    return json.loads(clf.model_.get_booster().save_config())


def test_every_setting_survives_clone_and_reaches_the_booster(frame):
    X, y, groups, _, _ = frame
    original = EvXGBClassifier(learning_rate=0.05, max_depth=3, reg_lambda=2.5, n_estimators=60, random_state=7)
    copy = clone(original)
    assert copy.get_params() == original.get_params()
    copy.fit(X.to_numpy(), y, groups=groups)
    config = _booster_config(copy)
    params = config["learner"]["gradient_booster"]["tree_train_param"]
    assert float(params["eta"]) == pytest.approx(0.05)  # the notebook's clones trained with 0.3
    assert int(params["max_depth"]) == 3
    assert float(params["lambda"]) == pytest.approx(2.5)
    assert config["learner"]["objective"]["name"] == "binary:logistic"


def test_defaults_are_the_users_settings():
    # spec/evaluation.md, "The five models": the user's notebook settings
    params = EvXGBClassifier().get_params()
    users = dict(learning_rate=0.03, max_depth=3, gamma=2.0, reg_alpha=2.0, reg_lambda=2.0, subsample=0.8,
                 colsample_bytree=0.8, eval_size=0.2, early_stopping_rounds=50, eval_metric="logloss",
                 objective="binary:logistic", random_state=42)  # fmt: skip
    assert {k: params[k] for k in users} == users
    assert params["n_estimators"] >= 1000  # room for early stopping to decide (XGBoost's 100 never let it)


def test_the_users_settings_reach_the_booster(frame):
    X, y, groups, _, _ = frame
    clf = EvXGBClassifier(n_estimators=60).fit(X.to_numpy(), y, groups=groups)
    config = _booster_config(clf)
    tree = config["learner"]["gradient_booster"]["tree_train_param"]
    assert float(tree["eta"]) == pytest.approx(0.03)
    assert int(tree["max_depth"]) == 3
    assert float(tree["gamma"]) == pytest.approx(2.0)
    assert float(tree["alpha"]) == pytest.approx(2.0)
    assert float(tree["lambda"]) == pytest.approx(2.0)
    assert float(tree["subsample"]) == pytest.approx(0.8)
    assert float(tree["colsample_bytree"]) == pytest.approx(0.8)


def test_early_stopping_decides_and_the_rounds_used_are_recorded(frame):
    X, y, groups, _, _ = frame
    clf = EvXGBClassifier().fit(X.to_numpy(), y, groups=groups)
    assert clf.inner_split_ == "grouped"
    # independent reading: the round with the lowest held-out log loss (first one on ties)
    held_out = clf.model_.evals_result()["validation_0"]["logloss"]
    assert clf.n_rounds_ == int(np.argmin(held_out)) + 1 == clf.best_iteration_ + 1
    # stopped by patience (50 rounds without improvement), well before the 2000-round bound
    assert clf.n_rounds_trained_ == len(held_out) == clf.n_rounds_ + 50
    assert clf.n_rounds_trained_ < clf.n_estimators
    # predictions use the best round, not the last one built
    best_only = clf.model_.predict_proba(X.to_numpy(), iteration_range=(0, clf.n_rounds_))
    np.testing.assert_allclose(clf.predict_proba(X.to_numpy()), best_only)


def _all_rows_reference(X, y, n_estimators):
    """XGBoost itself with the same settings, all rows, no early stopping."""
    from xgboost import XGBClassifier

    params = EvXGBClassifier(n_estimators=n_estimators).get_params()
    for own in ("eval_size", "early_stopping_rounds", "sampler"):
        params.pop(own)
    return XGBClassifier(**params).fit(X, y).predict_proba(X)


def _assert_trained_on_all_rows_without_early_stopping(clf, X, y):
    assert clf.inner_split_ == "none"
    assert len(clf.inner_eval_idx_) == 0 and (clf.inner_train_idx_ == np.arange(len(y))).all()
    assert clf.n_rounds_trained_ == clf.n_rounds_ == clf.n_estimators
    np.testing.assert_allclose(clf.predict_proba(X), _all_rows_reference(X, y, clf.n_estimators), rtol=1e-6)


@pytest.mark.parametrize("settings", [{"eval_size": 0.0}, {"early_stopping_rounds": None}], ids=["eval_size=0", "no_early_stopping"])
def test_no_validation_split_trains_all_rounds_on_all_rows(frame, settings):
    X, y, groups, _, _ = frame
    clf = EvXGBClassifier(n_estimators=40, **settings).fit(X.to_numpy(), y, groups=groups)
    _assert_trained_on_all_rows_without_early_stopping(clf, X.to_numpy(), y)


def test_too_few_participants_for_an_inner_split_trains_on_all_rows(frame):
    # two participants, one class each: holding either out leaves one class to train on
    X, y, _, _, _ = frame
    rows = np.r_[np.flatnonzero(y == 0)[:20], np.flatnonzero(y == 1)[:20]]
    two_people = np.repeat(["P01", "P02"], 20)
    with pytest.warns(UserWarning, match="no grouped early-stopping split of 2 participants"):
        clf = EvXGBClassifier(n_estimators=30).fit(X.to_numpy()[rows], y[rows], groups=two_people)
    _assert_trained_on_all_rows_without_early_stopping(clf, X.to_numpy()[rows], y[rows])


def test_too_few_rows_for_an_inner_split_trains_on_all_rows():
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1])
    # holding out either row leaves one class to train on
    with pytest.warns(UserWarning, match="2 rows are too few to hold some out"):
        clf = EvXGBClassifier(n_estimators=10).fit(X, y)
    _assert_trained_on_all_rows_without_early_stopping(clf, X, y)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42])
def test_inner_split_never_puts_a_participant_on_both_sides(frame, seed):
    X, y, groups, _, _ = frame
    clf = EvXGBClassifier(n_estimators=40, random_state=seed).fit(X.to_numpy(), y, groups=groups)
    assert clf.inner_split_ == "grouped"
    inner_train = set(groups[clf.inner_train_idx_])
    inner_eval = set(groups[clf.inner_eval_idx_])
    assert inner_train and inner_eval
    assert not inner_train & inner_eval
    assert len(clf.inner_train_idx_) + len(clf.inner_eval_idx_) == len(y)
    # eval_size 0.2 of 12 participants: a fifth-ish of the rows held out
    assert 0.05 < len(clf.inner_eval_idx_) / len(y) < 0.4


def test_groups_reach_evxgb_through_the_pipeline(frame):
    X, y, groups, bools, nums = frame
    train = np.flatnonzero(~np.isin(groups, ["P01", "P02"]))
    pipe = make_pipeline("evxgb", bool_columns=bools, numeric_columns=nums, fast=True)
    fit_pipeline(pipe, X.iloc[train], y[train], groups[train])
    est = pipe.named_steps["evxgb"]
    g = groups[train]  # the step's indices refer to the training rows it was given
    assert est.inner_split_ == "grouped"
    assert not set(g[est.inner_train_idx_]) & set(g[est.inner_eval_idx_])


def test_oversampling_happens_after_the_inner_split_on_real_rows(frame):
    X, y, groups, bools, nums = frame
    pipe = make_pipeline("evxgb", bool_columns=bools, numeric_columns=nums, oversample=True, fast=True)
    imbalanced = np.flatnonzero((y == 0) | (np.arange(len(y)) % 3 == 0))
    fit_pipeline(pipe, X.iloc[imbalanced], y[imbalanced], groups[imbalanced])
    est = pipe.named_steps["evxgb"]
    assert est.sampler is not None and "oversample" not in pipe.named_steps
    assert est.inner_eval_idx_.max() < len(imbalanced)  # early stopping judged on real rows
    g = groups[imbalanced]
    assert not set(g[est.inner_train_idx_]) & set(g[est.inner_eval_idx_])


def test_without_groups_the_inner_split_is_stratified(frame):
    X, y, _, _, _ = frame
    clf = EvXGBClassifier(n_estimators=40).fit(X.to_numpy(), y)
    assert clf.inner_split_ == "stratified"
    share = y[clf.inner_eval_idx_].mean()
    assert abs(share - y.mean()) < 0.05
    assert 0 <= clf.best_iteration_ < 40
    assert clf.feature_importances_.shape == (X.shape[1],)


def test_refuses_more_than_two_classes_and_bad_groups(frame):
    X, y, groups, _, _ = frame
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        EvXGBClassifier(n_estimators=5).fit(X.to_numpy(), np.arange(len(y)) % 3)
    with pytest.raises(ValueError, match="groups has 3 entries but X has 300 rows"):
        EvXGBClassifier(n_estimators=5).fit(X.to_numpy(), y, groups=groups[:3])
    for bad in (1.5, 1.0, -0.1, True):
        with pytest.raises(ValueError, match=r"eval_size must be a float in \[0, 1\)"):
            EvXGBClassifier(eval_size=bad).fit(X.to_numpy(), y)
