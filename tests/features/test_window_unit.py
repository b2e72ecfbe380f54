"""Unit tests of the grid and window engine (features/grid.py, stats.py, window.py).

Expected values come from the spec's worked examples (spec/features.md section 6), from
counting grid points by hand, or from numpy / scipy applied to window values written out
by hand; never from the engine itself. The broad randomised comparison with the slow
oracle lives in test_against_oracle.py.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import entropy, kurtosis, skew

from kemo_attention.features.stats import NUM_STATS, numeric_window_stats
from kemo_attention.features.streams import SPECS_BY_NAME, STREAM_SPECS, Stream, StreamSpec
from kemo_attention.features.window import (
    WINDOWS,
    coverage_feature_names,
    stream_feature_names,
    stream_features,
)

P = 1_556_690_400_000  # a prompt time (2019-05-01 15:00 KST), a whole second
T = P - 1  # the sample time: prompt - 1 ms
S = 1000
MODES = ("reference", "causal")


def num(name: str, times, values) -> Stream:
    vals = np.asarray(values, dtype=np.float64).astype(np.float32).astype(np.float64)
    return Stream(SPECS_BY_NAME[name], np.asarray(times, dtype=np.int64), vals)


def cat(name: str, times, values) -> Stream:
    vals = np.empty(len(values), dtype=object)
    vals[:] = list(values)
    return Stream(SPECS_BY_NAME[name], np.asarray(times, dtype=np.int64), vals)


def at(stream: Stream, t: int = T, mode: str = "causal", **kw) -> dict[str, float]:
    """Features at one sample time, as plain Python scalars."""
    return {k: v[0].item() for k, v in stream_features(stream, np.array([t]), mode=mode, **kw).items()}


def scipy_stats(v: np.ndarray) -> dict[str, float]:
    """The spec's table applied with numpy / scipy directly (the independent formula)."""
    v = np.asarray(v, dtype=np.float64)
    if np.all(v == v[0]):
        return dict(AVG=v[0], STD=0, SKW=0, KUR=0, ASC=0, BEP=0, MED=v[0], TSC=0)
    std = np.std(v, ddof=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk, ku = skew(v, bias=False), kurtosis(v, bias=False)
    counts, _ = np.histogram(v, bins="doane")
    z = (v - v.mean()) / std
    return dict(AVG=v.mean(), STD=std, SKW=sk if np.isfinite(sk) else 0.0, KUR=ku if np.isfinite(ku) else 0.0,
                ASC=np.abs(np.diff(v)).sum(), BEP=entropy(counts), MED=np.median(v),
                TSC=np.sqrt(np.sum(np.diff(z) ** 2)))


def assert_stats(got: dict, prefix: str, win: str, expected: dict, rel: float = 1e-9) -> None:
    for stat, x in expected.items():
        assert got[f"{prefix}#{stat}#{win}"] == pytest.approx(x, rel=rel, abs=1e-9), stat


# ------------------------------------------------------------------ names
def test_catalogue_constants():
    assert [w for w, _ in WINDOWS] == ["S30", "M01", "M05", "M10", "M30", "H01", "H03", "H06"]
    assert [ms for _, ms in WINDOWS] == [30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000]
    assert NUM_STATS == ("AVG", "STD", "SKW", "KUR", "ASC", "BEP", "MED", "TSC")


def test_names_numeric_stream():
    names = stream_feature_names(SPECS_BY_NAME["HRT"])
    assert names[0] == "HRT#VAL"
    assert names[1:9] == [f"HRT#AVG#{w}" for w, _ in WINDOWS]
    assert names[-1] == "HRT#TSC#H06"
    assert len(names) == 1 + 8 * 8


def test_names_categorical_streams():
    scr = stream_feature_names(SPECS_BY_NAME["SCR"])
    assert scr[:7] == ["SCR#VAL=ON", "SCR#VAL=OFF", "SCR#VAL=UNLOCK", "SCR#DSC",
                       "SCR#DSC=ON", "SCR#DSC=OFF", "SCR#DSC=UNLOCK"]
    assert scr[7:12] == ["SCR#ETP#S30", "SCR#ASC#S30", "SCR#DUR=ON#S30", "SCR#DUR=OFF#S30", "SCR#DUR=UNLOCK#S30"]
    chg = stream_feature_names(SPECS_BY_NAME["CHG"])
    assert "CHG#DUR#M10" in chg and not any("DUR=" in n for n in chg)
    assert stream_feature_names(SPECS_BY_NAME["APP_PAC"]) == ["APP_PAC#DSC"] + [
        n for w, _ in WINDOWS for n in (f"APP_PAC#ETP#{w}", f"APP_PAC#ASC#{w}")]


def test_name_counts_match_spec_totals():
    names = [n for spec in STREAM_SPECS for n in stream_feature_names(spec)]
    assert len(names) == len(set(names))
    # spec section 3: 103 latest-value, 79 time-since, 2,432 numeric-window, 712 categorical-window
    assert sum("#VAL" in n for n in names) == 103
    assert sum("#DSC" in n for n in names) == 79
    numeric = {s.name for s in STREAM_SPECS if s.kind == "num"}
    window = [n for n in names if n.count("#") == 2 and "#VAL" not in n]
    assert sum(n.split("#")[0] in numeric for n in window) == 2432
    assert sum(n.split("#")[0] not in numeric for n in window) == 712


def test_coverage_names_come_after_and_change_nothing():
    spec = SPECS_BY_NAME["HRT"]
    assert stream_feature_names(spec, coverage=True) == stream_feature_names(spec) + coverage_feature_names(spec)
    assert coverage_feature_names(spec)[0] == "HRT#COV#S30"
    stream = num("HRT", [T - 5000, T - 1000, T + 500], [60, 61, 62])
    plain = stream_features(stream, np.array([T, T - 3000]), mode="reference")
    with_cov = stream_features(stream, np.array([T, T - 3000]), mode="reference", coverage=True)
    for name, arr in plain.items():
        np.testing.assert_array_equal(with_cov[name], arr)


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        stream_features(num("HRT", [T], [1.0]), np.array([T]), mode="live")


# ------------------------------------------------------------------ spec section 6 worked examples
@pytest.mark.parametrize("mode", MODES)
def test_screen_on_just_before_the_prompt(mode):
    # OFF 100 s before the prompt, ON 0.3 s before; a later UNLOCK exists after the prompt.
    stream = cat("SCR", [P - 100_000, P - 300, P + 5_000], ["OFF", "ON", "UNLOCK"])
    f = at(stream, mode=mode)
    assert f["SCR#VAL=ON"] is True and f["SCR#VAL=OFF"] is False
    assert f["SCR#DSC"] == pytest.approx(0.299)
    assert f["SCR#DSC=OFF"] == pytest.approx(99.999)
    assert f["SCR#DSC=UNLOCK"] == -1.0
    # Grid points P-100 s, ..., P-1 s all see OFF; none lies between the ON event and t.
    assert f["SCR#DUR=OFF#S30"] == 1.0
    assert f["SCR#DUR=ON#S30"] == 0.0
    assert f["SCR#ETP#S30"] == 0.0 and f["SCR#ASC#S30"] == 0.0


def _charger(later: bool) -> Stream:
    times = [P - 480_000, P - 200_000, P - 170_000] + ([P + 60_000] if later else [])
    return cat("CHG", times, ["CONNECTED", "DISCONNECTED", "CONNECTED"] + (["CONNECTED"] if later else []))


def test_charger_thirty_seconds_disconnected():
    # Grid from P-480 s: 480 points at or before t, 30 of them (P-200 s .. P-171 s) DISCONNECTED.
    share = 30 / 480
    etp = -(share * math.log(share) + (1 - share) * math.log(1 - share))
    for mode, later in (("causal", False), ("causal", True), ("reference", True)):
        f = at(_charger(later), mode=mode)
        assert f["CHG#DUR#M10"] == pytest.approx(0.0625), (mode, later)
        assert f["CHG#ASC#M10"] == 2.0
        assert f["CHG#ETP#M10"] == pytest.approx(etp)
        assert f["CHG#DUR#S30"] == 0.0
    # Reference without later data: the grid stops at the last sample (P-170 s): 311 points.
    assert at(_charger(False), mode="reference")["CHG#DUR#M10"] == pytest.approx(30 / 311)


@pytest.mark.parametrize("mode", MODES)
def test_unknown_category_counts_only_in_entropy_and_changes(mode):
    # WIFI at P-20 s, UNDEFINED at P-10 s (and WIFI again after the prompt for the reference grid).
    stream = cat("CON", [P - 20_000, P - 10_000, P + 30_000], ["WIFI", "UNDEFINED", "WIFI"])
    f = at(stream, mode=mode)
    assert not any(f[f"CON#VAL={c}"] for c in ("DISCONNECTED", "WIFI", "MOBILE"))
    assert f["CON#DSC"] == pytest.approx(9.999)
    assert f["CON#DSC=WIFI"] == pytest.approx(19.999)
    # 20 points: 10 WIFI, 10 UNDEFINED.
    assert f["CON#DUR=WIFI#S30"] == pytest.approx(0.5)
    assert f["CON#DUR=DISCONNECTED#S30"] == 0.0 and f["CON#DUR=MOBILE#S30"] == 0.0
    assert f["CON#ETP#S30"] == pytest.approx(math.log(2))
    assert f["CON#ASC#S30"] == 1.0


@pytest.mark.parametrize("mode", MODES)
def test_ambient_light_ending_two_hours_before(mode):
    times = P - 3 * 3_600_000 + np.arange(3601) * S  # 1 Hz from P-3 h to P-2 h
    values = np.arange(3601) % 100  # exact in float32
    f = at(num("AML", times, values), mode=mode)
    assert f["AML#VAL"] == 0.0  # 3600 % 100
    assert f["AML#AVG#S30"] == 0.0 and f["AML#AVG#H01"] == 0.0
    assert f["AML#AVG#H03"] == pytest.approx(values.mean())
    assert f["AML#MED#H03"] == pytest.approx(np.median(values))
    assert f["AML#STD#H03"] == pytest.approx(np.std(values, ddof=1))


def test_app_background_rows():
    t0 = P - 30_000
    fg_bg_fg = cat("APP_CAT", [t0, t0 + 10_000, t0 + 20_000, P + 10_000],
                   ["COMMUNICATION", None, "TOOLS", "TOOLS"])
    for mode in MODES:
        f = at(fg_bg_fg, mode=mode)
        # Points 0..9 COMMUNICATION, 10..19 background (dropped), 20..29 TOOLS: one change.
        assert f["APP_CAT#ASC#S30"] == 1.0
        assert f["APP_CAT#DUR=COMMUNICATION#S30"] == pytest.approx(0.5)
        assert f["APP_CAT#DUR=TOOLS#S30"] == pytest.approx(0.5)
        assert f["APP_CAT#ETP#S30"] == pytest.approx(math.log(2))
        assert f["APP_CAT#VAL=TOOLS"] is True
    back_again = cat("APP_CAT", [t0, t0 + 10_000, t0 + 20_000, t0 + 25_000],
                     ["COMMUNICATION", None, "COMMUNICATION", None])
    f = at(back_again, mode="causal")
    assert f["APP_CAT#ASC#S30"] == 0.0  # A -> background -> A: no change
    assert f["APP_CAT#DUR=COMMUNICATION#S30"] == 1.0
    assert not any(v for k, v in f.items() if k.startswith("APP_CAT#VAL="))  # last row is background
    assert f["APP_CAT#DSC"] == pytest.approx(4.999)  # background rows are samples for DSC
    assert f["APP_CAT#DSC=COMMUNICATION"] == pytest.approx(9.999)
    pac = at(cat("APP_PAC", [t0, t0 + 10_000, t0 + 20_000], ["a.b", None, "c.d"]), mode="causal")
    assert pac["APP_PAC#ASC#S30"] == 1.0 and pac["APP_PAC#ETP#S30"] == pytest.approx(math.log(2))


# ------------------------------------------------------------------ edge rules
@pytest.mark.parametrize("mode", MODES)
def test_constant_window_is_exactly_zero(mode):
    # A long constant stream whose float32 value is not a binary fraction: no cumulative-sum drift.
    times = P - 7 * 3_600_000 + np.arange(0, 7 * 3_600_000 + 5_000, 500)  # 2 samples per bin
    f = at(num("HRT", times, np.full(times.size, 70.1)), mode=mode)
    v = float(np.float32(70.1))
    for win, _ in WINDOWS:
        assert f[f"HRT#AVG#{win}"] == v and f[f"HRT#MED#{win}"] == v
        for stat in ("STD", "SKW", "KUR", "TSC", "BEP", "ASC"):
            assert f[f"HRT#{stat}#{win}"] == 0.0, (stat, win)


@pytest.mark.parametrize("n_points", [1, 2, 3, 4])
def test_small_windows_follow_scipy(n_points):
    values = [61.0, 64.0, 70.0, 62.0][:n_points]
    t0 = T - (n_points - 1) * S
    f = at(num("HRT", t0 + np.arange(n_points) * S, values), mode="causal")
    v = np.asarray(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk, ku = skew(v, bias=False), kurtosis(v, bias=False)
    assert f["HRT#SKW#S30"] == pytest.approx(sk if np.isfinite(sk) else 0.0, abs=1e-12)
    assert f["HRT#KUR#S30"] == pytest.approx(ku if np.isfinite(ku) else 0.0, abs=1e-12)
    assert f["HRT#STD#S30"] == pytest.approx(np.std(v, ddof=1) if n_points > 1 else 0.0)
    if n_points == 2:
        assert f["HRT#SKW#S30"] == pytest.approx(0.0, abs=1e-12)  # scipy: uncorrected, 0 for two values
        assert f["HRT#KUR#S30"] == pytest.approx(-2.0)  # uncorrected m4/m2^2 - 3
    assert_stats(f, "HRT", "S30", scipy_stats(v))


@pytest.mark.parametrize("mode", MODES)
def test_prompt_before_any_data(mode):
    n = at(num("HRT", [P + 10_000, P + 11_000], [60, 70]), mode=mode)
    assert all(v == 0.0 for v in n.values())
    c = at(cat("SCR", [P + 10_000], ["ON"]), mode=mode)
    fill = -1.0 if mode == "reference" else 0.0  # section 4: causal gives 0 without earlier data
    assert c["SCR#DSC"] == fill and c["SCR#DSC=ON"] == fill
    assert c["SCR#VAL=ON"] is False
    assert all(c[k] == 0.0 for k in c if "#DSC" not in k and "#VAL=" not in k)


@pytest.mark.parametrize("mode", MODES)
def test_stream_without_any_data(mode):
    empty_cat = cat("SCR", [], [])
    f = at(empty_cat, mode=mode, present=False)
    assert f["SCR#DSC"] == 0.0 and f["SCR#DSC=OFF"] == 0.0
    assert all(not f[f"SCR#VAL={c}"] for c in ("ON", "OFF", "UNLOCK"))
    g = at(num("HRT", [], []), mode=mode, present=False, coverage=True)
    assert set(g) == set(stream_feature_names(SPECS_BY_NAME["HRT"], coverage=True))
    assert all(v == 0.0 for v in g.values())


def test_time_since_a_category_never_seen_is_minus_one():
    for mode in MODES:
        f = at(cat("RNG", [P - 5_000], ["SILENT"]), mode=mode)
        assert f["RNG#DSC=SILENT"] == pytest.approx(4.999)
        assert f["RNG#DSC=NORMAL"] == -1.0 and f["RNG#DSC=VIBRATE"] == -1.0


def test_multi_day_gap_is_bridged_in_reference_mode_only():
    t0 = P - 86_400_000
    stream = num("HRT", [t0, t0 + 2 * 86_400_000], [60.0, 90.0])
    t = t0 + 86_400_499
    ref = at(stream, t, mode="reference")
    k = np.arange(86_371, 86_401)  # S30: ceil(86_370.499) .. floor(86_400.499)
    v = 60.0 + 30.0 * k / 172_800  # straight line between the two samples
    assert ref["HRT#AVG#S30"] == pytest.approx(v.mean(), rel=1e-12)
    assert ref["HRT#MED#S30"] == pytest.approx(np.median(v), rel=1e-12)
    assert ref["HRT#ASC#S30"] == pytest.approx(29 * 30.0 / 172_800, rel=1e-6)
    assert ref["HRT#STD#S30"] == pytest.approx(np.std(v, ddof=1), rel=1e-6)
    causal = at(stream, t, mode="causal")
    assert causal["HRT#VAL"] == 60.0 and ref["HRT#VAL"] == 60.0
    assert causal["HRT#AVG#S30"] == 0.0  # the only earlier sample is a day old
    assert causal["HRT#AVG#H06"] == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_duplicate_timestamps(mode):
    # Two rows at the same time: the bin mean uses both, the latest value is the last row.
    stream = num("HRT", [T - 2_000, T - 1_000, T - 1_000], [50.0, 60.0, 80.0])
    f = at(stream, mode=mode)
    assert f["HRT#VAL"] == 80.0
    assert f["HRT#AVG#S30"] == pytest.approx((50.0 + 70.0) / 2)
    assert f["HRT#MED#S30"] == pytest.approx(60.0)
    c = at(cat("SCR", [T - 2_000, T - 2_000], ["ON", "OFF"]), mode=mode)
    assert c["SCR#VAL=OFF"] is True and c["SCR#VAL=ON"] is False
    assert c["SCR#DUR=OFF#S30"] == 1.0 and c["SCR#DSC=ON"] == pytest.approx(2.0)


# ------------------------------------------------------------------ causal vs reference (section 4)
def test_late_sample_moves_reference_but_not_causal():
    t0 = P - 60_000
    early = list(t0 + np.arange(51) * S)  # 1 Hz up to P-10 s, value 70
    base = num("HRT", early, [70.0] * 51)
    late = num("HRT", early + [P + 540_000], [70.0] * 51 + [130.0])  # 9 minutes after the prompt
    # Reference: points P-9 s .. P-1 s are interpolated towards the late sample.
    k = np.arange(30, 60)
    v = np.where(k <= 50, 70.0, 70.0 + 60.0 * (k - 50) / 550)
    assert at(late, mode="reference")["HRT#AVG#S30"] == pytest.approx(v.mean())
    assert at(base, mode="reference")["HRT#AVG#S30"] == 70.0
    # Causal: the grid stops at the last sample before t; the late sample changes nothing.
    for stream in (base, late):
        f = at(stream, mode="causal")
        assert f["HRT#AVG#S30"] == 70.0 and f["HRT#STD#S30"] == 0.0


def test_bin_holding_t_averages_only_earlier_samples_in_causal_mode():
    t0 = P - 60_000
    times = list(t0 + np.arange(41) * S) + [t0 + 50_200, t0 + 50_700]
    stream = num("HRT", times, [70.0] * 41 + [80.0, 100.0])
    t = t0 + 50_500  # in bin 50, between its two samples
    k = np.arange(21, 51)  # S30 points: ceil(20.5) .. 50
    # Causal: bin 50 = 80 (only the sample before t); points 41..49 re-interpolated towards it.
    causal = np.where(k <= 40, 70.0, 70.0 + (k - 40) * 1.0)
    # Reference: bin 50 = mean(80, 100) = 90, and the ramp leads to 90.
    ref = np.where(k <= 40, 70.0, 70.0 + (k - 40) * 2.0)
    assert_stats(at(stream, t, mode="causal"), "HRT", "S30", scipy_stats(causal))
    assert_stats(at(stream, t, mode="reference"), "HRT", "S30", scipy_stats(ref))


def test_causal_equals_reference_on_data_truncated_at_t():
    rng = np.random.default_rng(3)
    times = np.sort(P - rng.integers(-600_000, 3_600_000, 400))
    values = rng.normal(70, 5, times.size)
    full = num("HRT", times, values)
    ts = np.concatenate([times[::37] + rng.integers(-700, 700, times[::37].size), [P]])
    causal = stream_features(full, ts, mode="causal")
    for i, t in enumerate(ts):
        keep = times <= t
        truncated = num("HRT", times[keep], values[keep])
        ref = at(truncated, int(t), mode="reference")
        for name, x in ref.items():
            assert causal[name][i] == pytest.approx(x, rel=1e-9, abs=1e-9), (name, t)


# ------------------------------------------------------------------ statistics on known window values
@pytest.mark.parametrize("mode", MODES)
def test_window_statistics_match_numpy_and_scipy(mode):
    rng = np.random.default_rng(7)
    n = 400
    grid_values = np.round(rng.gamma(2.0, 10.0, n), 1)
    t0 = T - (n - 1) * S  # one sample per grid point: the grid values are the samples
    f = at(num("HRT", t0 + np.arange(n) * S, grid_values), mode=mode)
    v32 = grid_values.astype(np.float32).astype(np.float64)
    for win, w_ms in WINDOWS:
        first = max(0, n - 1 - w_ms // S)  # points with t - W <= g_k <= t
        assert_stats(f, "HRT", win, scipy_stats(v32[first:]), rel=1e-9)


def test_bin_means_with_several_samples_per_bin():
    # ACC grid step 0.25 s; 8 Hz samples: two per bin, the grid value is their mean.
    rng = np.random.default_rng(11)
    n_bins = 200
    t0 = T - (n_bins - 1) * 250
    times = np.repeat(t0 + np.arange(n_bins) * 250, 2) + np.tile([0, 125], n_bins)
    values = rng.normal(0, 1, times.size).astype(np.float32).astype(np.float64)
    f = at(num("ACC_AXX", times, values), mode="reference")
    bins = values.reshape(-1, 2).mean(axis=1)
    assert_stats(f, "ACC_AXX", "S30", scipy_stats(bins[-121:]), rel=1e-9)  # 30 s / 0.25 s + 1 points


def test_statistics_batch_against_numpy_for_small_and_ragged_rows():
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(60):
        rows, width = int(rng.integers(1, 5)), int(rng.integers(1, 40))
        kind = rng.integers(0, 3)
        if kind == 0:
            block = rng.normal(size=(rows, width))
        elif kind == 1:  # few distinct values: ties on bin edges
            block = rng.integers(0, 4, size=(rows, width)).astype(float)
        else:  # symmetric rows of power-of-two length: Doane's bin count lands on an integer
            block = np.tile(np.linspace(-1, 1, width), (rows, 1))
        n = rng.integers(1, width + 1, rows) if rng.random() < 0.5 else np.full(rows, width)
        got = numeric_window_stats(block.copy(), n)
        for r in range(rows):
            expected = scipy_stats(block[r, : n[r]])
            for stat, x in expected.items():
                assert abs(got[stat][r] - x) <= 1e-9 * max(1.0, abs(x)), (stat, block[r, : n[r]])
                checked += 1
    assert checked > 800


def test_empty_rows_are_zero():
    got = numeric_window_stats(np.ones((2, 5)), np.array([0, 5]))
    assert all(got[s][0] == 0.0 for s in NUM_STATS)
    assert got["AVG"][1] == 1.0


# ------------------------------------------------------------------ many sample times, coverage
def test_sample_times_in_any_order_and_repeated():
    rng = np.random.default_rng(2)
    times = np.sort(P - rng.integers(0, 7_200_000, 3000))
    stream = num("EDA", times, rng.normal(5, 1, times.size))
    ts = P - rng.integers(-100_000, 7_300_000, 25)
    ts[3] = ts[4]
    forward = stream_features(stream, ts, mode="causal")
    order = rng.permutation(ts.size)
    shuffled = stream_features(stream, ts[order], mode="causal")
    for name, arr in forward.items():
        np.testing.assert_array_equal(shuffled[name], arr[order])
    single = at(stream, int(ts[7]), mode="causal")
    for name, x in single.items():
        assert forward[name][7] == x


def test_coverage_share_of_window_with_samples():
    t0 = P - 60_000
    times = t0 + np.arange(0, 60_000, 2_000)  # every second grid point: bins 0, 2, ..., 58
    stream = num("HRT", list(times) + [P - 200], [60.0] * times.size + [61.0])
    t = P - 501  # in bin 59, whose only sample (P - 200 ms) comes after t
    f = at(stream, t, mode="reference", coverage=True)
    # S30 positions k = ceil(29.499) .. floor(59.499) = 30..59: filled at or before t: 30, 32, ..., 58.
    assert f["HRT#COV#S30"] == pytest.approx(15 / 30)
    assert f["HRT#COV#M01"] == pytest.approx(30 / 60)
    # H06 positions k = -21540 .. 59 (most before the stream starts): 30 filled.
    assert f["HRT#COV#H06"] == pytest.approx(30 / 21_600)
    assert at(stream, t0 - 1, coverage=True)["HRT#COV#H06"] == 0.0
    c = at(cat("SCR", [T - 10_500, T - 10_400, T - 3_000], ["ON", "OFF", "ON"]), coverage=True)
    assert c["SCR#COV#S30"] == pytest.approx(2 / 30)  # two bins hold events


def test_spec_with_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be"):
        stream_feature_names(StreamSpec("XYZ", "text", None, 1000))


def test_threads_get_their_own_scratch_memory():
    # The API computes features in a thread pool; batches use per-thread scratch arrays.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(9)
    streams = []
    for _ in range(4):
        times = np.sort(P - rng.integers(0, 8 * 3_600_000, 20_000))
        streams.append(num("HRT", times, rng.normal(70, 8, times.size)))
    ts = P - rng.integers(0, 3_600_000, 12)
    serial = [stream_features(s, ts, mode="causal") for s in streams]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda s: stream_features(s, ts, mode="causal"), streams * 2))
    for got, expected in zip(threaded, serial * 2):
        for name, arr in expected.items():
            np.testing.assert_array_equal(got[name], arr)


def test_row_statistics_do_not_depend_on_batch_or_tiling(monkeypatch):
    # Serving computes a window alone, extraction in batches swept tile by tile: a row's
    # numbers must be the same bits either way (each sum adds the same blocks in one order).
    from kemo_attention.features import stats

    rng = np.random.default_rng(21)
    rows, width = 24, 4_000  # 96,000 values: more than one tile of the default size
    block = np.cumsum(rng.normal(size=(rows, width)), axis=1) + rng.normal(0, 1e3, (rows, 1))
    n = rng.integers(width - 300, width + 1, rows)
    n[3] = 2  # a short row among long ones
    alone = [numeric_window_stats(block[r : r + 1, : n[r]].copy(), n[r : r + 1]) for r in range(rows)]
    batched = numeric_window_stats(block.copy(), n)
    monkeypatch.setattr(stats, "_TILE_VALUES", stats.BLOCK)  # one block of columns per tile
    narrow = numeric_window_stats(block.copy(), n)
    for r in range(rows):
        for stat in NUM_STATS:
            assert batched[stat][r].tobytes() == alone[r][stat][0].tobytes(), (r, stat)
            assert narrow[stat][r].tobytes() == alone[r][stat][0].tobytes(), (r, stat)
    expected = scipy_stats(block[0, : n[0]])  # and the numbers are the statistics
    for stat, x in expected.items():
        assert abs(batched[stat][0] - x) <= 1e-9 * max(1.0, abs(x)), stat
