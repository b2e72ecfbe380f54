"""Intervals and tests for the study: pure functions over numpy arrays and pandas tables.

Two designs, two families (docs/evaluation.md, "Statistics of the study"):

* repeated stratified group k-fold (R repeats x K folds = J fold values): the folds share
  training rows, so their scores are correlated and a plain t over J values is too narrow.
  ``corrected_resampled_interval`` and ``corrected_resampled_ttest`` use Nadeau & Bengio's
  (2003) corrected variance ``(1/J + n_test/n_train) * s^2`` with J - 1 degrees of freedom;
* leave one participant out: one score per participant, participants independent of each
  other. ``participant_interval`` is a t interval over participants; ``wilcoxon_paired``
  compares two models participant by participant (signed-rank test, Hodges-Lehmann interval).

``holm`` adjusts a family of p-values; ``omnibus`` ranks many models at once (autorank,
Friedman + Nemenyi) and ``cd_diagram`` draws its critical-difference diagram.

NaN scores (ROC AUC of a fold or participant whose test rows hold one class) are dropped,
never filled, and counted in ``n_excluded``. Every function returns numbers, never raises on
degenerate data (too few units, zero variance): it says so with NaN and, for the omnibus, a
note, so one odd label cannot stop a study.
"""

from __future__ import annotations

import contextlib
import io
import math
import string
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from kemo_attention.errors import KemoError
from kemo_attention.files import atomic_write

CORRECTED_T_INTERVAL = "corrected resampled t (Nadeau-Bengio)"
PARTICIPANT_T_INTERVAL = "t over participants"
CORRECTED_T_TEST = "corrected resampled t-test (Nadeau-Bengio)"
WILCOXON_TEST = "Wilcoxon signed-rank"
HOLM = "Holm"
FRIEDMAN = "Friedman"
NEMENYI = "Nemenyi"
OMNIBUS_NOT_RUN = "not run"

TEST_ASSUMPTIONS: dict[str, str] = {
    CORRECTED_T_INTERVAL: (
        "The J = repeats x folds scores are treated as draws whose correlation comes only from shared "
        "training rows, estimated as n_test/n_train (Nadeau & Bengio 2003), and their mean as roughly "
        "normal (t with J - 1 degrees of freedom); the interval is for the expected score of the same "
        "procedure trained on n_train rows of new participants."
    ),
    CORRECTED_T_TEST: (
        "Paired: both models are scored on the same folds; the fold differences get the corrected variance "
        "(1/J + n_test/n_train) * s^2 and a t with J - 1 degrees of freedom, two-sided. Folds whose "
        "difference is undefined (NaN) are left out."
    ),
    PARTICIPANT_T_INTERVAL: (
        "Participants are independent units (each tested once, leave one participant out) and the mean "
        "of their scores is roughly normal (t with n - 1 degrees of freedom); participants whose score is "
        "undefined (one class in their test rows) are left out."
    ),
    WILCOXON_TEST: (
        "Paired over participants, independent of each other; the differences are symmetric about their "
        "median under the null hypothesis of no difference (two-sided; zero differences dropped as Wilcoxon "
        "did). The interval is the Hodges-Lehmann estimate's, from inverting the same test."
    ),
    HOLM: (
        "Controls the family-wise error rate over the p-values adjusted together (one label, design, "
        "protocol and metric), whatever their dependence."
    ),
    FRIEDMAN: (
        "Ranks the models within each unit (fold or participant); units independent of each other, "
        "no assumption of normality or equal variances. Fold scores of repeated CV share training rows, "
        "so its p-value is optimistic there; the corrected t-tests are the pairwise evidence."
    ),
    NEMENYI: (
        "All pairs after Friedman: two models differ when their mean ranks differ by more than the critical "
        "difference q_alpha * sqrt(k(k+1)/(6N)); read only when Friedman rejects."
    ),
}


@dataclass(frozen=True)
class Interval:
    """A mean with its interval: ``n_units`` values used, ``n_excluded`` NaN values dropped."""

    mean: float
    sd: float
    ci_low: float
    ci_high: float
    n_units: int
    method: str
    n_excluded: int = 0


@dataclass(frozen=True)
class TestResult:
    """A paired comparison of two models (``a - b``).

    ``ci_low``/``ci_high`` bound ``estimate``, the quantity ``interval_of`` names: the mean
    difference for the t-tests, the Hodges-Lehmann median difference for Wilcoxon.
    """

    __test__ = False  # not a pytest class, despite the name

    mean_difference: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    test: str
    n_units: int
    n_excluded: int
    estimate: float = math.nan
    interval_of: str = "mean difference"


