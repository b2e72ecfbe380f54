"""Personalization: a per-person recalibration of the population model's score.

The population model is trained on other people. A new participant answers a few prompts;
their answers shift the model's score for them by one number, the *offset* ``b``::

    logit(p') = logit(p) + b

``b`` is the maximum a-posteriori estimate from the participant's first ``k`` answers: the
log-loss of ``sigmoid(logit(p_i) + b)`` against their labels ``y_i``, plus a Gaussian prior on
``b`` (mean 0, SD ``prior_sd``). The prior shrinks ``b`` towards 0 when the answers are few, and
keeps it finite when they are all of one class (maximum likelihood alone would send it to
+-infinity). Nothing is refitted: the study stays in its budget, and a live server applies the
same method from the answers it receives (live/service.py).

With the default SD of 1.0, an offset of 2 (a prior density of ~0.14 of its peak) needs the
answers to say so clearly: e.g. 10 answers all 1 where the model says 0.5 give b ~ 1.6 (solved in
tests/models/test_personalize.py from the formula). A person whose answers look like the
population's keeps b near 0.

The study's ``--protocol hybrid``: for each test participant the chronologically first ``k``
labelled prompts are *personal* (they fit the offset; in the study they also join the training
side of that participant's fold) and only the later ones are *scored*; the population protocol
is scored on exactly those later prompts, so the gain is paired (:func:`personal_split`,
:func:`personalize_predictions`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, logit

from kemo_attention.errors import KemoError

DEFAULT_PERSONAL_LABELS = 10
"""Answers of a new participant that fit their offset (``--personal-labels``).

K-EmoPhone prompts up to ~16 times a day, so 10 answers are about a participant's first day.
With the reference protocol's 35-answer minimum, every kept participant still has >= 25 later
prompts to be scored on. In use, a new participant can be asked for a day of answers before the
personalized score is shown."""

DEFAULT_PRIOR_SD = 1.0
"""SD of the Gaussian prior on the offset (logit units; mean 0)."""

PROBA_CLIP = 1e-6
"""Population probabilities are clipped to [PROBA_CLIP, 1 - PROBA_CLIP] when the offset is
fitted: a model's 0 or 1 has an infinite logit, and one answer against it an infinite loss.
(:func:`apply_offset` needs no clip: 0 and 1 stay 0 and 1.)"""

_NEWTON_TOL = 1e-12
_MAX_STEPS = 200


def personal_split(groups, prompt_ms, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(personal_mask, scored_mask)``: per participant, the first ``k`` rows by prompt time are
    personal (ties keep row order), the rest are scored. A participant with ``<= k`` rows has no
    scored rows (the caller counts them). Rows of one participant need not be adjacent or sorted."""
    groups = np.asarray(groups)
    prompt_ms = np.asarray(prompt_ms)
    _check_k(k)
    if groups.ndim != 1 or prompt_ms.shape != groups.shape:
        raise KemoError(f"personal_split: groups and prompt_ms must be 1-d and of one length; got {groups.shape} and {prompt_ms.shape}")
    n = groups.shape[0]
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    _, person = np.unique(groups, return_inverse=True)
    order = np.lexsort((np.arange(n), prompt_ms, person))  # by person, then time, then row: stable
    sorted_person = person[order]
    starts = np.flatnonzero(np.r_[True, sorted_person[1:] != sorted_person[:-1]])
    rank_sorted = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    personal = rank < k
    return personal, ~personal


