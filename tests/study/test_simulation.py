"""Do the study's tests keep their promises? Seeded simulations on grouped data (issue 17, item 9).

Tolerances are simulation error, not taste: a rate observed over D independent draws has
binomial standard error sqrt(r(1-r)/D), and each promise is checked at 3 such errors (a
correct procedure fails a check about once in 700 seeds). Where a procedure does NOT keep its
promise on participant-grouped data (the corrected resampled t), the test asserts what
docs/evaluation.md says of it (bench/results/study-simulation.json has the figures): it is
the reason the study decides significance with the test over participants, and a change that
makes the claim false turns the test red, so the docs and that decision get revisited.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.dummy import DummyClassifier
from sklearn.metrics import roc_auc_score

from kemo_attention.study import simulation as sim

pytestmark = pytest.mark.slow  # ~25 CPU seconds: 260 simulated studies

ALPHA = 0.05
NULL_DRAWS = 200
EFFECT_DRAWS = 60
EFFECT = 1.2  # as bench/simulate_study_stats.py; its true fold AUC is ~0.68 (bench)


def _bound(rate, draws):
    return rate + 3 * sim.binomial_se(rate, draws)


@pytest.fixture(scope="module")
def null_draws():
    return sim.simulate(sim.Scenario(), NULL_DRAWS, seed=2024, alpha=ALPHA)


@pytest.fixture(scope="module")
def effect_draws():
    return sim.simulate(sim.Scenario(effect=EFFECT), EFFECT_DRAWS, seed=7, alpha=ALPHA)


# --- the pieces ---------------------------------------------------------------------------


def test_auc_is_sklearns_roc_auc_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    score = np.round(rng.random(60), 1)  # many ties
    assert sim.auc(y, score) == pytest.approx(roc_auc_score(y, score))
    assert np.isnan(sim.auc(np.ones(5, dtype=int), np.arange(5.0)))


def test_the_dummy_shortcut_is_what_dummyclassifier_predicts():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    _, shortcut = sim._model_and_dummy(X[:30], y[:30], X[30:])
    fitted = DummyClassifier(strategy="prior").fit(X[:30], y[:30]).predict_proba(X[30:])[:, 1]
    np.testing.assert_allclose(shortcut, fitted)


def test_generated_participants_differ_from_each_other():
    X, y, group = sim.generate(sim.Scenario(n_participants=30), np.random.default_rng(2))
    # feature means differ between participants (one-way ANOVA), and so do answer rates
    # (chi-square test of independence of participant and answer)
    assert scipy_stats.f_oneway(*[X[group == g, 1] for g in np.unique(group)]).pvalue < 1e-6
    table = pd.crosstab(group, y).to_numpy()
    assert scipy_stats.chi2_contingency(table).pvalue < 1e-3


def test_simulation_is_reproducible():
    a = sim.simulate(sim.Scenario(), 3, seed=5)
    b = sim.simulate(sim.Scenario(), 3, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert not a["sgkf_auc"].duplicated().any()  # three different data sets


# --- a) no signal: false positives --------------------------------------------------------


def test_naive_t_over_overlapping_folds_finds_differences_that_are_not_there(null_draws):
    # the reason for the correction: 25 folds of 5 repeats share training rows
    rates = sim.summarize(null_draws, alpha=ALPHA)
    assert rates["sgkf_naive_rejection_rate"] > _bound(ALPHA, NULL_DRAWS)
    assert rates["sgkf_corrected_rejection_rate"] < rates["sgkf_naive_rejection_rate"] / 2


@pytest.mark.parametrize("test", ["sgkf_corrected", "sgkf_participant_wilcoxon", "logo_wilcoxon"])
def test_model_is_called_better_than_the_dummy_at_most_alpha_of_the_time(null_draws, test):
    rates = sim.summarize(null_draws, alpha=ALPHA)
    assert rates[f"{test}_better_rate"] <= _bound(ALPHA, NULL_DRAWS)


def test_corrected_ttest_rejects_too_often_on_grouped_data_so_it_does_not_decide(null_draws):
    # measured (bench, 1,000 draws): ~0.16 two-sided with no signal (most of them "model worse");
    # the study therefore calls a difference significant by the test over participants.
    # (Wilcoxon's two-sided rate, ~0.08 in the bench, is too close to alpha + 3 SE at 200 draws
    # to be checked either way here; the bench reports it)
    rates = sim.summarize(null_draws, alpha=ALPHA)
    assert rates["sgkf_corrected_rejection_rate"] > _bound(ALPHA, NULL_DRAWS)


# --- b) a planted effect: power -----------------------------------------------------------


@pytest.mark.parametrize("test", ["sgkf_corrected", "sgkf_participant_wilcoxon", "logo_wilcoxon"])
def test_a_planted_effect_is_found_at_least_80_percent_of_the_time(effect_draws, test):
    rates = sim.summarize(effect_draws, alpha=ALPHA)
    assert rates[f"{test}_better_rate"] >= 0.8


# --- c) coverage --------------------------------------------------------------------------


def test_interval_coverage_is_what_the_docs_say(null_draws):
    # no signal: every score is independent of the label, so the true expected AUC is exactly 0.5
    coverage = sim.summarize(null_draws, {"sgkf_auc": 0.5, "logo_auc": 0.5}, ALPHA)
    floor = 0.95 - 3 * sim.binomial_se(0.95, NULL_DRAWS)
    # the interval over participants (logo) holds the truth at about its nominal rate ...
    assert coverage["logo_auc_coverage"] >= floor
    # ... the corrected resampled interval of repeated k-fold does not (bench: ~0.84), which the
    # report and docs/evaluation.md say beside every such interval
    assert coverage["sgkf_auc_coverage"] < floor
