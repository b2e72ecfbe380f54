"""The study's intervals and tests, each against an independent computation (a formula by
hand, a textbook table, or another library computing the same thing)."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from kemo_attention.errors import KemoError
from kemo_attention.study import stats as S

FOLD_SCORES = [0.60, 0.70, 0.65, 0.55, 0.62, 0.68]  # J = 6 folds
T_975_DF5 = 2.570582  # t table, 0.975 quantile, 5 degrees of freedom


# --- corrected resampled t (Nadeau & Bengio 2003) ------------------------------------------


def test_corrected_interval_matches_the_formula_by_hand():
    mean, s = statistics.mean(FOLD_SCORES), statistics.stdev(FOLD_SCORES)
    half = T_975_DF5 * math.sqrt((1 / 6 + 20 / 80) * s**2)
    got = S.corrected_resampled_interval(FOLD_SCORES, n_train=80, n_test=20)
    assert got.mean == pytest.approx(mean)
    assert got.sd == pytest.approx(s)
    assert (got.ci_low, got.ci_high) == pytest.approx((mean - half, mean + half), abs=1e-6)
    assert (got.n_units, got.n_excluded, got.method) == (6, 0, S.CORRECTED_T_INTERVAL)


def test_corrected_interval_is_wider_than_the_naive_one_by_the_correction():
    got = S.corrected_resampled_interval(FOLD_SCORES, n_train=80, n_test=20)
    naive_low, naive_high = scipy_stats.t.interval(0.95, 5, loc=np.mean(FOLD_SCORES), scale=scipy_stats.sem(FOLD_SCORES))
    ratio = (got.ci_high - got.ci_low) / (naive_high - naive_low)
    assert ratio == pytest.approx(math.sqrt(1 + 6 * 20 / 80))


def test_corrected_interval_drops_and_counts_nan():
    got = S.corrected_resampled_interval([*FOLD_SCORES, np.nan, np.nan], n_train=80, n_test=20)
    assert (got.n_units, got.n_excluded) == (6, 2)
    assert got.mean == pytest.approx(statistics.mean(FOLD_SCORES))


def test_corrected_interval_with_one_fold_is_undefined_not_an_error():
    got = S.corrected_resampled_interval([0.6, np.nan], n_train=80, n_test=20)
    assert got.mean == 0.6 and math.isnan(got.ci_low) and math.isnan(got.ci_high)


@pytest.mark.parametrize("n_train, n_test", [(0, 20), (80, 0), (-1, 20)])
def test_corrected_interval_refuses_fold_sizes_that_are_not_positive(n_train, n_test):
    with pytest.raises(KemoError, match="n_train and n_test must be positive"):
        S.corrected_resampled_interval(FOLD_SCORES, n_train=n_train, n_test=n_test)


def test_corrected_ttest_is_the_naive_t_shrunk_by_the_correction():
    diffs = np.array(FOLD_SCORES) - 0.6
    naive = scipy_stats.ttest_1samp(diffs, 0.0)
    got = S.corrected_resampled_ttest(diffs, n_train=80, n_test=20)
    assert got.statistic == pytest.approx(naive.statistic / math.sqrt(1 + 6 * 20 / 80))
    assert got.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(got.statistic), 5))
    assert got.p_value > naive.pvalue  # the correction only ever weakens the evidence
    assert got.mean_difference == pytest.approx(diffs.mean())
    assert got.test == S.CORRECTED_T_TEST


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.3, 0.3), min_size=3, max_size=30), st.floats(0.05, 1.0))
def test_corrected_ttest_interval_excludes_zero_exactly_when_p_is_below_alpha(diffs, ratio):
    got = S.corrected_resampled_ttest(diffs, n_train=100, n_test=100 * ratio)
    if np.std(diffs) == 0 or not np.isfinite(got.statistic):
        return
    excludes_zero = got.ci_low > 0 or got.ci_high < 0
    if abs(got.p_value - 0.05) > 1e-9:
        assert excludes_zero == (got.p_value < 0.05)


def test_corrected_ttest_drops_nan_differences_and_counts_them():
    got = S.corrected_resampled_ttest([0.1, np.nan, 0.05, 0.02, np.nan, 0.07], n_train=80, n_test=20)
    assert (got.n_units, got.n_excluded) == (4, 2)


def test_corrected_ttest_zero_variance():
    same = S.corrected_resampled_ttest([0.0] * 5, n_train=80, n_test=20)
    assert (same.p_value, same.statistic, same.ci_low, same.ci_high) == (1.0, 0.0, 0.0, 0.0)
    shifted = S.corrected_resampled_ttest([0.02] * 5, n_train=80, n_test=20)
    assert shifted.p_value == 0.0 and shifted.statistic == math.inf
    assert shifted.ci_low == shifted.ci_high == pytest.approx(0.02)


# --- leave one participant out ---------------------------------------------------------------


def test_participant_interval_matches_statsmodels():
    from statsmodels.stats.weightstats import DescrStatsW

    rng = np.random.default_rng(3)
    values = rng.uniform(0.3, 0.9, size=23)
    got = S.participant_interval([*values, np.nan], alpha=0.1)
    low, high = DescrStatsW(values).tconfint_mean(alpha=0.1)
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high))
    assert (got.n_units, got.n_excluded, got.method) == (23, 1, S.PARTICIPANT_T_INTERVAL)


def test_wilcoxon_matches_scipy_on_the_complete_pairs():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0.4, 0.9, 20), rng.uniform(0.4, 0.8, 20)
    a[2], b[7] = np.nan, np.nan
    got = S.wilcoxon_paired(a, b)
    keep = ~np.isnan(a) & ~np.isnan(b)
    want = scipy_stats.wilcoxon(a[keep], b[keep])
    assert (got.statistic, got.p_value) == pytest.approx((want.statistic, want.pvalue))
    assert (got.n_units, got.n_excluded) == (18, 2)
    assert got.mean_difference == pytest.approx(np.mean(a[keep] - b[keep]))


def test_hodges_lehmann_estimate_is_the_median_of_the_walsh_averages():
    d = np.array([0.3, -0.1, 0.25, 0.05, 0.4, 0.12, -0.02, 0.2])
    walsh = [(d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d))]
    assert S.wilcoxon_paired(d, np.zeros_like(d)).estimate == pytest.approx(statistics.median(walsh))


@pytest.mark.parametrize("seed, n", [(0, 8), (1, 15), (2, 30)])
def test_hodges_lehmann_interval_inverts_the_exact_signed_rank_test(seed, n):
    # The interval holds exactly the shifts the two-sided exact test does not reject at 5 %:
    # just inside each end p >= 0.05, just outside p < 0.05.
    d = np.random.default_rng(seed).normal(0.1, 0.2, n)
    got = S.wilcoxon_paired(d, np.zeros(n))
    eps = 1e-9

    def p_at(shift):
        return scipy_stats.wilcoxon(d - shift, method="exact").pvalue

    assert p_at(got.ci_low + eps) >= 0.05 and p_at(got.ci_high - eps) >= 0.05
    assert p_at(got.ci_low - eps) < 0.05 and p_at(got.ci_high + eps) < 0.05
    assert got.ci_low <= got.estimate <= got.ci_high


def test_wilcoxon_with_too_few_participants_has_no_finite_interval():
    got = S.wilcoxon_paired([0.7, 0.6, 0.8, 0.65, 0.72], [0.5] * 5)  # 5 pairs: P(T+ = 0) = 1/32 > 0.025
    assert (got.ci_low, got.ci_high) == (-math.inf, math.inf)


def test_wilcoxon_all_differences_zero_is_no_evidence():
    got = S.wilcoxon_paired([0.6, 0.7, 0.5, 0.55, 0.62, 0.66], [0.6, 0.7, 0.5, 0.55, 0.62, 0.66])
    assert (got.p_value, got.statistic, got.mean_difference) == (1.0, 0.0, 0.0)


def test_wilcoxon_refuses_unpaired_lengths():
    with pytest.raises(KemoError, match="needs pairs: got 3 and 2"):
        S.wilcoxon_paired([0.1, 0.2, 0.3], [0.1, 0.2])


# --- Holm -------------------------------------------------------------------------------------


def test_holm_on_a_hand_worked_example():
    # sorted p: 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03 = 0.06, max(0.06, 1*0.04) = 0.06
    got = S.holm([0.01, 0.04, 0.03, 0.005])
    assert got == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_keeps_nan_and_leaves_it_out_of_the_family():
    got = S.holm([0.01, np.nan, 0.04])
    assert math.isnan(got[1])
    assert got[[0, 2]] == pytest.approx([0.02, 0.04])
    assert S.holm([]).shape == (0,)


# --- omnibus (autorank) and CD diagrams -----------------------------------------------------


def _ordered_table(n_units=25, seed=0):
    """Four models with a fixed order on every unit: A > B > C > D."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 0.6, n_units)
    return pd.DataFrame({"D": base, "B": base + 0.1, "A": base + 0.2, "C": base + 0.05 + rng.uniform(0, 0.01, n_units)})


