"""Latest-value, time-since and window features of one stream at many sample times.

This module is the one place that names and computes the per-stream features of
spec/features.md (sections 3 and 4):

- :data:`WINDOWS`, :data:`NUM_STATS` and
  :func:`stream_feature_names` declare the catalogue;
- :func:`stream_features` computes it for every sample time at once.

Names (``S`` is the stream), in column order:

- numeric: ``S#VAL``, then ``S#<STAT>#<WIN>`` for each statistic of
  :data:`NUM_STATS`, and within it each window of :data:`WINDOWS`;
- bounded categorical: ``S#VAL=c`` for each category, ``S#DSC``, ``S#DSC=c`` for
  each category, then for each window ``S#ETP#W``, ``S#ASC#W`` and the duration
  shares: ``S#DUR#W`` (two categories: share of the first) or ``S#DUR=c#W`` for
  each category (more than two);
- unbounded categorical (no category list): ``S#DSC``, then for each window
  ``S#ETP#W``, ``S#ASC#W``;
- with ``coverage=True``, after all of these: ``S#COV#W`` for each window.

Coverage (ours, spec section 7): the grid positions ``g_k = t0 + k*s`` (any
integer k, so also outside the stream's first..last span) with
``t - W <= g_k <= t`` are the window's positions; ``S#COV#W`` is the share of
them whose bin ``[g_k, g_k + s)`` holds at least one raw sample at or before t
(any value, a missing categorical value included). A stream with no data, or
none at or before t, has coverage 0. It uses only samples at or before t, so it
is the same in both modes.

Modes: ``"reference"`` builds the grid of the whole stream (with the leaks of
section 4); ``"causal"`` gives, for each t, exactly what the reference grid of the
stream truncated to the samples at or before t would give. That truncated grid
differs from the full one only near its end, which is how it is computed without
rebuilding a grid per sample time: windows stop at the bin of the last sample
``l <= t``; if that bin also holds samples after t, its mean is recomputed from
the samples up to t, and the interpolated points between the previous filled bin
and it are re-interpolated towards the new mean (a per-prompt patch of one
ramp). Categorical grids run on to the last grid point at or before t.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kemo_attention.features.grid import (
    CategoricalRuns,
    NumericGrid,
    build_categorical_runs,
    build_numeric_grid,
    ceil_index,
    floor_index,
    merge_ranges,
)
from kemo_attention.features.stats import NUM_STATS, new_batch, padded_width, padded_window_stats

if TYPE_CHECKING:  # only for annotations: streams.py imports nothing from here
    from kemo_attention.features.streams import Stream, StreamSpec

__all__ = [
    "WINDOWS", "NUM_STATS", "MODES",
    "stream_feature_names", "coverage_feature_names", "stream_features",
]

WINDOWS: tuple[tuple[str, int], ...] = (
    ("S30", 30_000),
    ("M01", 60_000),
    ("M05", 300_000),
    ("M10", 600_000),
    ("M30", 1_800_000),
    ("H01", 3_600_000),
    ("H03", 10_800_000),
    ("H06", 21_600_000),
)
MODES: tuple[str, ...] = ("causal", "reference")

# Rows x values of one batch of numeric windows (float64: 4 MB per scratch array).
_BATCH_VALUES = 1 << 19


# ---------------------------------------------------------------- names
def _duration_names(spec: StreamSpec, win: str) -> list[str]:
    cats = spec.categories
    if cats is None:
        return []
    if len(cats) == 2:
        return [f"{spec.name}#DUR#{win}"]
    return [f"{spec.name}#DUR={c}#{win}" for c in cats]


def coverage_feature_names(spec: StreamSpec) -> list[str]:
    """``S#COV#W`` for each window (the optional coverage columns of one stream)."""
    return [f"{spec.name}#COV#{win}" for win, _ in WINDOWS]


