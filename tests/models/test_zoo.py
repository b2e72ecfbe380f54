"""The named pipelines: user's settings, training rows only, foreign names, selection fallback."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.svm import LinearSVC

from kemo_attention.errors import KemoError
from kemo_attention.models.sampling import BoolAwareSMOTE
from kemo_attention.models.selection import L1Selector
from kemo_attention.models.zoo import (
    MODEL_NAMES,
    describe_model,
    feature_importances,
    fit_pipeline,
    make_pipeline,
    model_settings,
    selected_features,
)


def _split(groups, test=("P01", "P02", "P03")):
    test_mask = np.isin(groups, test)
    return np.flatnonzero(~test_mask), np.flatnonzero(test_mask)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_fits_on_foreign_feature_names(frame, name):
    X, y, groups, bools, nums = frame
    tr, te = _split(groups)
    pipe = make_pipeline(name, bool_columns=bools, numeric_columns=nums, fast=True)
    fit_pipeline(pipe, X.iloc[tr], y[tr], groups[tr])
    proba = pipe.predict_proba(X.iloc[te])
    assert proba.shape == (len(te), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    names = selected_features(pipe)
    assert names and set(names) <= set(X.columns)
    importances = feature_importances(pipe)
    assert importances.shape == (len(names),)
    if name == "dummy":
        assert np.isnan(importances).all()
    else:
        assert np.isfinite(importances).all()


def _front_of_fold(X, y, train, test, bools, nums):
    """The scale + select front as an evaluation run fits it: given ALL rows and the fold's indices."""
    from kemo_attention.evaluate import runner

    settings = {"seed": 42, "bool_columns": bools, "numeric_columns": nums}
    scale, select, _, _, _ = runner.fit_front(train, test, X, y, settings)
    return scale, select


def _assert_fitted_on_training_rows_only(scale, select, X, y, train, bools, nums):
    scaler = scale.named_transformers_["num"]
    train_values = X.iloc[train][nums].to_numpy(dtype=np.float64)
    assert np.allclose(scaler.mean_, train_values.mean(axis=0), atol=1e-5)
    assert np.allclose(scaler.scale_, train_values.std(axis=0), rtol=1e-4)
    assert np.abs(scaler.mean_).max() < 1.0  # would be ~1e5 if the test rows had leaked in

    # the selector's LinearSVC equals one fitted independently on the scaled training rows
    scaled = np.hstack([(train_values - train_values.mean(0)) / train_values.std(0), X.iloc[train][bools].to_numpy(float)])
    ref = LinearSVC(penalty="l1", loss="squared_hinge", dual=False, tol=1e-3, C=0.01, max_iter=5000, random_state=42)
    ref.fit(scaled, y[train])
    assert np.allclose(select.estimator_.coef_, ref.coef_, atol=1e-4)
    expected = [c for c, w in zip(nums + bools, np.abs(ref.coef_.ravel())) if w >= 1e-5]
    assert [str(c) for c in select.get_feature_names_out()] == expected


def _with_extreme_test_rows(X, test, nums):
    X = X.copy()
    # extreme values in the TEST rows only: any leak into fitting would show in mean_/coef_
    X.loc[X.index[test], nums] = 1e6
    return X


def test_scaler_and_selector_see_training_rows_only(frame):
    X, y, groups, bools, nums = frame
    tr, te = _split(groups)
    X = _with_extreme_test_rows(X, te, nums)
    # the fold's front is handed every row, test rows included, as in an evaluation run
    scale, select = _front_of_fold(X, y, tr, te, bools, nums)
    _assert_fitted_on_training_rows_only(scale, select, X, y, tr, bools, nums)

    # the same pipeline through fit_pipeline on the training rows agrees
    pipe = make_pipeline("logreg", bool_columns=bools, numeric_columns=nums)
    fit_pipeline(pipe, X.iloc[tr], y[tr], groups[tr])
    _assert_fitted_on_training_rows_only(pipe.named_steps["scale"], pipe.named_steps["select"], X, y, tr, bools, nums)


