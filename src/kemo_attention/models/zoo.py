"""The named model pipelines of spec/evaluation.md, with the user's settings as defaults.

Every model is one pipeline fitted on the training fold only::

    scale    ColumnTransformer: StandardScaler on the numeric columns, bool columns as 0/1
    select   L1Selector(LinearSVC(penalty="l1", C=0.01, ...), threshold=1e-5)
    [oversample]  BoolAwareSMOTE (SMOTE, or SMOTENC when bool columns survived selection)
    to_array      plain float matrix for the estimator
    <name>   the estimator

Columns are chosen by name, so any feature names work (``bpm#AVG#60`` from a user's file,
``ACC_MAG#AVG#M01`` from ours). The scale and select steps output DataFrames so the
sampler can tell which surviving columns are bool; ``to_array`` then strips the names,
because LightGBM and XGBoost reject some characters that feature names may contain.
Output column order is numeric columns first, then bool columns.

``evxgb`` has no ``to_array`` step (EvXGBClassifier converts itself) and no separate
oversample step: its sampler runs inside it, on the inner training part only, after the
participant-grouped early-stopping split. Fit it with :func:`fit_pipeline`, which passes
``groups`` to it as ``evxgb__groups``.

``fast=True`` (tests and quick looks only; recorded in the run manifest) caps the number
of trees: rf 25, lgbm 25 (and inside voting), evxgb 100 rounds. Nothing else changes.

:func:`model_settings` reads the settings back from the estimators themselves (what a run
really used, for the run manifest); :func:`describe_model` says the same in words.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from kemo_attention.errors import KemoError

MODEL_NAMES = ("logreg", "rf", "lgbm", "voting", "evxgb", "dummy")
FRONT_STEPS = 2  # "scale" and "select": identical for every model (the runner shares them per fold)
VOTING_MEMBERS = ("logreg", "rf", "lgbm")  # the soft-voting model's members, each as under its own name

LGBM_PARAMS = dict(
    random_state=42,
    learning_rate=0.03,
    max_depth=5,
    num_leaves=31,
    min_child_samples=10,
    reg_alpha=2.0,
    reg_lambda=2.0,
    subsample=0.8,
    colsample_bytree=0.8,
    n_estimators=100,
    importance_type="gain",
    verbosity=-1,
    n_jobs=1,
)
# The user's forest: depth 5 (also inside voting), otherwise scikit-learn's defaults (100 trees).
RF_PARAMS = dict(max_depth=5, random_state=42, n_jobs=1)
# The user's EvXGB settings are EvXGBClassifier's own defaults (models/evxgb.py); only the
# seed and the fast cap are set here.
EVXGB_FAST_ROUNDS = 100

_SELECTOR_TEXT = (
    "StandardScaler on numeric columns (bool columns as 0/1) -> "
    "SelectFromModel(LinearSVC(penalty='l1', loss='squared_hinge', dual=False, tol=1e-3, C=0.01, "
    "max_iter=5000, random_state=42), threshold=1e-5; keeps the single strongest feature when "
    "none passes)"
)

_DESCRIPTIONS = {
    "logreg": "LogisticRegression with an L1 penalty (liblinear solver, random_state=42).",
    "rf": "RandomForestClassifier(max_depth=5, random_state=42, n_jobs=1), 100 trees: the user's settings.",
    "lgbm": (
        "LGBMClassifier(random_state=42, learning_rate=0.03, max_depth=5, num_leaves=31, "
        "min_child_samples=10, reg_alpha=2.0, reg_lambda=2.0, subsample=0.8, colsample_bytree=0.8, "
        "n_estimators=100, importance_type='gain', n_jobs=1): the user's settings. Note: LightGBM's "
        "subsample=0.8 has no effect because subsample_freq is 0 (bagging is off unless "
        "subsample_freq > 0); kept as the user set it."
    ),
    "voting": (
        "Soft VotingClassifier of logreg + rf + lgbm (each as described for its own name: the "
        "forest with max_depth=5; the lgbm member's subsample has no effect without subsample_freq > 0)."
    ),
    "evxgb": (
        "EvXGBClassifier: XGBoost (objective='binary:logistic', learning_rate=0.03, max_depth=3, "
        "gamma=2.0, reg_alpha=2.0, reg_lambda=2.0, subsample=0.8, colsample_bytree=0.8, "
        "n_estimators=2000 as an upper bound, random_state=42): the user's settings, with early "
        "stopping (early_stopping_rounds=50, eval_metric='logloss') on an inner validation split "
        "of the training fold (eval_size=0.2) that holds out whole participants; the rounds used "
        "are recorded per fold. Without a usable inner split it trains all rounds on all rows."
    ),
    "dummy": "DummyClassifier(strategy='prior'): predicts the training base rate; the floor to read results against.",
}


def describe_model(name: str) -> str:
    """One paragraph saying what the named pipeline does (used in reports and bundles)."""
    _check_name(name)
    return f"{name}: {_DESCRIPTIONS[name]} Pipeline: {_SELECTOR_TEXT}."


def model_settings(name: str, *, random_state: int = 42, fast: bool = False) -> dict:
    """The estimator's settings as the named pipeline builds them (JSON-ready).

    Read back with ``get_params`` from the objects :func:`make_pipeline` uses, so the
    manifest shows what ran, not what was meant. ``voting`` lists its members' settings;
    every model also lists the selector's.
    """
    _check_name(name)

    def plain(params: dict) -> dict:
        out = {}
        for key, value in sorted(params.items()):
            if value is None or isinstance(value, (bool, int, float, str)):
                out[key] = value
            elif isinstance(value, (np.integer, np.floating)):
                out[key] = value.item()
        return out

    estimator = _estimator(name, random_state, fast, None)
    if name == "voting":
        settings = {
            "voting": estimator.voting,
            "members": {m: {"estimator": type(e).__name__, **plain(e.get_params())} for m, e in estimator.estimators},
        }
    else:
        settings = plain(estimator.get_params(deep=False))
    selector = _selector(random_state)
    return {
        "estimator": type(estimator).__name__,
        **settings,
        "selector": {"estimator": "LinearSVC", "threshold": selector.threshold, **plain(selector.estimator.get_params())},
    }


def _selector(random_state: int):
    from sklearn.svm import LinearSVC

    from kemo_attention.models.selection import L1Selector

    return L1Selector(
        LinearSVC(
            penalty="l1",
            loss="squared_hinge",
            dual=False,
            tol=1e-3,
            C=0.01,
            max_iter=5000,
            random_state=random_state,
        ),
        threshold=1e-5,
    )


def _check_name(name: str) -> None:
    if name not in MODEL_NAMES:
        raise KemoError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def _as_float(X):
    """Bool columns as 0.0/1.0 (keeps a DataFrame a DataFrame)."""
    return X.astype(np.float64)


def _to_array(X):
    # a copy, never a view: the runner reuses the selected matrix for the other models of a fold
    return np.array(X, dtype=np.float64, copy=True)


def _logreg(random_state: int):
    import sklearn
    from sklearn.linear_model import LogisticRegression

    # scikit-learn 1.8 deprecated penalty= in favour of l1_ratio=; before 1.8, l1_ratio alone
    # would silently give an L2 model, so pick the spelling by version.
    major, minor = (int(p) for p in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        return LogisticRegression(l1_ratio=1.0, solver="liblinear", random_state=random_state)
    return LogisticRegression(penalty="l1", solver="liblinear", random_state=random_state)


def _estimator(name: str, random_state: int, fast: bool, sampler):
    if name == "logreg":
        return _logreg(random_state)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        params = dict(RF_PARAMS, random_state=random_state, n_estimators=25 if fast else 100)
        return RandomForestClassifier(**params)
    if name == "lgbm":
        from lightgbm import LGBMClassifier

        params = dict(LGBM_PARAMS, random_state=random_state)
        if fast:
            params["n_estimators"] = 25
        return LGBMClassifier(**params)
    if name == "voting":
        from sklearn.ensemble import VotingClassifier

        members = [(m, _estimator(m, random_state, fast, None)) for m in VOTING_MEMBERS]
        return VotingClassifier(members, voting="soft")
    if name == "evxgb":
        from kemo_attention.models.evxgb import EvXGBClassifier

        clf = EvXGBClassifier(random_state=random_state, sampler=sampler)
        if fast:
            clf.set_params(n_estimators=EVXGB_FAST_ROUNDS)
        return clf
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="prior")


def make_pipeline(
    name: str,
    *,
    bool_columns: Sequence[str],
    numeric_columns: Sequence[str],
    oversample: bool = False,
    random_state: int = 42,
    fast: bool = False,
):
    """Build the unfitted pipeline ``name`` (one of :data:`MODEL_NAMES`).

    Parameters
    ----------
    name : model name
    bool_columns, numeric_columns : feature names; columns in neither list are dropped.
    oversample : SMOTE/SMOTENC on the training rows after selection.
    random_state : seed of the selector, the sampler and the estimator.
    fast : fewer trees, for plumbing tests only (module docstring).

    Returns
    -------
    imblearn.pipeline.Pipeline (a subclass of sklearn.pipeline.Pipeline)
    """
    from imblearn.pipeline import Pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from kemo_attention.models.sampling import BoolAwareSMOTE

    _check_name(name)
    bool_columns, numeric_columns = list(bool_columns), list(numeric_columns)
    overlap = sorted(set(bool_columns) & set(numeric_columns))
    if overlap:
        raise KemoError(f"columns listed as both bool and numeric: {', '.join(overlap[:5])}")
    if not bool_columns and not numeric_columns:
        raise KemoError("make_pipeline needs at least one feature column")

    parts = []
    if numeric_columns:
        parts.append(("num", StandardScaler(), numeric_columns))
    if bool_columns:
        parts.append(("bool", FunctionTransformer(_as_float, feature_names_out="one-to-one"), bool_columns))
    scale = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
    select = _selector(random_state)
    steps = [("scale", scale.set_output(transform="pandas")), ("select", select.set_output(transform="pandas"))]
    sampler = BoolAwareSMOTE(bool_columns=tuple(bool_columns), random_state=random_state) if oversample else None
    if name == "evxgb":
        steps.append((name, _estimator(name, random_state, fast, sampler)))
    else:
        if sampler is not None:
            steps.append(("oversample", sampler))
        steps.append(("to_array", FunctionTransformer(_to_array)))
        steps.append((name, _estimator(name, random_state, fast, None)))
    return Pipeline(steps)


def same_settings(fitted, unfitted) -> bool:
    """Whether ``fitted`` is what fitting ``unfitted`` would give on the same rows: the same
    class with the same parameters (fitting is deterministic)."""
    return type(fitted) is type(unfitted) and fitted.get_params() == unfitted.get_params()


def soft_voting_from_fitted(voting, members: dict, y):
    """``voting`` (an unfitted soft VotingClassifier) as ``voting.fit(X, y)`` would leave it,
    built from ``members`` (name -> estimator) already fitted on those ``X, y``.

    ``VotingClassifier.fit`` encodes ``y`` with a LabelEncoder and fits a clone of every
    member on ``X`` and the encoded labels; its ``predict_proba`` is the (weighted) mean of
    the members' ``predict_proba``. A clone fitted on the same rows with the same settings
    is the same model, as fitting is deterministic (every member here has a fixed
    random_state), so the evaluation reuses the members it fitted under their own names
    instead of fitting them twice. The caller guarantees the rows; this checks the rest:
    soft voting, the same member names in the same order, each member of the same class
    with the same parameters, and labels that the encoder leaves unchanged (0 and 1), so
    that the members saw the labels ``fit`` would have given them.
    """
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    if voting.voting != "soft":
        raise ValueError(f"only soft voting averages its members' probabilities; got voting={voting.voting!r}")
    names = [name for name, _ in voting.estimators]
    if names != list(members):
        raise ValueError(f"voting members {names} differ from the fitted ones {list(members)}")
    for name, unfitted in voting.estimators:
        fitted = members[name]
        if not same_settings(fitted, unfitted):
            raise ValueError(f"voting member {name!r} has other settings than the fitted {type(fitted).__name__}")
    encoder = LabelEncoder().fit(y)
    if not np.array_equal(encoder.transform(encoder.classes_), encoder.classes_):
        raise ValueError(f"labels {encoder.classes_.tolist()} are re-encoded by VotingClassifier; expected 0 and 1")
    voting.le_ = encoder
    voting.classes_ = encoder.classes_
    voting.estimators_ = [members[name] for name in names]
    voting.named_estimators_ = Bunch(**{name: members[name] for name in names})
    for name in names:  # as fit does: the last member that has them
        if hasattr(members[name], "feature_names_in_"):
            voting.feature_names_in_ = members[name].feature_names_in_
    return voting


def fit_pipeline(pipeline, X, y, groups=None):
    """Fit ``pipeline`` on ``X, y``; participant ``groups`` go to an EvXGB step (early stopping)."""
    params = {}
    if groups is not None and "evxgb" in pipeline.named_steps:
        params["evxgb__groups"] = np.asarray(groups)
    return pipeline.fit(X, y, **params)


def model_name(pipeline) -> str:
    """The model name of a pipeline made by :func:`make_pipeline` (its last step's name)."""
    return pipeline.steps[-1][0]


def selected_features(pipeline) -> list[str]:
    """Names of the features the fitted selector kept, in the order the estimator sees them."""
    return [str(c) for c in pipeline.named_steps["select"].get_feature_names_out()]


def feature_importances(pipeline) -> np.ndarray:
    """Importance of each selected feature (aligned with :func:`selected_features`).

    logreg: signed coefficient; rf, lgbm, evxgb: ``feature_importances_`` (lgbm: total
    gain; evxgb: XGBoost's normalised gain); voting: mean over its three members of
    |importance| normalised to sum 1 per member; dummy: NaN.
    """
    name = model_name(pipeline)
    est = pipeline.steps[-1][1]
    n = len(selected_features(pipeline))
    if name == "logreg":
        return np.asarray(est.coef_, dtype=float).ravel()
    if name in ("rf", "lgbm", "evxgb"):
        return np.asarray(est.feature_importances_, dtype=float)
    if name == "voting":
        parts = []
        for member in est.estimators_:
            raw = member.coef_.ravel() if hasattr(member, "coef_") else member.feature_importances_
            raw = np.abs(np.asarray(raw, dtype=float))
            total = raw.sum()
            parts.append(raw / total if total > 0 else np.zeros_like(raw))
        return np.mean(parts, axis=0)
    return np.full(n, np.nan)