def fit_offset(proba, y, prior_sd: float = DEFAULT_PRIOR_SD) -> float:
    """The MAP offset ``b`` for one person: minimises

        sum_i logloss(y_i, sigmoid(logit(clip(p_i)) + b)) + b**2 / (2 * prior_sd**2)

    by Newton's method on its derivative (strictly increasing in ``b``), safeguarded by
    bisection: deterministic, to ~1e-12. No answers give 0 (the prior's mean)."""
    z, y = _scores_and_labels(proba, y)
    if not (isinstance(prior_sd, (int, float)) and not isinstance(prior_sd, bool) and math.isfinite(prior_sd) and prior_sd > 0):
        raise KemoError(f"fit_offset: prior_sd must be a positive number; got {prior_sd!r}")
    if z.size == 0:
        return 0.0
    precision = 1.0 / (prior_sd * prior_sd)

    def slope(b: float) -> tuple[float, float]:
        q = expit(z + b)
        return float(np.sum(q - y) + b * precision), float(np.sum(q * (1.0 - q)) + precision)

    # The root lies where b = -prior_sd**2 * sum(q - y), and |sum(q - y)| < n.
    bound = prior_sd * prior_sd * z.size + 1.0
    lo, hi = -bound, bound
    b = 0.0
    for _ in range(_MAX_STEPS):
        g, h = slope(b)
        if g == 0.0:
            return float(b)
        if g > 0:
            hi = b
        else:
            lo = b
        step = g / h
        nxt = b - step
        if not lo < nxt < hi:  # Newton would leave the bracket: bisect instead
            nxt = 0.5 * (lo + hi)
        if abs(nxt - b) <= _NEWTON_TOL * max(1.0, abs(b)):
            return float(nxt)
        b = nxt
    return float(b)  # pragma: no cover - the bracket halves at worst every step


def apply_offset(proba, offset: float) -> np.ndarray:
    """``sigmoid(logit(p) + offset)`` elementwise (0 and 1 stay 0 and 1)."""
    p = np.asarray(proba, dtype=np.float64)
    if not math.isfinite(offset):
        raise KemoError(f"apply_offset: the offset must be a finite number; got {offset!r}")
    with np.errstate(divide="ignore"):
        return expit(logit(p) + float(offset))


def personalize_predictions(proba, y, groups, prompt_ms, k: int = DEFAULT_PERSONAL_LABELS,
                            prior_sd: float = DEFAULT_PRIOR_SD) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The hybrid protocol's scores: ``(proba_personal, scored_mask, offsets)``.

    Each participant's offset is fitted on their personal rows (the first ``k`` by prompt time,
    :func:`personal_split`) and applied to their scored rows. ``proba_personal`` holds the
    personalized probability on scored rows and NaN on personal rows, so that a metric taken
    over every row fails loudly instead of scoring the rows the offset was fitted on.
    ``offsets`` has one entry per participant (str of the group), including those with no
    scored rows. The population score for the paired comparison is ``proba[scored_mask]``."""
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y)
    groups = np.asarray(groups)
    if not (proba.shape == y.shape == groups.shape):
        raise KemoError(f"personalize_predictions: proba, y and groups must be of one length; got "
                        f"{proba.shape}, {y.shape}, {groups.shape}")
    personal, scored = personal_split(groups, prompt_ms, k)
    out = np.full(proba.shape, np.nan)
    offsets: dict[str, float] = {}
    for g in np.unique(groups):
        mine = groups == g
        b = fit_offset(proba[mine & personal], y[mine & personal], prior_sd)
        offsets[str(g)] = b
        rows = mine & scored
        out[rows] = apply_offset(proba[rows], b)
    return out, scored, offsets


# ---------------------------------------------------------------------- checks
def _check_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise KemoError(f"personal labels k must be a whole number >= 0; got {k!r}")


def _scores_and_labels(proba, y) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(proba, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise KemoError(f"fit_offset: {p.size} probabilities but {t.size} labels")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise KemoError(f"fit_offset: probability {i} (0-based) is {float(p[i])!r}; expected a number in [0, 1]")
    wrong = (t != 0) & (t != 1)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise KemoError(f"fit_offset: label {i} (0-based) is {float(t[i])!r}; expected 0 or 1")
    return logit(np.clip(p, PROBA_CLIP, 1.0 - PROBA_CLIP)), t