def test_the_training_rows_check_catches_a_leaky_fit(frame):
    # a deliberately leaky front, fitted on training AND test rows: the check above must trip
    X, y, groups, bools, nums = frame
    tr, te = _split(groups)
    X = _with_extreme_test_rows(X, te, nums)
    leaky_scale, leaky_select = _front_of_fold(X, y, np.arange(len(y)), te, bools, nums)
    with pytest.raises(AssertionError):
        _assert_fitted_on_training_rows_only(leaky_scale, leaky_select, X, y, tr, bools, nums)
    assert np.abs(leaky_scale.named_transformers_["num"].mean_).max() > 1e5  # the "~1e5" the check names


def test_the_user_settings_are_kept(frame):
    X, y, groups, bools, nums = frame
    lgbm = make_pipeline("lgbm", bool_columns=bools, numeric_columns=nums).named_steps["lgbm"].get_params()
    expected = dict(random_state=42, learning_rate=0.03, max_depth=5, num_leaves=31, min_child_samples=10,
                    reg_alpha=2.0, reg_lambda=2.0, subsample=0.8, colsample_bytree=0.8, n_estimators=100,
                    importance_type="gain", verbosity=-1, n_jobs=1)  # fmt: skip
    assert {k: lgbm[k] for k in expected} == expected
    assert lgbm["subsample_freq"] == 0  # kept as the user set it; the description says so
    assert "subsample_freq" in describe_model("lgbm")

    select = make_pipeline("rf", bool_columns=bools, numeric_columns=nums).named_steps["select"]
    svc = select.estimator.get_params()
    assert (svc["penalty"], svc["loss"], svc["dual"], svc["tol"], svc["C"], svc["max_iter"]) == ("l1", "squared_hinge", False, 1e-3, 0.01, 5000)
    assert select.threshold == 1e-5

    rf = make_pipeline("rf", bool_columns=bools, numeric_columns=nums).named_steps["rf"]
    assert (rf.max_depth, rf.random_state, rf.n_estimators) == (5, 42, 100)  # the user's forest
    voting = make_pipeline("voting", bool_columns=bools, numeric_columns=nums).named_steps["voting"]
    assert voting.voting == "soft" and [n for n, _ in voting.estimators] == ["logreg", "rf", "lgbm"]
    assert dict(voting.estimators)["rf"].max_depth == 5  # the same forest inside the ensemble
    dummy = make_pipeline("dummy", bool_columns=bools, numeric_columns=nums).named_steps["dummy"]
    assert dummy.strategy == "prior"
    evxgb = make_pipeline("evxgb", bool_columns=bools, numeric_columns=nums).named_steps["evxgb"].get_params()
    users = dict(learning_rate=0.03, max_depth=3, gamma=2.0, reg_alpha=2.0, reg_lambda=2.0, subsample=0.8,
                 colsample_bytree=0.8, eval_size=0.2, early_stopping_rounds=50, random_state=42)  # fmt: skip
    assert {k: evxgb[k] for k in users} == users
    assert evxgb["n_estimators"] >= 1000


def _settings_named_in(text):
    """name=value pairs written in a description, values parsed as numbers or quoted strings."""
    pairs = {}
    for key, raw in re.findall(r"\b([a-z_]+)=('[^']*'|[-0-9.e]+)", text):
        pairs[key] = raw.strip("'") if raw.startswith("'") else float(raw)
    return pairs


@pytest.mark.parametrize("name", ["rf", "lgbm", "evxgb"])
def test_the_description_states_the_settings_the_model_really_has(name):
    # every name=value the text gives must be the value the built estimator carries
    stated = _settings_named_in(describe_model(name).split(" Pipeline:")[0])
    actual = model_settings(name)
    assert len(stated) >= 3
    for key, value in stated.items():
        assert key in actual, key
        assert actual[key] == value, (key, actual[key], value)
    if name == "rf":
        assert stated["max_depth"] == 5
    if name == "evxgb":
        assert {k: stated[k] for k in ("learning_rate", "max_depth", "gamma", "early_stopping_rounds")} == {
            "learning_rate": 0.03, "max_depth": 3, "gamma": 2.0, "early_stopping_rounds": 50}  # fmt: skip


