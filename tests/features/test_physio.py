"""The physiology family: layout, artefact rules, definitions and causality."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import filtfilt

from kemo_attention.config import FeatureSettings, SettingsError
from kemo_attention.dataset import columns_hash
from kemo_attention.features import physio
from kemo_attention.features.assemble import feature_blocks
from kemo_attention.features.layout import column_layout
from kemo_attention.features.physio import clean_nn, physio_feature_names, physio_features

from physio_inputs import T0_MS, band_streams, truncated

MIN = 60_000


# ------------------------------------------------------------------ layout and settings
def test_reference_layout_is_unchanged_and_physio_comes_after_it():
    reference = column_layout()
    assert len(reference.columns) == 3356  # spec/features.md: the reference column count
    assert reference.hash == columns_hash(reference.columns)
    both = column_layout(physio=True)
    names = physio_feature_names()
    assert both.columns == (*reference.columns, *names)
    assert both.hash != reference.hash
    assert all(name.count("#") == 2 for name in names)  # STREAM#STAT#WINDOW
    # 9 HRV statistics x 3 windows + 5 EDA x 4 + 1 SKT x 3
    assert len(names) == 9 * 3 + 5 * 4 + 3


def test_feature_set_setting():
    assert "feature_set" not in FeatureSettings().to_dict()  # reference: settings as before the field
    settings = FeatureSettings(feature_set="reference+physio")
    assert settings.physio and FeatureSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(SettingsError, match="feature set must be one of reference, reference\\+physio; got 'physio'"):
        FeatureSettings(feature_set="physio")


def test_reference_columns_are_bit_for_bit_the_same_with_physio():
    streams = band_streams(seed=3, minutes=40)
    prompts = T0_MS + np.array([10, 25, 39]) * MIN
    for mode in ("causal", "reference"):
        ref_n, ref_f = feature_blocks(streams, prompts, userinfo=None, past_labels=None, settings=FeatureSettings(mode=mode))
        both_n, both_f = feature_blocks(streams, prompts, userinfo=None, past_labels=None,
                                        settings=FeatureSettings(mode=mode, feature_set="reference+physio"))  # fmt: skip
        assert np.array_equal(both_n[:, : ref_n.shape[1]], ref_n) and np.array_equal(both_f, ref_f)
        assert both_n.shape[1] == ref_n.shape[1] + len(physio_feature_names())


# ------------------------------------------------------------------ RR artefacts, by hand
def test_clean_nn_rules():
    t = np.cumsum([800, 800, 800, 800, 800, 480, 1120, 800, 2500, 800, 250, 800]).astype(np.int64)
    rr = np.array([800, 800, 800, 800, 800, 480, 1120, 800, 800, 800, 250, 800], dtype=float)
    got = clean_nn(t, rr)
    # 250 ms is out of range; 480 (-40 %) and 1120 (+40 % of the median 800) break the change rule
    assert got.out_of_range == 1 and got.changed == 2
    assert np.array_equal(got.nn, [800, 800, 800, 800, 800, 800, 800, 800, 800])
    # not successive: the first beat; the beat after the removed pair; the beat after the
    # 2.5 s gap (a missed beat); the beat after the removed 250 ms row
    assert got.successive.tolist() == [False, True, True, True, True, False, False, True, False]


def test_time_domain_definitions_on_a_small_window():
    streams = band_streams(seed=1, minutes=1)
    times = T0_MS + np.cumsum([1000, 800, 820, 760, 900, 850]).astype(np.int64)
    rr = np.array([1000, 800, 820, 760, 900, 850], dtype=float)  # 1000 -> 800 is -20 %: kept
    streams["RRI"] = type(streams["RRI"])(streams["RRI"].spec, times, rr)
    got = physio_features(streams, np.array([times[-1]]))
    d = np.diff(rr)
    assert got["RRI#MNN#M05"][0] == pytest.approx(rr.mean(), rel=1e-12)
    assert got["RRI#SDN#M05"][0] == pytest.approx(rr.std(ddof=1), rel=1e-12)
    assert got["RRI#RMS#M05"][0] == pytest.approx(np.sqrt(np.mean(d**2)), rel=1e-12)
    assert got["RRI#PNN#M05"][0] == pytest.approx(100 * np.mean(np.abs(d) > 50), rel=1e-12)  # 200, 60, 140 of 5
    assert got["RRI#SD1#M05"][0] == pytest.approx(np.std(d, ddof=1) / np.sqrt(2), rel=1e-12)
    assert got["RRI#SD2#M05"][0] == pytest.approx(np.std(rr[1:] + rr[:-1], ddof=1) / np.sqrt(2), rel=1e-12)
    # 5 s of beats cannot carry LF: left undefined (0 in the feature file)
    assert np.isnan(got["RRI#LFP#M05"][0])


def test_skin_temperature_slope_and_conductance():
    streams = band_streams(seed=2, minutes=5)
    t = T0_MS + np.arange(0, 40) * 30_000
    streams["SKT"] = type(streams["SKT"])(streams["SKT"].spec, t, 32.0 + 0.05 * (t - T0_MS) / MIN)
    got = physio_features(streams, np.array([t[-1]]))
    assert got["SKT#SLP#M10"][0] == pytest.approx(0.05, rel=1e-9)  # deg C per minute
    # a constant 500 kOhm is 2 uS; its tonic level is 2 uS and it has no responses
    e = T0_MS + np.arange(0, 2400) * 200
    streams["EDA"] = type(streams["EDA"])(streams["EDA"].spec, e, np.full(e.size, 500.0))
    got = physio_features(streams, np.array([e[-1]]))
    assert got["EDA#TNC#M05"][0] == pytest.approx(2.0, rel=1e-9)
    assert got["EDA#SRN#M05"][0] == 0


# ------------------------------------------------------------------ causality
def _prompts(streams, n=12, seed=0):
    rng = np.random.default_rng(seed)
    end = max(int(s.times[-1]) for s in streams.values() if len(s))
    return np.sort(rng.integers(T0_MS + 2 * MIN, end + MIN, n))


def _leaks(streams) -> list[str]:
    """Names whose value at some prompt changes when every row after the prompt is removed."""
    prompts = _prompts(streams)
    full = physio_features(streams, prompts)
    leaking = set()
    for i, t in enumerate(prompts):
        cut = physio_features(truncated(streams, int(t)), np.array([t]))
        for name, values in full.items():
            if not np.array_equal(values[i : i + 1], cut[name], equal_nan=True):
                leaking.add(name)
    return sorted(leaking)


@pytest.mark.parametrize("seed", [0, 1])
def test_physio_features_use_nothing_after_the_prompt(seed):
    """Identical (bit for bit) with every row after each prompt removed."""
    assert _leaks(band_streams(seed=seed, minutes=60)) == []


def test_the_causality_test_catches_a_zero_phase_filter(monkeypatch):
    """The trap: the same decomposition with scipy's filtfilt (forwards and backwards) reads
    samples after the prompt, and the test above must see it."""

    def zero_phase(x, cutoff_hz):
        b, a = physio.butter(2, cutoff_hz, fs=1000.0 / physio.EDA_GRID_MS)
        return filtfilt(b, a, x, method="gust") if x.size > 9 else x.copy()

    monkeypatch.setattr(physio, "_causal_lowpass", zero_phase)
    leaking = _leaks(band_streams(seed=0, minutes=60))
    assert "EDA#TNC#M05" in leaking and any(name.startswith("EDA#SR") for name in leaking)
    assert not any(name.startswith(("RRI#", "SKT#")) for name in leaking)  # only the filters changed


# ------------------------------------------------------------------ extract
def test_extract_reference_plus_physio(tmp_path):
    from tiny_release import write_release

    from kemo_attention.config import LabelSettings
    from kemo_attention.features.extract import extract_release

    root = write_release(tmp_path / "rel", participants=2, days=0.1, prompts_per_day=60, seed=5)
    label = LabelSettings(min_responses=2)
    ref = extract_release(root, tmp_path / "ref", label=label, use_cache=False)
    both = extract_release(root, tmp_path / "both", label=label, use_cache=False,
                           features=FeatureSettings(feature_set="reference+physio"))  # fmt: skip
    assert list(both.X.columns) == [*ref.X.columns, *physio_feature_names()]
    assert ref.X.equals(both.X[list(ref.X.columns)])  # the reference columns, bit for bit
    assert both.meta["feature_set"] == "reference+physio" and "feature_set" not in ref.meta
    assert both.raw_computable and both.meta["feature_layout_hash"] != ref.meta["feature_layout_hash"]
