"""The physiology family against neurokit2 (MIT), called directly on the same cleaned windows.

Tolerances: time-domain and Poincare statistics are the same formulas over the same numbers,
ours summed through prefix sums (about a centre of 800 ms) rather than directly, so they agree
to rounding: 1e-9 relative. LF and HF are the same resampling (quadratic spline at 4 Hz) and
the same Welch estimate, so they agree to rounding too; 1e-6 relative leaves room for the
spline's solver. SCRs: the same peaks, onsets, amplitudes and rise times on the same phasic
signal (exact count, 1e-12 on the means). neurokit2's tonic/phasic split filters forwards
and backwards (zero-phase), which would read data after the prompt, so only the peak
detection on our causal phasic signal is compared.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from kemo_attention.features.physio import (
    HRV_MIN_COVERAGE, PHYSIO_WINDOWS, clean_nn, eda_grid, physio_features, scr_events,
)  # fmt: skip
from physio_inputs import T0_MS, band_streams

nk = pytest.importorskip("neurokit2")
WINDOW_MS = {"M05": 300_000, "M10": 600_000, "M30": 1_800_000}


def _nk_input(times, nn):
    return {"RRI": nn, "RRI_Time": (times - times[0]) / 1000.0}


def _windows(streams, n, seed):
    rng = np.random.default_rng(seed)
    rri = streams["RRI"]
    return np.sort(rng.integers(int(rri.times[0]) + 60_000, int(rri.times[-1]), n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_time_domain_and_poincare_match_neurokit(seed):
    streams = band_streams(seed=seed, minutes=35)
    prompts = _windows(streams, 10, seed)
    ours = physio_features(streams, prompts)
    clean = clean_nn(streams["RRI"].times, streams["RRI"].values)
    compared = 0
    for i, t in enumerate(prompts):
        for win in PHYSIO_WINDOWS["RRI"]:
            inside = (clean.times >= t - WINDOW_MS[win]) & (clean.times <= t)
            times, nn = clean.times[inside], clean.nn[inside]
            if nn.size < 20:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                td = nk.hrv_time(_nk_input(times, nn)).iloc[0]
                poincare = nk.hrv_nonlinear(_nk_input(times, nn)).iloc[0] if compared < 3 else None
            pairs = int(clean.successive[inside][1:].sum())  # successive pairs inside the window
            assert ours[f"RRI#MNN#{win}"][i] == pytest.approx(td["HRV_MeanNN"], rel=1e-9)
            assert ours[f"RRI#SDN#{win}"][i] == pytest.approx(td["HRV_SDNN"], rel=1e-9)
            assert ours[f"RRI#RMS#{win}"][i] == pytest.approx(td["HRV_RMSSD"], rel=1e-9)
            # neurokit2 divides NN50 by the number of pairs + 1 (the Task Force's "NN intervals");
            # ours is the share of the pairs, so the two differ by that factor exactly
            assert ours[f"RRI#PNN#{win}"][i] == pytest.approx(td["HRV_pNN50"] * (pairs + 1) / pairs, rel=1e-9)
            if poincare is not None:  # hrv_nonlinear also computes slow entropies: a few windows
                assert ours[f"RRI#SD1#{win}"][i] == pytest.approx(poincare["HRV_SD1"], rel=1e-9)
                assert ours[f"RRI#SD2#{win}"][i] == pytest.approx(poincare["HRV_SD2"], rel=1e-9)
            compared += 1
    assert compared >= 15


@pytest.mark.parametrize("seed", [0, 1])
def test_lf_hf_match_neurokit(seed):
    streams = band_streams(seed=seed, minutes=35)
    prompts = _windows(streams, 8, seed + 10)
    ours = physio_features(streams, prompts)
    clean = clean_nn(streams["RRI"].times, streams["RRI"].values)
    compared = 0
    for i, t in enumerate(prompts):
        for win in PHYSIO_WINDOWS["RRI"]:
            inside = (clean.times >= t - WINDOW_MS[win]) & (clean.times <= t)
            times, nn = clean.times[inside], clean.nn[inside]
            if nn.sum() < HRV_MIN_COVERAGE * WINDOW_MS[win]:
                assert ours[f"RRI#LFP#{win}"][i] != ours[f"RRI#LFP#{win}"][i]  # NaN: too little data
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fd = nk.hrv_frequency(_nk_input(times, nn), interpolation_rate=4, normalize=False).iloc[0]
            assert ours[f"RRI#LFP#{win}"][i] == pytest.approx(fd["HRV_LF"], rel=1e-6)
            assert ours[f"RRI#HFP#{win}"][i] == pytest.approx(fd["HRV_HF"], rel=1e-6)
            assert ours[f"RRI#LHR#{win}"][i] == pytest.approx(fd["HRV_LFHF"], rel=1e-6)
            compared += 1
    assert compared >= 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scr_detection_matches_neurokit(seed):
    streams = band_streams(seed=seed, minutes=20)
    grid = eda_grid(streams["EDA"].times, streams["EDA"].values)
    rng = np.random.default_rng(seed)
    found = 0
    for segment in np.unique(grid.segment):
        phasic = grid.phasic[grid.segment == segment]
        for _ in range(3):  # random stretches of the segment, as a window would cut it
            a = int(rng.integers(0, phasic.size // 3))
            b = int(rng.integers(a + phasic.size // 3, phasic.size + 1))
            x = phasic[a:b]
            ours = scr_events(x, np.zeros(x.size, dtype=np.int64))
            info = nk.eda_peaks(x, sampling_rate=4, amplitude_min=0)[1]
            keep = info["SCR_Amplitude"] >= 0.05
            keep &= ~np.isnan(info["SCR_Amplitude"])
            assert np.array_equal(ours.peak, info["SCR_Peaks"][keep])
            assert np.array_equal(ours.onset, info["SCR_Onsets"][keep].astype(int))
            assert np.allclose(ours.amplitude, info["SCR_Amplitude"][keep], rtol=1e-12, atol=0)
            assert np.allclose(ours.rise_s, info["SCR_RiseTime"][keep], rtol=1e-12, atol=0)
            found += ours.peak.size
    assert found > 10  # the comparison saw responses, not only empty lists