def test_model_settings_follow_the_seed_and_the_fast_cap():
    assert model_settings("rf", random_state=7)["random_state"] == 7
    assert model_settings("rf", fast=True)["n_estimators"] == 25
    assert model_settings("evxgb", fast=True)["n_estimators"] == 100
    voting = model_settings("voting")
    assert voting["voting"] == "soft" and voting["members"]["rf"]["max_depth"] == 5
    assert voting["members"]["lgbm"]["learning_rate"] == 0.03
    assert model_settings("logreg")["selector"]["C"] == 0.01


def test_logreg_is_l1(frame):
    X, y, groups, bools, nums = frame
    rng = np.random.default_rng(1)
    noise = pd.DataFrame(rng.normal(size=(len(y), 30)), columns=[f"noise#{i}" for i in range(30)])
    Xn = pd.concat([X, noise], axis=1)
    pipe = make_pipeline("logreg", bool_columns=bools, numeric_columns=nums + list(noise.columns))
    est = pipe.named_steps["logreg"]
    assert est.solver == "liblinear" and est.random_state == 42
    # an L1 model on pure noise drops (exact zeros) features that an L2 model would keep
    est.set_params(C=0.05).fit(noise.to_numpy(), y)
    assert (est.coef_ == 0).sum() >= 10
    fit_pipeline(pipe, Xn, y)


def test_voting_importance_is_the_mean_of_normalised_member_importances(frame):
    X, y, groups, bools, nums = frame
    pipe = make_pipeline("voting", bool_columns=bools, numeric_columns=nums, fast=True)
    fit_pipeline(pipe, X, y, groups)
    members = pipe.named_steps["voting"].estimators_
    parts = []
    for m, raw in zip(members, [members[0].coef_.ravel(), members[1].feature_importances_, members[2].feature_importances_]):
        parts.append(np.abs(raw) / np.abs(raw).sum())
    assert np.allclose(feature_importances(pipe), np.mean(parts, axis=0))
    assert feature_importances(pipe).sum() == pytest.approx(1.0)


def test_a_selector_that_keeps_nothing_falls_back_to_one_feature():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(60, 6)), columns=[f"hr#{c}" for c in "abcdef"])
    y = rng.integers(0, 2, 60)
    X["hr#d"] = X["hr#d"] + 0.35 * (2 * y - 1)  # the column most correlated with y
    pipe = make_pipeline("lgbm", bool_columns=[], numeric_columns=list(X.columns))
    fit_pipeline(pipe, X, y)
    select = pipe.named_steps["select"]
    assert select.fallback_used_
    assert not np.any(np.abs(select.estimator_.coef_) >= 1e-5)  # SelectFromModel alone keeps zero
    coef = np.abs(select.estimator_.coef_.ravel())
    if coef.max() > 0:
        expected = X.columns[int(np.argmax(coef))]
    else:
        corr = [abs(np.corrcoef(X[c], y)[0, 1]) for c in X.columns]
        expected = X.columns[int(np.argmax(corr))]
    assert selected_features(pipe) == [expected]
    assert pipe.predict_proba(X).shape == (60, 2)


def test_l1_selector_matches_select_from_model_when_features_pass(frame):
    from sklearn.feature_selection import SelectFromModel

    X, y, _, _, nums = frame
    Xs = (X[nums] - X[nums].mean()) / X[nums].std()
    svc = LinearSVC(penalty="l1", dual=False, C=0.01, tol=1e-3, max_iter=5000, random_state=42)
    ours = L1Selector(svc, threshold=1e-5).fit(Xs, y)
    theirs = SelectFromModel(svc, threshold=1e-5).fit(Xs, y)
    assert not ours.fallback_used_
    assert (ours.get_support() == theirs.get_support()).all()


def test_oversampling_uses_smotenc_when_bool_columns_survive(frame):
    X, y, _, bools, nums = frame
    keep = np.flatnonzero((y == 0) | (np.arange(len(y)) % 4 == 0))
    Xi, yi = X.iloc[keep][nums[:5] + bools[:2]].astype(float), y[keep]
    sampler = BoolAwareSMOTE(bool_columns=bools, random_state=0)
    Xr, yr = sampler.fit_resample(Xi, yi)
    assert sampler.kind_ == "SMOTENC"
    assert np.bincount(yr)[0] == np.bincount(yr)[1] == np.bincount(yi).max()
    assert (Xr.iloc[: len(Xi)].to_numpy() == Xi.to_numpy()).all()  # originals first, untouched
    assert set(np.unique(Xr[bools[:2]].to_numpy())) <= {0.0, 1.0}  # synthetic bools stay 0/1
    only_numeric = BoolAwareSMOTE(bool_columns=bools, random_state=0)
    only_numeric.fit_resample(X.iloc[keep][nums[:5]], yi)
    assert only_numeric.kind_ == "SMOTE"