def test_omnibus_ranks_the_clearly_better_model_first():
    table = _ordered_table()
    got = S.omnibus(table)
    assert list(got.ranks["model"]) == ["A", "B", "C", "D"]
    assert list(got.ranks["mean_rank"]) == [1.0, 2.0, 3.0, 4.0]
    assert got.omnibus_test == S.FRIEDMAN and got.posthoc_test == S.NEMENYI
    assert got.omnibus_p == pytest.approx(scipy_stats.friedmanchisquare(*table.T.to_numpy()).pvalue)
    # Demsar (2006), Table 5(a): q_0.05 = 2.569 for k = 4; CD = q * sqrt(k(k+1)/(6N))
    assert got.critical_difference == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 25)), abs=1e-3)
    assert list(got.ranks["meanrank_group"]) == ["a", "b", "c", "d"]  # neighbours 1 rank apart > CD 0.94
    assert "Shapiro-Wilk" in got.assumptions and "Non-parametric path forced" in got.assumptions


def test_omnibus_reports_shapiro_p_of_the_right_model():
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"a": rng.normal(0.7, 0.05, 25), "b": rng.uniform(0.6, 0.7, 25) ** 3, "c": rng.normal(0.6, 0.05, 25)})
    got = S.omnibus(table)
    for model in table.columns:
        assert f"{model} {scipy_stats.shapiro(table[model]).pvalue:.3g}" in got.assumptions


