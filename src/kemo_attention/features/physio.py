"""The physiology family (``--features reference+physio``): heart-rate variability from the
RR intervals, skin-conductance level and responses from EDA, skin-temperature slope.

Every value at a sample time t uses only samples at or before t (the family is causal in
both modes): the artefact rules look back only, the EDA filters run forwards only
(``scipy.signal.lfilter``, never a zero-phase ``filtfilt``), an SCR counts once the sample
after its peak exists, and the resampled EDA grid stops at the last sample at or before t.
The definitions, units and thresholds are in docs/features.md ("The physiology family").

Names follow the reference scheme ``{STREAM}#{STATISTIC}#{WINDOW}``; :func:`physio_feature_names`
gives them in column order (they come after every reference column) and
:func:`physio_features` computes them for every sample time at once: prefix sums for the
window statistics, one spectral estimate per (prompt, window) for LF and HF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import make_interp_spline
from scipy.signal import butter, lfilter, lfilter_zi, welch

from kemo_attention.features.window import WINDOWS

__all__ = [
    "RRI_STATS", "EDA_STATS", "SKT_STATS", "PHYSIO_WINDOWS", "PHYSIO_WARMUP_MS",
    "physio_feature_names", "physio_features",
    "clean_nn", "CleanNN", "eda_grid", "EdaGrid", "scr_events", "ScrEvents", "hrv_band_powers",
]  # fmt: skip

# ------------------------------------------------------------------ the catalogue
RRI_STATS: tuple[str, ...] = ("MNN", "SDN", "RMS", "PNN", "SD1", "SD2", "LFP", "HFP", "LHR")
EDA_STATS: tuple[str, ...] = ("TNC", "TNS", "SRN", "SRA", "SRT")
SKT_STATS: tuple[str, ...] = ("SLP",)

# Windows long enough for each stream (see docs/features.md): HRV needs minutes (LF's slowest
# cycle, 0.04 Hz, lasts 25 s; 5 min is the shortest standard recording); an SCR rises over
# 1-3 s and recovers over several more, so a minute holds a few; skin temperature changes
# over minutes and is sampled every ~30 s.
PHYSIO_WINDOWS: dict[str, tuple[str, ...]] = {
    "RRI": ("M05", "M10", "M30"),
    "EDA": ("M01", "M05", "M10", "M30"),
    "SKT": ("M10", "M30", "H01"),
}
_STATS = {"RRI": RRI_STATS, "EDA": EDA_STATS, "SKT": SKT_STATS}
_WINDOW_MS = dict(WINDOWS)

# RR intervals: artefact handling
NN_MIN_MS, NN_MAX_MS = 300.0, 2000.0  # 30-200 bpm
NN_MAX_CHANGE = 0.20  # a beat more than 20 % away from the median of ...
NN_REFERENCE_BEATS = 5  # ... the previous 5 in-range beats ...
NN_REFERENCE_MS = 10_000  # ... of the last 10 s is an artefact (ectopic or missed)
NN_ADJACENT = 1.5  # consecutive rows are adjacent beats when their time gap < 1.5 x the interval
NN50_MS = 50.0
NN_CENTRE_MS = 800.0
# Spectral: the NN series resampled at 4 Hz (quadratic spline), Welch with Hann segments of
# half the series; bands of the Task Force (1996).
HRV_RESAMPLE_HZ = 4.0
LF_BAND, HF_BAND = (0.04, 0.15), (0.15, 0.4)
HRV_MIN_COVERAGE = 0.8  # LF/HF only when the NN intervals in the window span >= 80 % of it

# EDA
EDA_MIN_RESISTANCE_KOHM = 10.0  # > 100 uS: not skin
EDA_MAX_RESISTANCE_KOHM = 20_000.0  # < 0.05 uS: the band sits loose (contact loss)
EDA_GRID_MS = 250  # 4 Hz
EDA_MAX_GAP_MS = 5_000  # a longer gap between samples starts a new segment (filters restart)
EDA_SMOOTH_HZ = 0.5  # causal 2nd-order Butterworth low-pass against sample noise
EDA_TONIC_HZ = 0.05  # causal 2nd-order Butterworth low-pass: the tonic level
SCR_MIN_AMPLITUDE_US = 0.05  # phasic rise from onset to peak
# History read before a window: the RR change rule looks back 10 s, and the slowest EDA filter
# (0.05 Hz, 2nd order) forgets its start as exp(-0.22 s^-1 x time): 5 min leave e^-66 of it.
# A record that keeps only this much before each window (the live store) gives the same values.
PHYSIO_WARMUP_MS = 300_000
SKT_MIN_SAMPLES = 3


def physio_feature_names() -> list[str]:
    """The family's names in column order: per stream (RRI, EDA, SKT), per statistic, per window."""
    return [f"{s}#{stat}#{win}" for s, stats in _STATS.items() for stat in stats for win in PHYSIO_WINDOWS[s]]


