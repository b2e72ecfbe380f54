"""Regular grids of one stream, built once and read by every window.

A stream with first sample time ``t0`` and grid step ``s`` has grid points
``g_k = t0 + k*s``. All grid arithmetic here is integer (int64 milliseconds), so
"which grid points lie in ``[t - W, t]``" is exact and needs no search:
``k`` runs from ``ceil((t - W - t0) / s)`` to ``floor((t - t0) / s)``.

Numeric streams (:class:`NumericGrid`): the value at ``g_k`` is the mean of the
samples in ``[g_k, g_k + s)``; empty points are filled by linear interpolation
between the nearest filled points, on point positions (what pandas'
``interpolate(method="linear")`` does on a regular grid). Only the filled bins
are stored; :meth:`NumericGrid.values` realises any set of grid points with
``np.interp``, which returns filled bins exactly, so a window never needs the
whole multi-day grid in memory at once.

Categorical streams (:class:`CategoricalRuns`): the value at ``g_k`` is the last
sample at or before ``g_k``, so each sample owns the run of grid points from the
first point at or after its time up to the first point owned by the next sample.
The grid is kept as these runs (start, end, code), with missing values (``None``)
dropped, which makes counting a window's values a matter of run overlaps.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

# A categorical run that never ends (causal mode: the last value holds until t).
OPEN_END = np.iinfo(np.int64).max // 4


def floor_index(t_ms: np.ndarray, t0: int, step: int) -> np.ndarray:
    """Index of the last grid point at or before each time (may be negative)."""
    return np.floor_divide(np.asarray(t_ms, dtype=np.int64) - t0, step)


def ceil_index(t_ms: np.ndarray, t0: int, step: int) -> np.ndarray:
    """Index of the first grid point at or after each time (may be negative)."""
    return -np.floor_divide(t0 - np.asarray(t_ms, dtype=np.int64), step)


@dataclass
class NumericGrid:
    """Bin means of one numeric stream on its grid.

    Attributes
    ----------
    t0, step:
        First sample time and grid step (ms).
    n_points:
        Number of grid points ``K + 1`` (first to last sample).
    filled:
        Sorted indices of the grid points whose bin holds at least one sample.
    means:
        Bin mean at each filled point (float64).
    sample_bin:
        Grid index of each sample's bin (samples in time order).
    bin_start:
        For each filled point, the index of its first sample.
    """

    t0: int
    step: int
    n_points: int
    filled: np.ndarray
    means: np.ndarray
    sample_bin: np.ndarray
    bin_start: np.ndarray

    def values(self, idx: np.ndarray) -> np.ndarray:
        """Grid values at grid indices ``idx`` (all within ``[0, n_points)``)."""
        return np.interp(idx, self.filled, self.means)


def build_numeric_grid(times: np.ndarray, values: np.ndarray, step: int) -> NumericGrid | None:
    """Put one numeric stream on its grid (``None`` when it has no sample).

    ``times`` must be sorted (stable, as the streams are); ``values`` must be
    finite-or-inf floats without NaN (the caller drops NaN samples).
    """
    times = np.asarray(times, dtype=np.int64)
    if times.size == 0:
        return None
    t0 = int(times[0])
    sample_bin, bin_start, counts, filled = _bins(times, step)
    sums = np.add.reduceat(np.asarray(values, dtype=np.float64), bin_start)
    return NumericGrid(
        t0=t0, step=step, n_points=int(sample_bin[-1]) + 1,
        filled=filled, means=sums / counts,
        sample_bin=sample_bin, bin_start=bin_start,
    )


# The bins of the last times array seen: several streams of one table share their times
# array (ACC_AXX .. ACC_MAG, the seven ACE_*), so their bins are computed once. The times
# are held by a weak reference: a new array never matches a freed one's bins.
_last_bins: tuple = (None, 0, None, None)


def _bins(times: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each sample's grid index, each filled bin's first sample, its count and grid index."""
    global _last_bins
    ref, last_step, ends, got = _last_bins
    here = (times.size, int(times[0]), int(times[-1]))
    if got is not None and last_step == step and ends == here and ref() is times:
        return got
    sample_bin = _offsets_over_step(times - times[0], step)
    # Times are sorted, so each bin's samples are one contiguous run.
    new_bin = np.empty(times.size, dtype=bool)
    new_bin[0] = True
    np.not_equal(sample_bin[1:], sample_bin[:-1], out=new_bin[1:])
    bin_start = np.flatnonzero(new_bin)
    counts = np.diff(np.append(bin_start, times.size))
    got = (sample_bin, bin_start, counts, sample_bin[bin_start])
    for array in got:  # shared by several grids: nobody may change them in place
        array.flags.writeable = False
    _last_bins = (weakref.ref(times), step, here, got)
    return got