@dataclass(frozen=True)
class OmnibusResult:
    """Many models ranked over the same units. ``ranks``: model, mean_rank, meanrank_group
    (sorted best first; rank 1 = best; models sharing a letter are not told apart)."""

    omnibus_test: str
    omnibus_p: float
    posthoc_test: str
    critical_difference: float
    ranks: pd.DataFrame
    assumptions: str
    n_units: int
    n_excluded: int
    alpha: float
    note: str = ""
    rank_result: object = field(default=None, repr=False)  # autorank's RankResult, for cd_diagram


def _finite_values(values) -> tuple[np.ndarray, int]:
    arr = np.asarray(values, dtype=float).ravel()
    keep = ~np.isnan(arr)
    return arr[keep], int((~keep).sum())


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise KemoError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}")


def _check_sizes(n_train: float, n_test: float) -> None:
    if not (n_train > 0 and n_test > 0):
        raise KemoError(f"n_train and n_test must be positive (mean fold sizes), got {n_train!r} and {n_test!r}")


def _corrected_se(sd: float, j: int, n_train: float, n_test: float) -> float:
    """Nadeau-Bengio's standard error of a mean over J overlapping folds: sqrt((1/J + n_test/n_train) s^2)."""
    return math.sqrt((1 / j + n_test / n_train) * sd**2)


def corrected_resampled_interval(values, n_train: float, n_test: float, alpha: float = 0.05) -> Interval:
    """Nadeau-Bengio interval of the mean over J = R*K fold scores of repeated k-fold CV.

    Variance of the mean ``(1/J + n_test/n_train) * s^2`` (s: sample SD of the fold
    scores); t quantile with J - 1 degrees of freedom. ``n_train``/``n_test``: the folds'
    mean training and test sizes. Assumptions: ``TEST_ASSUMPTIONS[CORRECTED_T_INTERVAL]``.
    """
    _check_alpha(alpha)
    _check_sizes(n_train, n_test)
    x, excluded = _finite_values(values)
    j = x.size
    if j < 2:
        mean = float(x[0]) if j else math.nan
        return Interval(mean, math.nan, math.nan, math.nan, j, CORRECTED_T_INTERVAL, excluded)
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = scipy_stats.t.ppf(1 - alpha / 2, j - 1) * _corrected_se(sd, j, n_train, n_test)
    return Interval(mean, sd, mean - half, mean + half, j, CORRECTED_T_INTERVAL, excluded)


def corrected_resampled_ttest(diffs, n_train: float, n_test: float, alpha: float = 0.05) -> TestResult:
    """Paired corrected resampled t-test on fold differences ``a - b`` (same folds), two-sided.

    NaN differences are dropped and counted. Zero variance (every fold differs by the same
    amount): the difference is then certain on these folds, so ``p = 1`` (statistic 0) when
    it is 0 and ``p = 0`` (statistic +-inf) otherwise, the interval collapsing onto it.
    Fewer than two folds: NaN statistic, p and interval.
    """
    _check_alpha(alpha)
    _check_sizes(n_train, n_test)
    d, excluded = _finite_values(diffs)
    j = d.size
    if j < 2:
        mean = float(d[0]) if j else math.nan
        return TestResult(mean, math.nan, math.nan, math.nan, math.nan, CORRECTED_T_TEST, j, excluded, mean)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:
        statistic = 0.0 if mean == 0 else math.copysign(math.inf, mean)
        return TestResult(mean, mean, mean, statistic, 1.0 if mean == 0 else 0.0, CORRECTED_T_TEST, j, excluded, mean)
    se = _corrected_se(sd, j, n_train, n_test)
    statistic = mean / se
    p_value = float(2 * scipy_stats.t.sf(abs(statistic), j - 1))
    half = scipy_stats.t.ppf(1 - alpha / 2, j - 1) * se
    return TestResult(mean, mean - half, mean + half, statistic, p_value, CORRECTED_T_TEST, j, excluded, mean)