# ------------------------------------------------------------------ RR intervals
@dataclass(frozen=True)
class CleanNN:
    """The accepted NN intervals (ms) at their row times, and which follow the previous one."""

    times: np.ndarray  # int64 ms, sorted
    nn: np.ndarray  # float64 ms
    successive: np.ndarray  # bool: this beat directly follows the previous accepted beat
    out_of_range: int  # rows removed by the physiological range
    changed: int  # rows removed by the change rule


def clean_nn(times: np.ndarray, rr: np.ndarray) -> CleanNN:
    """Artefact handling of one participant's RR intervals (every rule looks back only).

    1. Out of range: intervals outside 300-2000 ms are removed.
    2. Change rule: an in-range interval more than 20 % away from the median of the (up to)
       5 previous in-range intervals of the last 10 s is removed (ectopic and missed beats);
       with no such previous interval it is kept.
    3. Successive: an accepted interval follows the previous accepted one when no row was
       removed between them and its time gap is under 1.5 x the interval (no beat missing);
       only such pairs enter RMSSD, pNN50, SD1 and SD2.
    """
    t = np.asarray(times, dtype=np.int64)
    v = np.asarray(rr, dtype=np.float64)
    n = v.size
    in_range = (v >= NN_MIN_MS) & (v <= NN_MAX_MS)
    ri = np.flatnonzero(in_range)
    tr, vr = t[ri], v[ri]
    # previous k in-range beats (k = 1..5) within the last 10 s: the reference
    prev = np.full((vr.size, NN_REFERENCE_BEATS), np.nan)
    for k in range(1, NN_REFERENCE_BEATS + 1):
        if vr.size > k:
            recent = tr[k:] - tr[:-k] <= NN_REFERENCE_MS
            prev[k:, k - 1] = np.where(recent, vr[:-k], np.nan)
    has_ref = ~np.isnan(prev).all(axis=1)
    ref = np.full(vr.size, np.nan)
    if has_ref.any():
        ref[has_ref] = np.nanmedian(prev[has_ref], axis=1)
    ok_r = ~has_ref | (np.abs(vr - np.where(has_ref, ref, 0.0)) <= NN_MAX_CHANGE * np.where(has_ref, ref, 0.0))
    accepted = np.zeros(n, dtype=bool)
    accepted[ri[ok_r]] = True
    ai = np.flatnonzero(accepted)
    ta, va = t[ai], v[ai]
    succ = np.zeros(ai.size, dtype=bool)
    if ai.size > 1:
        succ[1:] = (np.diff(ai) == 1) & (np.diff(ta) > 0) & (np.diff(ta) < NN_ADJACENT * va[1:])
    return CleanNN(ta, va, succ, int(n - in_range.sum()), int(in_range.sum() - accepted.sum()))


def hrv_band_powers(seconds: np.ndarray, nn: np.ndarray) -> tuple[float, float]:
    """LF and HF power (ms^2) of one window's NN series.

    ``seconds``: the intervals' times relative to the first (s). The series is resampled at
    4 Hz on ``0, 0.25, ...`` up to the last time (a quadratic spline through the intervals; a
    point after the last time takes the last interval), its mean removed, and its power
    spectral density estimated by Welch (Hann segments of half the series, half overlapping,
    FFT length twice the segment, no detrending); a band's power is the trapezoid integral of
    the density over ``lo <= f < hi``.
    """
    if nn.size < 3:
        return np.nan, np.nan
    step = 1.0 / HRV_RESAMPLE_HZ
    grid = np.arange(seconds[0], seconds[-1] + step, step)
    spline = make_interp_spline(seconds, nn, k=2, check_finite=False)
    series = np.where(grid > seconds[-1], nn[-1], spline(np.minimum(grid, seconds[-1])))
    series = series - series.mean()
    segment = series.size // 2
    if segment < 2:
        return np.nan, np.nan
    freq, power = welch(series, fs=HRV_RESAMPLE_HZ, window="hann", nperseg=segment, nfft=2 * segment,
                        detrend=False, scaling="density", average="mean")  # fmt: skip
    out = []
    for lo, hi in (LF_BAND, HF_BAND):
        inside = (freq >= lo) & (freq < hi)
        out.append(float(np.trapezoid(power[inside], freq[inside])) if inside.sum() > 1 else np.nan)
    return out[0], out[1]