def stream_feature_names(spec: StreamSpec, coverage: bool = False) -> list[str]:
    """Names of the latest-value, time-since and window features of one stream, in column order."""
    s = spec.name
    if spec.kind == "num":
        names = [f"{s}#VAL"] + [f"{s}#{stat}#{win}" for stat in NUM_STATS for win, _ in WINDOWS]
    elif spec.kind == "cat":
        cats = spec.categories or ()
        names = [f"{s}#VAL={c}" for c in cats] + [f"{s}#DSC"] + [f"{s}#DSC={c}" for c in cats]
        for win, _ in WINDOWS:
            names += [f"{s}#ETP#{win}", f"{s}#ASC#{win}", *_duration_names(spec, win)]
    else:
        raise ValueError(f"stream {s}: kind must be 'num' or 'cat', got {spec.kind!r}")
    if coverage:
        names += coverage_feature_names(spec)
    return names


# ---------------------------------------------------------------- entry point
def stream_features(stream: Stream, t_ms: np.ndarray, mode: str = "causal", coverage: bool = False,
                    present: bool = True) -> dict[str, np.ndarray]:
    """All features of :func:`stream_feature_names` for one stream at the sample times ``t_ms``.

    Parameters
    ----------
    stream:
        The stream (times int64 ms stable-sorted; numeric values float64, NaN
        samples are ignored; categorical values str or ``None``).
    t_ms:
        Sample times (prompt time - 1 ms), int64 ms, any order.
    mode:
        ``"causal"`` (nothing after t is used) or ``"reference"`` (the dataset
        authors' grid, section 4).
    coverage:
        Also return the ``S#COV#W`` columns.
    present:
        False when the participant has no data for this stream at all: DSC and
        DSC=c are then 0 (the reference's fill) instead of -1.

    Returns
    -------
    dict name -> array of len(t_ms): float64, bool for ``S#VAL=c``. Values may be
    NaN or inf only where the spec says "undefined -> 0" (the assembly maps them).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    t = np.asarray(t_ms, dtype=np.int64).reshape(-1)
    spec = stream.spec
    if spec.kind == "num":
        return _numeric_features(stream, t, mode, coverage)
    if spec.kind == "cat":
        return _categorical_features(stream, t, mode, coverage, present)
    raise ValueError(f"stream {spec.name}: kind must be 'num' or 'cat', got {spec.kind!r}")


def _coverage(out: dict, name: str, bins: np.ndarray, last_bin: np.ndarray, t: np.ndarray,
              t0: int, step: int) -> None:
    """``name#COV#W``: share of window positions whose bin holds a sample at or before t.

    ``bins`` are the sorted distinct bin indices holding samples; ``last_bin`` is
    the bin of the last sample at or before each t (-1 when there is none): bins
    before it hold only earlier samples, bins after it none at or before t.
    """
    kb = floor_index(t, t0, step)
    top = np.searchsorted(bins, np.minimum(kb, last_bin), side="right")
    for win, w_ms in WINDOWS:
        ka = ceil_index(t - w_ms, t0, step)
        covered = np.maximum(top - np.searchsorted(bins, ka, side="left"), 0)
        share = covered / (kb - ka + 1)
        out[f"{name}#COV#{win}"] = np.where(last_bin >= 0, share, 0.0)


# ---------------------------------------------------------------- numeric streams
def _numeric_features(stream: Stream, t: np.ndarray, mode: str, coverage: bool) -> dict[str, np.ndarray]:
    spec = stream.spec
    s = spec.name
    times = np.asarray(stream.times, dtype=np.int64)
    values = np.asarray(stream.values, dtype=np.float64)
    finite = ~np.isnan(values)
    if not finite.all():
        times, values = times[finite], values[finite]
    P = t.size
    out: dict[str, np.ndarray] = {}
    last = np.searchsorted(times, t, side="right") - 1
    has = last >= 0
    out[f"{s}#VAL"] = np.where(has, values[np.maximum(last, 0)], 0.0) if times.size else np.zeros(P)

    grid = build_numeric_grid(times, values, spec.grid_step_ms)
    if grid is None:
        for stat in NUM_STATS:
            for win, _ in WINDOWS:
                out[f"{s}#{stat}#{win}"] = np.zeros(P)
        if coverage:
            for name in coverage_feature_names(spec):
                out[name] = np.zeros(P)
        return out

    step, t0, N = grid.step, grid.t0, grid.n_points
    last_bin = np.where(has, grid.sample_bin[np.maximum(last, 0)], -1)
    if mode == "reference":
        hi = np.clip(floor_index(t, t0, step) + 1, 0, N)
        patches: dict[int, tuple[int, np.ndarray]] = {}
    else:
        hi = last_bin + 1  # the bin of the last sample <= t ends the causal grid
        patches = _causal_patches(grid, values, last, has)
    los = [np.clip(ceil_index(t - w_ms, t0, step), 0, N) for _, w_ms in WINDOWS]
    widest = np.minimum.reduce(los)

    # Realise only the grid points some window needs, as disjoint segments.
    seg_lo, seg_hi = merge_ranges(widest, hi)
    seg_len = seg_hi - seg_lo
    seg_off = np.cumsum(seg_len) - seg_len
    total = int(seg_len.sum())
    buf = np.empty(total)
    if total:
        for a, b, off in zip(seg_lo.tolist(), seg_hi.tolist(), seg_off.tolist()):
            buf[off: off + b - a] = grid.values(np.arange(a, b))
        seg = np.clip(np.searchsorted(seg_lo, widest, side="right") - 1, 0, seg_lo.size - 1)
        shift = seg_off[seg] - seg_lo[seg]
    else:
        shift = np.zeros(P, dtype=np.int64)
    run_starts = _run_starts(buf)

    for (win, _), lo in zip(WINDOWS, los):
        n = np.maximum(hi - lo, 0)
        stats = _numeric_windows(buf, run_starts, lo + shift, n, lo, patches)
        for stat in NUM_STATS:
            out[f"{s}#{stat}#{win}"] = stats[stat]
    if coverage:
        _coverage(out, s, grid.filled, last_bin, t, t0, step)
    return out


def _causal_patches(grid: NumericGrid, values: np.ndarray, last: np.ndarray,
                    has: np.ndarray) -> dict[int, tuple[int, np.ndarray]]:
    """Per sample time whose last bin also holds later samples: (first grid index, new values).

    The new values cover grid indices ``first .. bin(l)``: the interpolated points
    after the previous filled bin, re-interpolated towards the mean of the samples
    of bin(l) at or before t, and that mean itself.
    """
    patches: dict[int, tuple[int, np.ndarray]] = {}
    sb = grid.sample_bin
    n_samples = sb.size
    nxt = np.minimum(last + 1, n_samples - 1)
    split = has & (last + 1 < n_samples) & (sb[nxt] == sb[np.maximum(last, 0)])
    for i in np.flatnonzero(split):
        li = int(last[i])
        k = int(sb[li])
        j = int(np.searchsorted(grid.filled, k))
        part = values[grid.bin_start[j]: li + 1]
        mean = part.sum() / part.size
        if j == 0:
            patches[int(i)] = (k, np.array([mean]))
            continue
        p = int(grid.filled[j - 1])
        pts = np.arange(p + 1, k + 1)
        patches[int(i)] = (p + 1, np.interp(pts, [p, k], [grid.means[j - 1], mean]))
    return patches


def _run_starts(x: np.ndarray) -> np.ndarray:
    """The sorted positions where a run of exactly equal values begins (position 0 first).

    The run of position i begins at ``starts[searchsorted(starts, i, "right") - 1]``: only
    the windows' last positions are looked up, so no per-position array is built.
    """
    if x.size == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(x.size, dtype=bool)
    new[0] = True
    np.not_equal(x[1:], x[:-1], out=new[1:])
    return np.flatnonzero(new)


def _numeric_windows(buf: np.ndarray, run_starts: np.ndarray, start: np.ndarray, n: np.ndarray,
                     lo: np.ndarray, patches: dict[int, tuple[int, np.ndarray]]) -> dict[str, np.ndarray]:
    """Statistics of the windows ``buf[start[i] : start[i] + n[i]]`` (grid index of row i's first point: lo[i])."""
    P = n.size
    out = {stat: np.zeros(P) for stat in NUM_STATS}
    patched = np.zeros(P, dtype=bool)
    if patches:
        patched[list(patches)] = True
    nonempty = n > 0
    # Windows of one repeated value (unpatched) need no gathering.
    end = np.maximum(start + n - 1, 0)
    constant = nonempty & ~patched
    ends = end[constant]  # constant when its run began at or before the window's start
    constant[constant] = run_starts[np.searchsorted(run_starts, ends, side="right") - 1] <= start[constant]
    first = buf[start[constant]]
    out["AVG"][constant] = first
    out["MED"][constant] = first

    todo = np.flatnonzero(nonempty & ~constant)
    if todo.size == 0:
        return out
    todo = todo[np.argsort(n[todo], kind="stable")]
    for rows in _batches(n[todo], todo):
        V = new_batch(rows.size, padded_width(int(n[rows].max())), zeroed=False)
        for r, i in enumerate(rows):
            k, a = int(n[i]), int(start[i])
            V[r, :k] = buf[a: a + k]
            V[r, k:] = 0.0  # the padding (rows of a batch have similar lengths: short)
            got = patches.get(int(i))
            if got is not None:
                first_k, vals = got
                from_k = max(int(lo[i]), first_k)
                V[r, from_k - int(lo[i]): k] = vals[from_k - first_k:]
        stats = padded_window_stats(V, n[rows])
        for stat in NUM_STATS:
            out[stat][rows] = stats[stat]
    return out


def _batches(lengths: np.ndarray, rows: np.ndarray):
    """Split rows (sorted by window length) into batches of similar length and bounded size."""
    i = 0
    m = rows.size
    while i < m:
        first = int(lengths[i])
        cap = max(1, _BATCH_VALUES // max(int(first * 1.25) + 16, 1))
        j = i + 1
        # Padding shorter rows to the longest costs at most ~25 % extra work.
        while j < m and j - i < cap and lengths[j] <= first * 1.25 + 16:
            j += 1
        yield rows[i:j]
        i = j


# ---------------------------------------------------------------- categorical streams
def _codes(values: np.ndarray, categories: tuple[str, ...] | None) -> tuple[np.ndarray, int]:
    """Integer codes: the categories first (spec order), other values after them, -1 for missing."""
    raw, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    cats = categories or ()
    lookup = {c: i for i, c in enumerate(cats)}
    remap = np.empty(len(uniques) + 1, dtype=np.int64)
    remap[-1] = -1
    extra = len(cats)
    for u, v in enumerate(uniques):
        if v in lookup:
            remap[u] = lookup[v]
        else:
            remap[u] = extra
            extra += 1
    return remap[raw], extra


def _categorical_features(stream: Stream, t: np.ndarray, mode: str, coverage: bool,
                          present: bool) -> dict[str, np.ndarray]:
    spec = stream.spec
    s = spec.name
    cats = spec.categories or ()
    times = np.asarray(stream.times, dtype=np.int64)
    codes, n_codes = _codes(stream.values, spec.categories)
    P = t.size
    out: dict[str, np.ndarray] = {}
    last = np.searchsorted(times, t, side="right") - 1
    has = last >= 0
    last_code = np.where(has, codes[np.maximum(last, 0)], -1) if times.size else np.full(P, -1)
    for ci, c in enumerate(cats):
        out[f"{s}#VAL={c}"] = last_code == ci

    # Time since: -1 without an earlier sample; 0 when the stream has no data at
    # all, and in causal mode whenever nothing at or before t exists.
    none_fill = np.where(has, -1.0, 0.0 if mode == "causal" else -1.0)
    since = np.where(has, (t - times[np.maximum(last, 0)]) / 1000.0, none_fill) if times.size else none_fill
    out[f"{s}#DSC"] = since if present else np.zeros(P)
    for ci, c in enumerate(cats):
        tc = times[codes == ci]
        j = np.searchsorted(tc, t, side="right") - 1
        val = np.where(j >= 0, (t - tc[np.maximum(j, 0)]) / 1000.0, none_fill) if tc.size else none_fill
        out[f"{s}#DSC={c}"] = val if present else np.zeros(P)

    runs = build_categorical_runs(times, codes, spec.grid_step_ms, open_end=mode == "causal")
    win_names = [n for win, _ in WINDOWS for n in (f"{s}#ETP#{win}", f"{s}#ASC#{win}", *_duration_names(spec, win))]
    if runs is None or runs.codes.size == 0:
        for name in win_names:
            out[name] = np.zeros(P)
        if coverage:
            for name in coverage_feature_names(spec):
                out[name] = np.zeros(P)
    else:
        _categorical_windows(out, spec, runs, t, n_codes)
    if coverage and times.size:
        step, t0 = runs.step, runs.t0
        sample_bin = floor_index(times, t0, step)
        last_bin = np.where(has, sample_bin[np.maximum(last, 0)], -1)
        _coverage(out, s, np.unique(sample_bin), last_bin, t, t0, step)
    return out


def _categorical_windows(out: dict, spec: StreamSpec, runs: CategoricalRuns, t: np.ndarray,
                         n_codes: int) -> None:
    """ETP, ASC and DUR of every window at every t, from run overlaps (all windows at once)."""
    s = spec.name
    P = t.size
    W = len(WINDOWS)
    # Window w of sample i is row w * P + i.
    lo = np.concatenate([np.maximum(ceil_index(t - w_ms, runs.t0, runs.step), 0) for _, w_ms in WINDOWS])
    hi = np.tile(floor_index(t, runs.t0, runs.step) + 1, W)
    ra = np.searchsorted(runs.ends, lo, side="right")  # first run ending after lo
    rb = np.searchsorted(runs.starts, hi, side="left")  # runs starting before hi
    m = np.maximum(rb - ra, 0)
    asc = np.where(m > 0, runs.changes[np.maximum(rb - 1, 0)] - runs.changes[np.minimum(ra, runs.codes.size - 1)], 0)

    win = np.repeat(np.arange(lo.size), m)
    run = np.arange(win.size) - np.repeat(np.cumsum(m) - m - ra, m)
    overlap = (np.minimum(runs.ends[run], hi[win]) - np.maximum(runs.starts[run], lo[win])).astype(np.float64)
    count = np.bincount(win, weights=overlap, minlength=lo.size)
    # Counts per (window, value): sum the overlaps of equal keys.
    keys, inv = np.unique(win * n_codes + runs.codes[run], return_inverse=True)
    per_key = np.bincount(inv, weights=overlap)
    key_win, key_code = keys // n_codes, keys % n_codes
    with np.errstate(divide="ignore", invalid="ignore"):
        p = per_key / count[key_win]
        etp = np.bincount(key_win, weights=-p * np.log(p), minlength=lo.size)
    cats = spec.categories
    dur_codes = [] if cats is None else ([0] if len(cats) == 2 else list(range(len(cats))))
    shares = np.zeros((len(dur_codes), lo.size))
    for d, ci in enumerate(dur_codes):
        sel = key_code == ci
        shares[d, key_win[sel]] = p[sel]

    for w, (wname, _) in enumerate(WINDOWS):
        rows = slice(w * P, (w + 1) * P)
        out[f"{s}#ETP#{wname}"] = etp[rows] + 0.0  # + 0.0 turns -0.0 into 0.0
        out[f"{s}#ASC#{wname}"] = asc[rows].astype(np.float64)
        for d, name in enumerate(_duration_names(spec, wname)):
            out[name] = shares[d, rows]