def participant_interval(values, alpha: float = 0.05) -> Interval:
    """t interval of the mean over participants (leave one participant out).

    NaN scores (participants whose test rows hold one class) are dropped and counted.
    A t interval rather than a BCa bootstrap: deterministic (no resampling seed), the
    schema's "t over participants", and its coverage is measured by the simulation
    (docs/evaluation.md); with ~40 participants a bootstrap's own error is no smaller.
    """
    _check_alpha(alpha)
    x, excluded = _finite_values(values)
    n = x.size
    if n < 2:
        mean = float(x[0]) if n else math.nan
        return Interval(mean, math.nan, math.nan, math.nan, n, PARTICIPANT_T_INTERVAL, excluded)
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = scipy_stats.t.ppf(1 - alpha / 2, n - 1) * sd / math.sqrt(n)
    return Interval(mean, sd, mean - half, mean + half, n, PARTICIPANT_T_INTERVAL, excluded)


def _signed_rank_null_cdf(n: int) -> np.ndarray:
    """P(T+ <= t), t = 0..n(n+1)/2, for the Wilcoxon signed-rank statistic of n untied values.

    Built rank by rank: each rank k is in the positive sum with probability 1/2.
    """
    pmf = np.zeros(n * (n + 1) // 2 + 1)
    pmf[0] = 1.0
    for k in range(1, n + 1):
        shifted = np.zeros_like(pmf)
        shifted[k:] = pmf[:-k]
        pmf = 0.5 * (pmf + shifted)
    return np.cumsum(pmf)


def hodges_lehmann_interval(d, alpha: float = 0.05) -> tuple[float, float, float]:
    """(estimate, low, high): the median of the Walsh averages (d_i + d_j)/2, i <= j, and the
    distribution-free interval of inverting the exact signed-rank test (Hollander & Wolfe).

    Too few values for any interval to reach 1 - alpha (n <= 5 at alpha 0.05): (-inf, inf).
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    if n == 0:
        return math.nan, math.nan, math.nan
    i, j = np.triu_indices(n)
    walsh = np.sort((d[i] + d[j]) / 2)
    estimate = float(np.median(walsh))
    cdf = _signed_rank_null_cdf(n)
    # c: the largest t with P(T+ <= t) <= alpha/2; the interval runs from the (c+1)-th smallest
    # to the (c+1)-th largest Walsh average.
    inside = np.flatnonzero(cdf <= alpha / 2 + 1e-12)
    if inside.size == 0:
        return estimate, -math.inf, math.inf
    c = int(inside[-1])
    return estimate, float(walsh[c]), float(walsh[walsh.size - 1 - c])


def wilcoxon_paired(a, b, alpha: float = 0.05) -> TestResult:
    """Wilcoxon signed-rank test of ``a - b`` over participants (scipy.stats.wilcoxon, two-sided).

    Pairs with a NaN on either side are dropped and counted. ``mean_difference`` is the mean of
    the differences; the interval is the Hodges-Lehmann median difference's (``estimate``).
    All differences zero: p = 1, statistic 0 (scipy would divide by zero).
    """
    _check_alpha(alpha)
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise KemoError(f"wilcoxon_paired needs pairs: got {a.size} and {b.size} values")
    d, excluded = _finite_values(np.where(np.isnan(b), np.nan, a - b))
    n = d.size
    name = WILCOXON_TEST
    if n == 0:
        return TestResult(math.nan, math.nan, math.nan, math.nan, math.nan, name, 0, excluded, math.nan, "median difference (Hodges-Lehmann)")
    estimate, low, high = hodges_lehmann_interval(d, alpha)
    if not np.any(d):
        statistic, p_value = 0.0, 1.0
    else:
        res = scipy_stats.wilcoxon(d, alternative="two-sided")
        statistic, p_value = float(res.statistic), float(res.pvalue)
    return TestResult(float(d.mean()), low, high, statistic, p_value, name, n, excluded, estimate, "median difference (Hodges-Lehmann)")


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment (statsmodels ``multipletests(method="holm")``); NaN stay NaN
    and do not count towards the family's size."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    keep = ~np.isnan(p)
    if keep.any():
        out[keep] = multipletests(p[keep], method="holm")[1]
    return out


def _letter_groups(mean_ranks: pd.Series, critical_difference: float, significant: bool) -> list[str]:
    """Compact letters over models sorted best first: a letter per maximal run of models whose
    mean ranks lie within the critical difference of each other; a model no run reaches gets a
    letter of its own. Not significant (or no critical difference): one group, "a"."""
    n = len(mean_ranks)
    if not significant or not np.isfinite(critical_difference):
        return ["a"] * n
    ranks = mean_ranks.to_numpy()
    runs: list[tuple[int, int]] = []
    for i in range(n):
        last = max(j for j in range(i, n) if ranks[j] - ranks[i] <= critical_difference + 1e-12)
        if not runs or last > runs[-1][1]:
            runs.append((i, last))
    letters = iter(string.ascii_lowercase * 4)  # far more letters than models ever compared
    groups = [""] * n
    for first, last in runs:
        letter = next(letters)
        for k in range(first, last + 1):
            groups[k] += letter
    return groups


def _not_run(table: pd.DataFrame, n_units: int, excluded: int, alpha: float, note: str, ranks: pd.DataFrame | None = None) -> OmnibusResult:
    if ranks is None:
        ranks = pd.DataFrame({"model": list(table.columns), "mean_rank": np.nan, "meanrank_group": ""})
    return OmnibusResult(OMNIBUS_NOT_RUN, math.nan, "", math.nan, ranks, note, n_units, excluded, alpha, note)


def _shapiro_p(values: pd.Series) -> str:
    if values.nunique() == 1:
        return "constant"
    return f"{scipy_stats.shapiro(values).pvalue:.3g}"


def omnibus(table: pd.DataFrame, alpha: float = 0.05, higher_is_better: bool = True) -> OmnibusResult:
    """Rank the models (columns) over the units (rows: folds or participants) with autorank.

    The non-parametric path is forced: Friedman + Nemenyi for three or more models, and a
    two-sided Wilcoxon signed-rank test for two (autorank's two-model test is one-sided
    towards the model with the higher median, a direction chosen after seeing the data).
    Why forced: scores such as ROC AUC are bounded and skewed; a test chosen by a normality
    pre-test changes from label to label and its error rates are those of neither path; and
    Nemenyi's mean ranks are what the critical-difference diagram draws. autorank's checks
    (Shapiro-Wilk per model, Bartlett or Levene) are still run and reported in ``assumptions``.

    Units with a NaN for any model are dropped and counted. Fewer than 5 complete units or
    fewer than 2 models: nothing is tested (``omnibus_test`` "not run", ``note`` says why).
    ``higher_is_better=False`` for losses (brier, log_loss, ece): rank 1 is then the lowest.
    """
    _check_alpha(alpha)
    if not isinstance(table, pd.DataFrame):
        raise KemoError(f"omnibus needs a DataFrame (rows: units, columns: models), got {type(table).__name__}")
    table = table.astype(float)
    complete = table.dropna(axis=0, how="any")
    excluded = len(table) - len(complete)
    n_units, k = len(complete), table.shape[1]
    if k < 2:
        return _not_run(table, n_units, excluded, alpha, f"omnibus not run: {k} model(s), at least 2 needed")
    if n_units < 5:
        return _not_run(table, n_units, excluded, alpha, f"omnibus not run: {n_units} unit(s) with a score for every model ({excluded} with a NaN dropped), autorank needs at least 5")
    if (complete.nunique(axis=1) == 1).all():
        return _not_run(table, n_units, excluded, alpha, "omnibus not run: every model has the same score on every unit (all ranks tied)")

    import autorank

    order = "descending" if higher_is_better else "ascending"
    data = complete.reset_index(drop=True).copy()
    data.columns = [str(c) for c in data.columns]
    # autorank prints its tables and choices to stdout (the study keeps them in `assumptions`),
    # and scipy warns about a constant column (the dummy's AUC is 0.5 on every unit)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = autorank.autorank(data, alpha=float(alpha), order=order, force_mode="nonparametric")
    mean_ranks = result.rankdf["meanrank"].astype(float).sort_values()
    if k == 2:
        # ties in a pair's differences make scipy fall back to the normal approximation itself
        diffs = data.iloc[:, 0] - data.iloc[:, 1]
        p_value = 1.0 if not diffs.any() else float(scipy_stats.wilcoxon(diffs, alternative="two-sided").pvalue)
        test, posthoc, cd = WILCOXON_TEST, "", math.nan
        groups = ["a", "a"] if not p_value < alpha else ["a", "b"]
    else:
        p_value, test, posthoc, cd = float(result.pvalue), FRIEDMAN, NEMENYI, float(result.cd)
        groups = _letter_groups(mean_ranks, cd, significant=p_value < alpha)
    ranks = pd.DataFrame({"model": list(mean_ranks.index), "mean_rank": mean_ranks.to_numpy(), "meanrank_group": groups})
    # the same Shapiro-Wilk tests autorank ran, recomputed per column: autorank 1.3.0 reorders
    # its pvals_shapiro list with the inverse permutation, so it does not follow rankdf's order
    shapiro = ", ".join(f"{m} {_shapiro_p(data[m])}" for m in data.columns)
    homogeneity = "Bartlett" if result.homogeneity_test == "bartlett" else "Levene"
    assumptions = (
        f"{n_units} units ({excluded} with a NaN dropped), {k} models. Shapiro-Wilk normality p per model "
        f"(checked at alpha/k = {result.alpha_normality:.3g}): {shapiro}; all normal: {'yes' if result.all_normal else 'no'}. "
        f"{homogeneity} equal variances: p = {result.pval_homogeneity:.3g} "
        f"({'equal' if result.homoscedastic else 'unequal'}). Non-parametric path forced: {test}"
        + (f" + {posthoc}" if posthoc else "") + "."
    )
    return OmnibusResult(test, p_value, posthoc, cd, ranks, assumptions, n_units, excluded, alpha, "", result)


def _figure(width: float, height: float):
    # a Figure without pyplot: no global backend switch, nothing left open, safe in threads
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), facecolor="white")


def _save_png(fig, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    data = buffer.getvalue()
    return atomic_write(path, lambda f: f.write(data))


def _rank_plot(result: OmnibusResult, path: Path, why: str) -> Path:
    """A plain dot plot of mean ranks (1 = best), for what autorank cannot draw."""
    ranks = result.ranks.dropna(subset=["mean_rank"])
    fig = _figure(6, 1.2 + 0.35 * max(len(ranks), 1))
    ax = fig.add_subplot(1, 1, 1)
    if len(ranks):
        y = np.arange(len(ranks))
        ax.scatter(ranks["mean_rank"], y, color="black", zorder=3)
        ax.set_yticks(y, [f"{m} ({g})" for m, g in zip(ranks["model"], ranks["meanrank_group"])])
        ax.invert_yaxis()
        ax.set_xlim(0.5, result.ranks.shape[0] + 0.5)
        ax.set_xlabel("mean rank (1 = best); models sharing a letter are not told apart")
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_axis_off()
        ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True)
    p = "" if math.isnan(result.omnibus_p) else f", p = {result.omnibus_p:.3g}"
    ax.set_title(f"{result.omnibus_test}{p}", fontsize=10)
    fig.tight_layout()
    return _save_png(fig, path)


def cd_diagram(result_or_table: OmnibusResult | pd.DataFrame, path: str | Path, alpha: float = 0.05) -> str:
    """Write a PNG for an omnibus result (or a table, ranked first with ``omnibus``) and return a note.

    Friedman + Nemenyi: autorank's critical-difference diagram (note ""; drawn even when
    Friedman does not reject, and the note then says the bars must not be read). Two models
    or a test not run: a plain mean-rank plot, the note says why. Any failure while drawing
    falls back to the plain plot with the error in the note: a figure never stops the study.
    """
    result = result_or_table if isinstance(result_or_table, OmnibusResult) else omnibus(result_or_table, alpha=alpha)
    path = Path(path)
    if result.posthoc_test != NEMENYI or result.rank_result is None:
        why = result.note or f"{result.omnibus_test}: no critical-difference diagram for two models"
        _rank_plot(result, path, why)
        return f"mean-rank plot instead of a critical-difference diagram ({why})"
    try:
        import autorank

        k = len(result.ranks)
        # the height autorank's own figure would get (autorank._util.cd_diagram), for 6 inches wide
        fig = _figure(6, 0.65 + (k + 1) / 2 * 0.2 + max(0.4, 0.4 + (k - 1) * 0.1))
        ax = fig.add_axes((0, 0, 1, 1))
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            autorank.plot_stats(result.rank_result, allow_insignificant=True, ax=ax)
        _save_png(fig, path)
    except Exception as err:  # noqa: BLE001 - any drawing failure becomes a note, not a crash
        _rank_plot(result, path, f"autorank could not draw it: {err}")
        return f"mean-rank plot instead of a critical-difference diagram (autorank failed: {type(err).__name__}: {err})"
    if not result.omnibus_p < result.alpha:
        return f"Friedman p = {result.omnibus_p:.3g} >= {result.alpha}: no difference shown; the diagram's bars are not to be read"
    return ""