def _offsets_over_step(offsets: np.ndarray, step: int) -> np.ndarray:
    """``offsets // step`` for sorted non-negative int64 offsets, a few times faster in float64.

    Exact while the offsets stay below 2**53: an integer x converts exactly, and when x / step
    is not an integer it lies at least 1 / step from one, far more than the rounding of the
    float quotient (x / step * 2**-53), so flooring it gives the integer quotient.
    """
    if offsets.size == 0 or int(offsets[-1]) >= 2**53 or int(offsets[0]) < 0:
        return np.floor_divide(offsets, step)
    quotient = offsets.astype(np.float64)
    quotient /= step
    np.floor(quotient, out=quotient)
    return quotient.astype(np.int64)


@dataclass
class CategoricalRuns:
    """One categorical stream's grid as runs of equal value.

    Run ``i`` covers grid indices ``[starts[i], ends[i])`` with value code
    ``codes[i]``; runs are disjoint and increasing; points with a missing value
    are in no run. ``changes[i]`` counts value changes among runs ``0..i``
    (consecutive runs, so a missing stretch between two runs is skipped:
    A -> missing -> B is one change).
    """

    t0: int
    step: int
    starts: np.ndarray
    ends: np.ndarray
    codes: np.ndarray
    changes: np.ndarray


def build_categorical_runs(times: np.ndarray, codes: np.ndarray, step: int,
                           open_end: bool) -> CategoricalRuns | None:
    """Runs of a categorical stream (``None`` when it has no sample).

    ``codes`` are integers, ``-1`` for a missing value. The grid ends at the
    last grid point at or before the last sample (``open_end=False``, the
    reference) or never (``open_end=True``, causal: the caller stops each
    window at t).
    """
    times = np.asarray(times, dtype=np.int64)
    if times.size == 0:
        return None
    t0 = int(times[0])
    first_point = ceil_index(times, t0, step)
    last = OPEN_END if open_end else int(floor_index(times[-1:], t0, step)[0]) + 1
    ends = np.append(first_point[1:], last)
    # A sample followed by another before the next grid point owns no point
    # (among equal times the last row wins); missing values are dropped.
    keep = (ends > first_point) & (codes >= 0)
    starts, ends, run_codes = first_point[keep], ends[keep], np.asarray(codes)[keep]
    changed = np.zeros(run_codes.size, dtype=np.int64)
    if run_codes.size > 1:
        changed[1:] = run_codes[1:] != run_codes[:-1]
    return CategoricalRuns(t0=t0, step=step, starts=starts, ends=ends,
                           codes=run_codes, changes=np.cumsum(changed))


def merge_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of the half-open ranges ``[lo, hi)`` (empty ones ignored) as sorted disjoint ranges."""
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    if lo.size == 0:
        return lo, hi
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    # A new range starts where the running end falls short of the next start.
    new = np.ones(lo.size, dtype=bool)
    new[1:] = lo[1:] > hi[:-1]
    starts = lo[new]
    ends = hi[np.append(np.flatnonzero(new)[1:] - 1, lo.size - 1)]
    return starts, ends