def _window_bounds(times: np.ndarray, t: np.ndarray, w_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Index range ``[lo, hi)`` of the samples with ``t - w <= time <= t``."""
    return np.searchsorted(times, t - w_ms, side="left"), np.searchsorted(times, t, side="right")


def _csum(x: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0, so ``c[hi] - c[lo]`` sums ``x[lo:hi]``."""
    out = np.zeros(x.size + 1)
    np.cumsum(x, out=out[1:])
    return out


def _rri_features(clean: CleanNN, t: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    nn, times = clean.nn, clean.times
    centre = NN_CENTRE_MS  # sums of squares about it: no cancellation; a constant, so a
    # prompt's value cannot depend on later beats even in the last bit
    x = nn - centre
    s1, s2 = _csum(x), _csum(x * x)
    d = np.zeros(nn.size)
    p = np.zeros(nn.size)
    if nn.size > 1:
        d[1:] = np.diff(nn)
        p[1:] = nn[1:] + nn[:-1] - 2 * centre
    m = clean.successive.astype(np.float64)
    cm, cd, cd2, cp, cp2 = _csum(m), _csum(m * d), _csum(m * d * d), _csum(m * p), _csum(m * p * p)
    c50 = _csum(m * (np.abs(d) > NN50_MS))
    with np.errstate(divide="ignore", invalid="ignore"):
        for win in PHYSIO_WINDOWS["RRI"]:
            w_ms = _WINDOW_MS[win]
            lo, hi = _window_bounds(times, t, w_ms)
            n = (hi - lo).astype(np.float64)
            sx, sxx = s1[hi] - s1[lo], s2[hi] - s2[lo]
            mean_x = sx / n
            out[f"RRI#MNN#{win}"] = np.where(n > 0, mean_x + centre, np.nan)
            out[f"RRI#SDN#{win}"] = np.where(n > 1, np.sqrt(np.maximum(sxx - sx * mean_x, 0.0) / (n - 1)), np.nan)
            # pairs (i-1, i) with both beats in the window: i in [lo + 1, hi)
            plo = np.minimum(lo + 1, hi)
            k = cm[hi] - cm[plo]
            sd, sdd = cd[hi] - cd[plo], cd2[hi] - cd2[plo]
            sp, spp = cp[hi] - cp[plo], cp2[hi] - cp2[plo]
            out[f"RRI#RMS#{win}"] = np.where(k > 0, np.sqrt(sdd / k), np.nan)
            out[f"RRI#PNN#{win}"] = np.where(k > 0, 100.0 * (c50[hi] - c50[plo]) / k, np.nan)
            var_d = np.maximum(sdd - sd * sd / k, 0.0) / (k - 1)
            var_p = np.maximum(spp - sp * sp / k, 0.0) / (k - 1)
            out[f"RRI#SD1#{win}"] = np.where(k > 1, np.sqrt(var_d / 2.0), np.nan)
            out[f"RRI#SD2#{win}"] = np.where(k > 1, np.sqrt(var_p / 2.0), np.nan)
            lf, hf = np.full(t.size, np.nan), np.full(t.size, np.nan)
            span = s1[hi] - s1[lo] + centre * n  # sum of the window's NN intervals, ms
            for i in np.flatnonzero((n >= 3) & (span >= HRV_MIN_COVERAGE * w_ms)):
                a, b = int(lo[i]), int(hi[i])
                lf[i], hf[i] = hrv_band_powers((times[a:b] - times[a]) / 1000.0, nn[a:b])
            out[f"RRI#LFP#{win}"], out[f"RRI#HFP#{win}"] = lf, hf
            out[f"RRI#LHR#{win}"] = lf / hf
    return out


# ------------------------------------------------------------------ EDA
@dataclass(frozen=True)
class EdaGrid:
    """Skin conductance on a 4 Hz grid of contiguous segments, with its causal decomposition."""

    times: np.ndarray  # int64 ms of the grid points, sorted
    segment: np.ndarray  # int64: the segment of each grid point
    conductance: np.ndarray  # uS, sample-and-hold of the last valid sample at or before the point
    tonic: np.ndarray  # uS
    phasic: np.ndarray  # uS
    sample_times: np.ndarray  # int64 ms of the valid samples (the grid stops at the last one <= t)


def _causal_lowpass(x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """2nd-order Butterworth low-pass, forwards only, started at steady state on the first value."""
    b, a = butter(2, cutoff_hz, fs=1000.0 / EDA_GRID_MS)
    y, _ = lfilter(b, a, x, zi=lfilter_zi(b, a) * x[0])
    return y


def eda_grid(times: np.ndarray, resistance_kohm: np.ndarray) -> EdaGrid:
    """Conductance = 1000 / resistance (uS) on a 4 Hz grid, smoothed, split into tonic and phasic.

    Samples outside 10-20,000 kOhm (above 100 or below 0.05 uS) are dropped. A gap over 5 s
    between valid samples starts a new segment. The grid points are the multiples of 250 ms
    (epoch time) from a segment's first sample to its last, so a record that starts later in
    the segment (the live store's) lands on the same points; each takes the last sample at or
    before it; the conductance is smoothed by a causal 0.5 Hz low-pass, the
    tonic level is a causal 0.05 Hz low-pass of that, and the phasic part is smoothed - tonic.
    Each filter restarts at a segment's first point, at steady state.
    """
    t = np.asarray(times, dtype=np.int64)
    r = np.asarray(resistance_kohm, dtype=np.float64)
    ok = (r >= EDA_MIN_RESISTANCE_KOHM) & (r <= EDA_MAX_RESISTANCE_KOHM)
    t, c = t[ok], 1000.0 / r[ok]
    empty = np.zeros(0)
    if t.size == 0:
        return EdaGrid(t, t, empty, empty, empty, t)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(t) > EDA_MAX_GAP_MS) + 1])
    ends = np.concatenate([starts[1:], [t.size]])
    pieces_t, pieces_s, pieces_c, pieces_tonic, pieces_phasic = [], [], [], [], []
    for seg, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
        first = -(-t[a] // EDA_GRID_MS) * EDA_GRID_MS  # ceil: the grid is fixed in epoch time
        g = np.arange(first, t[b - 1] + 1, EDA_GRID_MS, dtype=np.int64)
        if g.size == 0:  # one sample between two grid points: nothing to filter
            continue
        held = c[a + np.searchsorted(t[a:b], g, side="right") - 1]
        smooth = _causal_lowpass(held, EDA_SMOOTH_HZ)
        tonic = _causal_lowpass(smooth, EDA_TONIC_HZ)
        pieces_t.append(g)
        pieces_s.append(np.full(g.size, seg, dtype=np.int64))
        pieces_c.append(held)
        pieces_tonic.append(tonic)
        pieces_phasic.append(smooth - tonic)
    if not pieces_t:
        return EdaGrid(t[:0], t[:0], empty, empty, empty, t)
    cat = np.concatenate
    return EdaGrid(cat(pieces_t), cat(pieces_s), cat(pieces_c), cat(pieces_tonic), cat(pieces_phasic), t)


@dataclass(frozen=True)
class ScrEvents:
    """Skin conductance responses: grid index of onset and peak, amplitude (uS), rise time (s)."""

    onset: np.ndarray
    peak: np.ndarray
    amplitude: np.ndarray
    rise_s: np.ndarray


def scr_events(phasic: np.ndarray, segment: np.ndarray, min_amplitude: float = SCR_MIN_AMPLITUDE_US) -> ScrEvents:
    """SCRs of the phasic signal: a peak is a point above both neighbours (same segment), its
    onset the last point below both neighbours before it in the segment (a peak without one
    is dropped); kept when peak - onset >= ``min_amplitude``. Rise time = peak - onset."""
    x = np.asarray(phasic, dtype=np.float64)
    seg = np.asarray(segment)
    if x.size < 3:
        z = np.zeros(0, dtype=np.int64)
        return ScrEvents(z, z, np.zeros(0), np.zeros(0))
    mid = np.arange(1, x.size - 1)
    same = (seg[:-2] == seg[1:-1]) & (seg[1:-1] == seg[2:])
    peaks = mid[same & (x[1:-1] > x[:-2]) & (x[1:-1] > x[2:])]
    troughs = mid[same & (x[1:-1] < x[:-2]) & (x[1:-1] < x[2:])]
    j = np.searchsorted(troughs, peaks, side="left") - 1
    has = j >= 0
    onset = np.where(has, troughs[np.maximum(j, 0)], -1) if troughs.size else np.full(peaks.size, -1)
    has &= onset >= 0
    has[has] = seg[onset[has]] == seg[peaks[has]]
    peaks, onset = peaks[has], onset[has]
    amplitude = x[peaks] - x[onset]
    keep = amplitude >= min_amplitude
    peaks, onset, amplitude = peaks[keep], onset[keep], amplitude[keep]
    return ScrEvents(onset, peaks, amplitude, (peaks - onset) * (EDA_GRID_MS / 1000.0))


def _eda_features(grid: EdaGrid, t: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    P = t.size
    # The grid at t stops at the last valid sample at or before t (a later sample would
    # otherwise decide whether the points between them exist).
    last = np.searchsorted(grid.sample_times, t, side="right") - 1
    until = np.where(last >= 0, grid.sample_times[np.maximum(last, 0)], np.iinfo(np.int64).min) if grid.sample_times.size else np.full(P, np.iinfo(np.int64).min)
    gt = grid.times
    c_y = _csum(grid.tonic)
    ev = scr_events(grid.phasic, grid.segment)
    # an SCR exists from the point after its peak on (the point that shows it was a peak)
    confirm = gt[ev.peak + 1] if ev.peak.size else np.zeros(0, dtype=np.int64)
    order = np.argsort(confirm, kind="stable")
    confirm, amp, rise = confirm[order], ev.amplitude[order], ev.rise_s[order]
    c_amp, c_rise = _csum(amp), _csum(rise)
    with np.errstate(divide="ignore", invalid="ignore"):
        for win in PHYSIO_WINDOWS["EDA"]:
            w_ms = _WINDOW_MS[win]
            lo = np.searchsorted(gt, t - w_ms, side="left")
            hi = np.searchsorted(gt, np.minimum(t, until), side="right")
            hi = np.maximum(hi, lo)
            n = (hi - lo).astype(np.float64)
            out[f"EDA#TNC#{win}"] = np.where(n > 0, (c_y[hi] - c_y[lo]) / n, np.nan)
            out[f"EDA#TNS#{win}"] = _slopes(gt, grid.tonic, lo, hi, 2)
            elo = np.searchsorted(confirm, t - w_ms, side="left")
            ehi = np.searchsorted(confirm, np.minimum(t, until), side="right")
            ehi = np.maximum(ehi, elo)
            k = (ehi - elo).astype(np.float64)
            out[f"EDA#SRN#{win}"] = np.where(n > 0, k, np.nan)
            out[f"EDA#SRA#{win}"] = np.where(k > 0, (c_amp[ehi] - c_amp[elo]) / k, np.nan)
            out[f"EDA#SRT#{win}"] = np.where(k > 0, (c_rise[ehi] - c_rise[elo]) / k, np.nan)
    return out


# ------------------------------------------------------------------ skin temperature
def _skt_features(times: np.ndarray, values: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Least-squares slope of the raw samples in the window, degrees C per minute."""
    out: dict[str, np.ndarray] = {}
    for win in PHYSIO_WINDOWS["SKT"]:
        lo, hi = _window_bounds(times, t, _WINDOW_MS[win])
        out[f"SKT#SLP#{win}"] = _slopes(times, values, lo, hi, SKT_MIN_SAMPLES)
    return out


def _slopes(times: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, min_n: int) -> np.ndarray:
    """Least-squares slope (units per minute) of ``y[lo:hi]`` against time, per window; NaN
    with fewer than ``min_n`` points or one time only. One window at a time, centred on its
    own means: prefix sums of squared epoch minutes would lose the digits a 1-minute slope needs."""
    out = np.full(lo.size, np.nan)
    for i in np.flatnonzero(hi - lo >= min_n):
        a, b = int(lo[i]), int(hi[i])
        x = (times[a:b] - times[a]) / 60_000.0
        x = x - x.mean()
        sxx = float(x @ x)
        if sxx > 0:
            out[i] = float(x @ (y[a:b] - y[a:b].mean())) / sxx
    return out


# ------------------------------------------------------------------ entry point
def physio_features(streams: dict, t_ms: np.ndarray) -> dict[str, np.ndarray]:
    """Every name of :func:`physio_feature_names` at the sample times ``t_ms`` (int64 ms).

    ``streams``: the participant's streams (:func:`~kemo_attention.features.streams.build_streams`);
    RRI, EDA (skin resistance, kOhm) and SKT are read. Undefined values are NaN (the assembly
    makes them 0, as for the reference set).
    """
    t = np.asarray(t_ms, dtype=np.int64).reshape(-1)
    out: dict[str, np.ndarray] = {}
    rri = streams["RRI"]
    out.update(_rri_features(clean_nn(rri.times, rri.values), t))
    eda = streams["EDA"]
    out.update(_eda_features(eda_grid(eda.times, eda.values), t))
    skt = streams["SKT"]
    out.update(_skt_features(np.asarray(skt.times, dtype=np.int64), np.asarray(skt.values, dtype=np.float64), t))
    return out
