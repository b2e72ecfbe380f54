"""A simulation that checks the study's statistics keep their promises (issue 17, item 9).

A generator of participant-grouped data with person-to-person differences, and a loop that
runs the study's two designs on many independent draws of it with two cheap models (a
logistic regression on a few features and the prior-predicting dummy), recording what
``study.stats`` concludes each time:

* **false positives**: with labels that carry no signal, how often a test calls the two
  models different (at most alpha, up to simulation error); the naive t-test over the
  overlapping folds is run beside the corrected one, to show why the correction is there,
  and so is a Wilcoxon test over participants of the same folds (each participant's AUC
  averaged over the repeats), the alternative docs/evaluation.md weighs;
* **power**: with a planted effect, how often the tests detect it;
* **coverage**: how often the 95 % intervals hold the true value, the expected score of the
  same procedure on new participants (``true_scores``, from a large fresh sample).

Shared by tests/study/test_simulation.py (few draws) and bench/simulate_study_stats.py
(more draws, results in bench/results/study-simulation.json).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import sklearn
from scipy import stats as scipy_stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from kemo_attention.study import stats


@dataclass(frozen=True)
class Scenario:
    """The generator's settings: participants answer a few prompts each; every participant has
    their own answer base rate and their own feature means (person-to-person differences); the
    label depends on feature 0's deviation from the participant's own mean, ``effect`` in
    log-odds per unit (0: no signal at all)."""

    n_participants: int = 20
    prompts_low: int = 12
    prompts_high: int = 20
    n_features: int = 3
    effect: float = 0.0
    base_rate_logit: float = -0.4  # a base rate of 0.40 for the typical participant
    base_rate_sd: float = 0.8  # spread of participants' base rates (logit scale)
    feature_shift_sd: float = 1.0  # spread of participants' feature means
    repeats: int = 5
    folds: int = 5


def generate(scenario: Scenario, rng: np.random.Generator, n_participants: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, participant) for ``n_participants`` (default: the scenario's) new participants."""
    n = scenario.n_participants if n_participants is None else n_participants
    prompts = rng.integers(scenario.prompts_low, scenario.prompts_high + 1, size=n)
    group = np.repeat(np.arange(n), prompts)
    shift = rng.normal(0.0, scenario.feature_shift_sd, size=(n, scenario.n_features))[group]
    base = rng.normal(scenario.base_rate_logit, scenario.base_rate_sd, size=n)[group]
    within = rng.normal(size=(group.size, scenario.n_features))
    logit = base + scenario.effect * within[:, 0]
    y = (rng.random(group.size) < 1 / (1 + np.exp(-logit))).astype(int)
    return shift + within, y, group


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half); NaN with one class."""
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = scipy_stats.rankdata(score)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _model_and_dummy(X_train, y_train, X_test) -> tuple[np.ndarray, np.ndarray]:
    """P(y=1) on the test rows from the logistic regression and from the dummy.

    The dummy (``DummyClassifier(strategy="prior")``) gives every row the training share of
    1s; that constant is computed directly, as fitting the classifier thousands of times
    would cost more than the whole logistic regression and change no number
    (tests/study/test_simulation.py checks the two agree).
    """
    model = LogisticRegression(solver="liblinear").fit(X_train, y_train)
    return model.predict_proba(X_test)[:, 1], np.full(len(X_test), y_train.mean())


def run_draw(scenario: Scenario, seed: int, alpha: float = 0.05) -> dict:
    """One data set, both designs, every test and interval: one record."""
    # the arrays are ours and finite: scikit-learn's per-call checks would cost more than the fits
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        return _run_draw(scenario, seed, alpha)


def _run_draw(scenario: Scenario, seed: int, alpha: float) -> dict:
    rng = np.random.default_rng(seed)
    X, y, group = generate(scenario, rng)

    # repeated stratified group k-fold: R x K fold scores per model
    model_auc, dummy_auc, n_train, n_test = [], [], [], []
    participants = np.unique(group)
    # each participant's own AUC in every repeat (tested once per repeat): participant x repeat
    own_model = np.full((participants.size, scenario.repeats), np.nan)
    own_dummy = np.full_like(own_model, np.nan)
    for repeat in range(scenario.repeats):
        splitter = StratifiedGroupKFold(scenario.folds, shuffle=True, random_state=int(rng.integers(2**31)))
        for train, test in splitter.split(X, y, group):
            p_model, p_dummy = _model_and_dummy(X[train], y[train], X[test])
            model_auc.append(auc(y[test], p_model))
            dummy_auc.append(auc(y[test], p_dummy))
            n_train.append(train.size)
            n_test.append(test.size)
            for who in np.unique(group[test]):
                rows = group[test] == who
                own_model[who, repeat] = auc(y[test][rows], p_model[rows])
                own_dummy[who, repeat] = auc(y[test][rows], p_dummy[rows])
    diffs = np.array(model_auc) - np.array(dummy_auc)
    mean_train, mean_test = float(np.mean(n_train)), float(np.mean(n_test))
    corrected = stats.corrected_resampled_ttest(diffs, mean_train, mean_test, alpha)
    model_interval = stats.corrected_resampled_interval(model_auc, mean_train, mean_test, alpha)
    finite = diffs[~np.isnan(diffs)]
    naive_p = float(scipy_stats.ttest_1samp(finite, 0.0).pvalue) if np.std(finite) > 0 else math.nan

    # the same folds seen participant by participant: a participant's AUC averaged over repeats
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a participant with one class: all-NaN row
        by_participant = stats.wilcoxon_paired(np.nanmean(own_model, axis=1), np.nanmean(own_dummy, axis=1), alpha)

    # leave one participant out: one score per participant
    participant_model, participant_dummy = [], []
    for held_out in np.unique(group):
        test = group == held_out
        p_model, p_dummy = _model_and_dummy(X[~test], y[~test], X[test])
        participant_model.append(auc(y[test], p_model))
        participant_dummy.append(auc(y[test], p_dummy))
    wilcoxon = stats.wilcoxon_paired(participant_model, participant_dummy, alpha)
    logo_interval = stats.participant_interval(participant_model, alpha)

    return {
        "seed": seed,
        "sgkf_mean_difference": corrected.mean_difference,
        "sgkf_corrected_p": corrected.p_value,
        "sgkf_corrected_ci_low": corrected.ci_low,
        "sgkf_corrected_ci_high": corrected.ci_high,
        "sgkf_naive_p": naive_p,
        "sgkf_auc": model_interval.mean,
        "sgkf_auc_ci_low": model_interval.ci_low,
        "sgkf_auc_ci_high": model_interval.ci_high,
        "sgkf_folds_excluded": corrected.n_excluded,
        "sgkf_participant_mean_difference": by_participant.mean_difference,
        "sgkf_participant_wilcoxon_p": by_participant.p_value,
        "logo_mean_difference": wilcoxon.mean_difference,
        "logo_wilcoxon_p": wilcoxon.p_value,
        "logo_auc": logo_interval.mean,
        "logo_auc_ci_low": logo_interval.ci_low,
        "logo_auc_ci_high": logo_interval.ci_high,
        "logo_participants_excluded": logo_interval.n_excluded,
    }


def simulate(scenario: Scenario, draws: int, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """``draws`` independent data sets (seeds from one ``SeedSequence``): one row each."""
    seeds = np.random.SeedSequence(seed).generate_state(draws)
    return pd.DataFrame([run_draw(scenario, int(s), alpha) for s in seeds])


def true_scores(scenario: Scenario, replicates: int, seed: int = 0, participants_per_model: int = 10) -> dict:
    """The values the intervals estimate, from fresh data sets of the same generator.

    * ``sgkf_auc``: the expected ROC AUC of the logistic regression trained on new
      participants as many as a training fold holds (N - N/K) and scored, pooled, on as many
      new participants as a test fold holds (N/K): what the fold scores of repeated CV average;
    * ``logo_auc``: the expected per-participant ROC AUC of the model trained on N - 1 new
      participants, for a new participant who gave both answers (the ones with one answer have
      no AUC and are left out of the study's mean too).
    Each with its Monte Carlo standard error (for ``logo_auc`` a slight underestimate: the
    ``participants_per_model`` participants scored by one fitted model share it). The dummy's AUC is 0.5 in every fold and
    participant (a constant score), so the true difference is the model's AUC - 0.5.
    """
    rng = np.random.default_rng(seed)
    n, k = scenario.n_participants, scenario.folds
    n_test = max(1, round(n / k))
    fold_scores, participant_scores = [], []
    for _ in range(replicates):
        X, y, _group = generate(scenario, rng, n - n_test)
        X_new, y_new, _group = generate(scenario, rng, n_test)
        model = LogisticRegression(solver="liblinear").fit(X, y)
        fold_scores.append(auc(y_new, model.predict_proba(X_new)[:, 1]))
        X, y, _group = generate(scenario, rng, n - 1)
        model = LogisticRegression(solver="liblinear").fit(X, y)
        X_new, y_new, group_new = generate(scenario, rng, participants_per_model)
        p_new = model.predict_proba(X_new)[:, 1]
        participant_scores.extend(auc(y_new[group_new == i], p_new[group_new == i]) for i in range(participants_per_model))
    fold_scores = np.array(fold_scores)[~np.isnan(fold_scores)]
    participant_scores = np.array(participant_scores)[~np.isnan(participant_scores)]
    return {
        "sgkf_auc": float(fold_scores.mean()),
        "sgkf_auc_se": float(fold_scores.std(ddof=1) / math.sqrt(fold_scores.size)),
        "logo_auc": float(participant_scores.mean()),
        "logo_auc_se": float(participant_scores.std(ddof=1) / math.sqrt(participant_scores.size)),
        "replicates": replicates,
    }


def binomial_se(rate: float, draws: int) -> float:
    """Standard error of a share observed over ``draws`` independent draws."""
    return math.sqrt(rate * (1 - rate) / draws)


def summarize(records: pd.DataFrame, truth: dict | None = None, alpha: float = 0.05) -> dict:
    """Rejection rates (two-sided p < alpha, and 'model better': rejected with a positive
    difference) of the corrected, naive and Wilcoxon tests; with ``truth``, the share of
    draws whose intervals hold the true values."""
    draws = len(records)
    out: dict = {"draws": draws, "alpha": alpha}
    for name, p_col, diff_col in (
        ("sgkf_corrected", "sgkf_corrected_p", "sgkf_mean_difference"),
        ("sgkf_naive", "sgkf_naive_p", "sgkf_mean_difference"),
        ("sgkf_participant_wilcoxon", "sgkf_participant_wilcoxon_p", "sgkf_participant_mean_difference"),
        ("logo_wilcoxon", "logo_wilcoxon_p", "logo_mean_difference"),
    ):
        rejected = records[p_col] < alpha
        out[f"{name}_rejection_rate"] = float(rejected.mean())
        out[f"{name}_better_rate"] = float((rejected & (records[diff_col] > 0)).mean())
    if truth is not None:
        true_difference = truth["sgkf_auc"] - 0.5
        out["true"] = dict(truth)
        out["sgkf_auc_coverage"] = _covered(records, "sgkf_auc", truth["sgkf_auc"])
        out["sgkf_difference_coverage"] = float(((records["sgkf_corrected_ci_low"] <= true_difference) & (true_difference <= records["sgkf_corrected_ci_high"])).mean())
        out["logo_auc_coverage"] = _covered(records, "logo_auc", truth["logo_auc"])
    out["mean_sgkf_auc"] = float(records["sgkf_auc"].mean())
    out["mean_logo_auc"] = float(records["logo_auc"].mean())
    return out


def _covered(records: pd.DataFrame, prefix: str, value: float) -> float:
    return float(((records[f"{prefix}_ci_low"] <= value) & (value <= records[f"{prefix}_ci_high"])).mean())


def scenario_settings(scenario: Scenario) -> dict:
    """The scenario as plain data (for results files)."""
    return asdict(scenario)