def test_oversampled_pipeline_trains_on_balanced_rows(frame):
    X, y, groups, bools, nums = frame
    keep = np.flatnonzero((y == 0) | (np.arange(len(y)) % 4 == 0))
    pipe = make_pipeline("rf", bool_columns=bools, numeric_columns=nums, oversample=True, fast=True)
    fit_pipeline(pipe, X.iloc[keep], y[keep], groups[keep])
    assert pipe.named_steps["oversample"].kind_ in ("SMOTE", "SMOTENC")
    assert pipe.predict_proba(X).shape == (len(y), 2)


def test_unknown_model_and_bad_columns_are_refused():
    with pytest.raises(KemoError, match="unknown model 'svm'; choose from logreg, rf, lgbm, voting, evxgb, dummy"):
        make_pipeline("svm", bool_columns=[], numeric_columns=["a"])
    with pytest.raises(KemoError, match="both bool and numeric: a"):
        make_pipeline("rf", bool_columns=["a"], numeric_columns=["a"])
    with pytest.raises(KemoError, match="unknown model"):
        describe_model("svm")


def _members(X, y, **rf_params):
    from kemo_attention.models.zoo import VOTING_MEMBERS, _estimator

    members = {m: _estimator(m, 42, True, None) for m in VOTING_MEMBERS}
    members["rf"].set_params(**rf_params)
    return {m: est.fit(X, y) for m, est in members.items()}


def test_soft_voting_built_from_fitted_members_equals_fitting_it(frame):
    from kemo_attention.models.zoo import _estimator, soft_voting_from_fitted

    X, y, groups, bools, nums = frame
    Xa = X.to_numpy(dtype=np.float64)
    tr, te = _split(groups)
    fitted = _estimator("voting", 42, True, None).fit(Xa[tr], y[tr])
    built = soft_voting_from_fitted(_estimator("voting", 42, True, None), _members(Xa[tr], y[tr]), y[tr])
    # bit for bit, on unseen rows and on the training rows
    assert np.array_equal(built.predict_proba(Xa[te]), fitted.predict_proba(Xa[te]))
    assert np.array_equal(built.predict_proba(Xa[tr]), fitted.predict_proba(Xa[tr]))
    assert np.array_equal(built.predict(Xa[te]), fitted.predict(Xa[te]))
    assert list(built.named_estimators_) == ["logreg", "rf", "lgbm"] and built.classes_.tolist() == [0, 1]
    # and the average really is over three different models (else the check above is weak)
    probas = [m.predict_proba(Xa[te])[:, 1] for m in built.estimators_]
    assert not np.allclose(probas[0], probas[1]) and not np.allclose(probas[1], probas[2])


def test_soft_voting_refuses_members_it_would_not_have_fitted(frame):
    from kemo_attention.models.zoo import _estimator, soft_voting_from_fitted

    X, y, groups, bools, nums = frame
    Xa = X.to_numpy(dtype=np.float64)
    other = _members(Xa, y, max_depth=3)  # not the voting model's forest
    with pytest.raises(ValueError, match="voting member 'rf' has other settings"):
        soft_voting_from_fitted(_estimator("voting", 42, True, None), other, y)
    same = _members(Xa, y)
    with pytest.raises(ValueError, match="differ from the fitted ones"):
        soft_voting_from_fitted(_estimator("voting", 42, True, None), {k: same[k] for k in ("rf", "logreg", "lgbm")}, y)
    with pytest.raises(ValueError, match="only soft voting"):
        soft_voting_from_fitted(_estimator("voting", 42, True, None).set_params(voting="hard"), same, y)
    with pytest.raises(ValueError, match="re-encoded"):
        soft_voting_from_fitted(_estimator("voting", 42, True, None), same, y + 1)
