"""EvXGBClassifier: the scikit-learn contract, settings that survive clone, grouped early stopping."""

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from kemo_attention.models.evxgb import EvXGBClassifier
from kemo_attention.models.zoo import fit_pipeline, make_pipeline


# Fewer rounds than the default 1000 upper bound: the checks test the contract, not accuracy.
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
    params = EvXGBClassifier().get_params()
    assert params["learning_rate"] == 0.01
    assert params["n_estimators"] == 1000
    assert params["eval_size"] == 0.2
    assert params["early_stopping_rounds"] == 10
    assert params["eval_metric"] == "logloss"
    assert params["objective"] == "binary:logistic"
    assert params["random_state"] == 42


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
    with pytest.raises(ValueError, match="eval_size must be a float in"):
        EvXGBClassifier(eval_size=1.5).fit(X.to_numpy(), y)