def test_omnibus_lower_is_better_reverses_the_ranks():
    got = S.omnibus(_ordered_table(), higher_is_better=False)
    assert list(got.ranks["model"]) == ["D", "C", "B", "A"]


def test_omnibus_with_no_difference_puts_every_model_in_one_group():
    # each unit a rotation of the same three scores: every mean rank is 2, Friedman's statistic 0
    rows = [[0.6, 0.7, 0.8], [0.8, 0.6, 0.7], [0.7, 0.8, 0.6]] * 4
    got = S.omnibus(pd.DataFrame(rows, columns=["x", "y", "z"]))
    assert got.omnibus_p == pytest.approx(1.0)
    assert set(got.ranks["meanrank_group"]) == {"a"}


def test_omnibus_drops_units_with_any_nan_and_counts_them():
    table = _ordered_table(n_units=12)
    table.iloc[[1, 4], [0, 2]] = np.nan
    got = S.omnibus(table)
    assert (got.n_units, got.n_excluded) == (10, 2)


def test_omnibus_with_too_few_units_says_so_instead_of_raising():
    table = _ordered_table(n_units=7)
    table.iloc[:3, 1] = np.nan
    got = S.omnibus(table)
    assert got.omnibus_test == S.OMNIBUS_NOT_RUN and math.isnan(got.omnibus_p)
    assert "4 unit(s)" in got.note and "3 with a NaN dropped" in got.note


def test_omnibus_of_two_models_is_a_two_sided_wilcoxon():
    table = _ordered_table()[["A", "C"]]
    table["C"] += np.random.default_rng(5).normal(0, 0.2, len(table))
    got = S.omnibus(table)
    assert got.omnibus_test == S.WILCOXON_TEST
    assert got.omnibus_p == pytest.approx(scipy_stats.wilcoxon(table["A"], table["C"]).pvalue)


def test_omnibus_keeps_autoranks_printing_off_the_terminal(capsys):
    S.omnibus(_ordered_table())
    assert capsys.readouterr().out == ""


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(1, 6), min_size=2, max_size=8), st.floats(0.1, 3))
def test_letter_groups_share_a_letter_exactly_when_within_the_critical_difference(ranks, cd):
    ranks = pd.Series(sorted(ranks))
    groups = S._letter_groups(ranks, cd, significant=True)
    for i in range(len(ranks)):
        assert groups[i]
        for j in range(i + 1, len(ranks)):
            close = ranks[j] - ranks[i] <= cd + 1e-12
            assert bool(set(groups[i]) & set(groups[j])) == close


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cd_diagram_draws_autoranks_diagram(tmp_path):
    note = S.cd_diagram(_ordered_table(), tmp_path / "plots" / "cd.png")
    assert note == "" and _is_png(tmp_path / "plots" / "cd.png")


def test_cd_diagram_of_two_models_writes_a_rank_plot_and_says_so(tmp_path):
    note = S.cd_diagram(S.omnibus(_ordered_table()[["A", "B"]]), tmp_path / "cd.png")
    assert "mean-rank plot" in note and _is_png(tmp_path / "cd.png")


def test_cd_diagram_when_the_omnibus_was_not_run(tmp_path):
    note = S.cd_diagram(_ordered_table(n_units=3), tmp_path / "cd.png")
    assert "not run" in note and _is_png(tmp_path / "cd.png")


def test_cd_diagram_survives_autorank_failing(tmp_path, monkeypatch):
    import autorank

    def broken(*args, **kwargs):
        raise ValueError("cannot draw")

    monkeypatch.setattr(autorank, "plot_stats", broken)
    note = S.cd_diagram(_ordered_table(), tmp_path / "cd.png")
    assert "cannot draw" in note and _is_png(tmp_path / "cd.png")


def test_every_test_the_functions_name_has_its_assumptions_written_down():
    d = [0.01, 0.02, -0.01, 0.03, 0.0, 0.02]
    names = {
        S.corrected_resampled_interval(d, 80, 20).method,
        S.corrected_resampled_ttest(d, 80, 20).test,
        S.participant_interval(d).method,
        S.wilcoxon_paired(d, [0] * 6).test,
        S.omnibus(_ordered_table()).omnibus_test,
        S.omnibus(_ordered_table()).posthoc_test,
        S.HOLM,
    }
    assert names <= set(S.TEST_ASSUMPTIONS)
    assert all(len(text) > 40 for text in S.TEST_ASSUMPTIONS.values())
