"""The column set, one participant's rows, and extraction of a whole (tiny) release: files,
manifest, skipped participants, the cache, errors and the CLI."""

import json
import os
import pickle
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from tiny_release import DAY0_MS, HOUR, frame, write_release

from kemo_attention.compute import Executor
from kemo_attention.config import FeatureSettings, LabelSettings
from kemo_attention.dataset import load_dataset
from kemo_attention.errors import KemoError
from kemo_attention.features.assemble import features_for_prompts
from kemo_attention.features.extract import extract_release
from kemo_attention.features.layout import feature_columns
from kemo_attention.features.streams import STREAM_SPECS

WINDOW_NAMES = {"S30", "M01", "M05", "M10", "M30", "H01", "H03", "H06"}
SERIAL = Executor("serial", progress=False)
LABEL = LabelSettings(min_responses=4)


# ------------------------------------------------------------------ the column set
def test_column_set_has_the_spec_counts():
    cols = feature_columns()
    assert len(cols) == 3356 and len(set(cols)) == 3356
    assert cols == feature_columns()  # fixed order
    kind = {s.name: s.kind for s in STREAM_SPECS}
    groups = {"time": 0, "pif": 0, "val": 0, "dsc": 0, "num_win": 0, "cat_win": 0, "lik": 0}
    for name in cols:
        parts = name.split("#")
        if parts[0] == "PIF":
            groups["pif"] += 1
        elif name.startswith("ESM#LIK#"):
            groups["lik"] += 1
        elif parts[0] == "ESM":
            groups["time"] += 1
        elif parts[1].startswith("VAL"):
            groups["val"] += 1
        elif parts[1].startswith("DSC"):
            groups["dsc"] += 1
        else:
            assert len(parts) == 3 and parts[2] in WINDOW_NAMES, name
            groups["num_win" if kind[parts[0]] == "num" else "cat_win"] += 1
    assert groups == {"time": 16, "pif": 11, "val": 103, "dsc": 79, "num_win": 2432, "cat_win": 712, "lik": 3}
    # the documented order: PIF, time of prompt, streams in catalogue order, label history
    assert cols[:11][0] == "PIF#AGE" and cols[9:11] == ["PIF#GEN=F", "PIF#GEN=M"]
    assert all(c.startswith("ESM#") for c in cols[11:27])
    assert cols[-3:] == ["ESM#LIK#H06", "ESM#LIK#H12", "ESM#LIK#H24"]
    seen = [c.split("#")[0] for c in cols[27:-3]]
    assert list(dict.fromkeys(seen)) == [s.name for s in STREAM_SPECS]


def test_coverage_adds_columns_and_keeps_the_reference_ones_in_order():
    ref, cov = feature_columns(), feature_columns(coverage=True)
    assert len(cov) > len(ref)
    extra = set(cov) - set(ref)
    assert [c for c in cov if c not in extra] == ref


# ------------------------------------------------------------------ one participant
T = DAY0_MS + 12 * HOUR  # 2019-05-08 (Wednesday) 12:00:00.000 local: a MORNING prompt


def _tables():
    return {
        "HR": frame("HR", [{"timestamp": T - 1000, "bpm": 70.0}, {"timestamp": T - 1, "bpm": 80.0}, {"timestamp": T, "bpm": 90.0}]),
        "ScreenEvent": frame("ScreenEvent", [{"timestamp": T - 60_000, "type": "OFF"}, {"timestamp": T - 300, "type": "ON"}]),
    }


def test_features_for_prompts_one_participant():
    later = T + 3 * HOUR
    info = {"age": 24, "gender": "M", "openness": 10, "PSS": 16, "GHQ": None}
    past = [(T - 5 * HOUR, 1), (T, 0), (later, 1)]
    X = features_for_prompts(_tables(), np.array([later, T]), userinfo=info, past_labels=past)
    assert list(X.columns) == feature_columns()
    assert X.shape == (2, 3356)
    assert (X.dtypes == bool).sum() == 83 and (X.dtypes == np.float32).sum() == 3273
    assert np.isfinite(X.select_dtypes("number").to_numpy()).all()
    row = X.iloc[1]  # rows follow the given prompts: the second one is T
    # t = T - 1 ms: the sample at T - 1 is the latest value; the one at T is not seen
    assert row["HRT#VAL"] == 80.0
    assert bool(row["SCR#VAL=ON"]) and not bool(row["SCR#VAL=OFF"])
    assert row["SCR#DSC"] == np.float32(0.299)
    assert bool(row["ESM#HRN=MORNING"]) and not bool(row["ESM#HRN=AFTERNOON"]) and bool(row["ESM#DOW=WED"])
    assert row["PIF#AGE"] == 24 and bool(row["PIF#GEN=M"]) and row["PIF#GHQ"] == 0.0  # missing -> 0
    assert row["ESM#LIK#H06"] == 1.0  # only the label 5 h before counts; T itself is not earlier
    assert X.iloc[0]["ESM#LIK#H06"] == 0.0  # at T + 3 h: the label at T (y = 0) only
    assert X.iloc[0]["ESM#LIK#H12"] == 0.5
    # streams without any data: 0 / false, including their time since (the reference's fill)
    assert row["APP_CAT#DSC"] == 0.0 and not row[[c for c in X.columns if c.startswith("APP_CAT#VAL=")]].any()


def test_features_for_prompts_with_no_data_at_all():
    X = features_for_prompts({}, np.array([T]), userinfo=None, past_labels=None, settings=FeatureSettings(mode="reference"))
    numeric = X.select_dtypes("number")
    time_cols = [c for c in X.columns if c.startswith("ESM#") and "LIK" not in c]
    assert (numeric.to_numpy() == 0).all()
    assert X[time_cols].to_numpy().sum() == 3  # one day, one weekday flag, one hour band
    assert not X["PIF#GEN=F"].iloc[0] and not X["PIF#GEN=M"].iloc[0]
    # coverage columns travel through the same assembly
    C = features_for_prompts({}, np.array([T]), userinfo=None, past_labels=None, settings=FeatureSettings(coverage=True))
    assert list(C.columns) == feature_columns(coverage=True)
    assert np.isfinite(C.select_dtypes("number").to_numpy()).all()


# ------------------------------------------------------------------ a release
@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = write_release(tmp_path_factory.mktemp("rel"), participants=3, days=0.1, prompts_per_day=60, seed=3)
    # P03 answers only twice: fewer than min_responses, so it is skipped (and counted)
    esm = root / "SubjData" / "EsmResponse.csv"
    lines = esm.read_text().splitlines()
    p03 = [i for i, line in enumerate(lines) if line.startswith("P03,") and ",," not in line]
    esm.write_text("\n".join(line for i, line in enumerate(lines) if i not in p03[2:]) + "\n")
    return root


def _manifest(out):
    return json.loads((out / "attention.manifest.json").read_text())


@pytest.fixture(scope="module")
def features_out(tmp_path_factory):
    """The main test's output folder; its cache (OUT/.cache) is reused by the CLI test."""
    return tmp_path_factory.mktemp("features")


def test_extract_release_files_manifest_and_cache(release, features_out):
    out = features_out
    ds = extract_release(release, out, label=LABEL, executor=SERIAL)
    n = len(ds)
    assert n == 12  # 6 scheduled prompts for each of P01, P02
    assert sorted(p.name for p in out.iterdir()) == [".cache", "attention.manifest.json", "attention.parquet", "attention.pkl"]
    assert len(list((out / ".cache").glob("P0*.npz"))) == 2

    # the pkl is the reference tuple
    with open(out / "attention.pkl", "rb") as f:
        X, y, group, t, date_times = pickle.load(f)
    assert isinstance(X, pd.DataFrame) and list(X.columns) == feature_columns()
    assert y.dtype.kind == "i" and set(np.unique(y)) <= {0, 1}
    assert group.tolist() == ["P01"] * 6 + ["P02"] * 6
    # t = seconds since local midnight of the earliest sample's date (2019-05-08 at +09:00)
    kst = timezone(timedelta(hours=9))
    stamps = list(date_times)
    assert all(s.utcoffset() == timedelta(hours=9) for s in stamps)
    midnight = datetime(2019, 5, 8, tzinfo=kst)
    assert t == pytest.approx([(s.to_pydatetime() - midnight).total_seconds() for s in stamps])
    assert [int(s.timestamp() * 1000) for s in stamps] == ds.meta["prompt_time_ms"]
    assert all(np.diff(ds.meta["prompt_time_ms"][:6]) >= 0)

    loaded = load_dataset(out / "attention.pkl")
    assert loaded.feature_mode == "causal"
    assert loaded.meta["label"] == LABEL.to_dict() and loaded.meta["tz_offset"] == "+09:00"
    assert len(loaded.bool_columns) == 83
    pd.testing.assert_frame_equal(loaded.X, ds.X)
    from_parquet = load_dataset(out / "attention.parquet")
    pd.testing.assert_frame_equal(from_parquet.X, ds.X)
    assert from_parquet.group.tolist() == group.tolist()

    m = _manifest(out)
    assert m["dataset"]["feature_mode"] == "causal" and m["dataset"]["label"]["name"] == "attention"
    assert m["counts"]["samples"] == 12 and m["counts"]["participants"] == 2
    assert m["counts"]["positives"] == int(y.sum()) and m["counts"]["features"] == 3356
    assert m["counts"]["bool_features"] == 83 and m["counts"]["participants_skipped"] == 1
    assert "2 scheduled responses" in m["skipped"]["P03"]
    assert m["cache"] == {"enabled": True, "dir": str(out / ".cache"), "hits": 0, "misses": 2}
    assert m["settings"]["backend"] == "serial" and "numpy" in m["versions"]
    assert m["timings"]["features_s"] > 0

    # an unchanged rerun reads every participant from the cache
    again = extract_release(release, out, label=LABEL, executor=SERIAL)
    m2 = _manifest(out)
    assert (m2["cache"]["hits"], m2["cache"]["misses"]) == (2, 0)
    assert m2["timings"]["features_s"] == 0
    pd.testing.assert_frame_equal(again.X, ds.X)

    # a changed raw file invalidates that participant only
    hr = release / "Sensor" / "P02" / "HR.csv"
    hr.write_text(hr.read_text() + f"{DAY0_MS + 9 * HOUR},77.0\n")
    extract_release(release, out, label=LABEL, executor=SERIAL)
    m3 = _manifest(out)
    assert m3["participants"]["P01"]["cached"] and not m3["participants"]["P02"]["cached"]

    # an interrupted run (P01's entry never written) resumes: only P01 is computed
    for entry in (out / ".cache").glob("P01-*.npz"):
        entry.unlink()
    resumed = extract_release(release, out, label=LABEL, executor=SERIAL)
    m4 = _manifest(out)
    assert (m4["cache"]["hits"], m4["cache"]["misses"]) == (1, 1) and not m4["participants"]["P01"]["cached"]
    pd.testing.assert_frame_equal(resumed.X.iloc[:6], ds.X.iloc[:6])


def test_a_broken_participant_file_stops_the_run_and_writes_nothing(release, tmp_path):
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(release, bad)
    (bad / "Sensor" / "P01" / "HR.csv").write_text("timestamp,bpm\n1557241200000,70\nyesterday,71\n")
    out = tmp_path / "out"
    with pytest.raises(KemoError, match=r"P01.*HR.csv"):
        extract_release(bad, out, label=LABEL, executor=SERIAL, use_cache=False)
    assert not (out / "attention.manifest.json").exists() and not (out / "attention.pkl").exists()


def test_no_participant_with_enough_labels_is_an_error(release, tmp_path):
    with pytest.raises(KemoError, match="no participant .* has enough labels.*min_responses 500"):
        extract_release(release, tmp_path / "out", label=LabelSettings(min_responses=500), executor=SERIAL)


def test_cli_extract_prints_a_summary_and_refuses_bad_settings(release, features_out, tmp_path, monkeypatch, capsys):
    from kemo_attention import cli

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["kemo-attention", *args])
        try:
            cli.main()
            code = 0
        except SystemExit as exit_info:
            code = exit_info.code or 0
        return code, capsys.readouterr()

    out = tmp_path / "cli"
    cache = str(features_out / ".cache")  # filled by the test above when it ran first
    code, got = run("extract", str(release), "--out", str(out), "--min-responses", "4", "--cache-dir", cache, "--threshold", "0")
    assert code == 0, got.err
    assert "12 samples x 3356 features from 2 participants (1 skipped)" in got.out
    assert "skipped P03" in got.out and "attention.pkl" in got.out
    assert _manifest(out)["dataset"]["label"] == LABEL.to_dict()

    code, got = run("extract", str(release), "--out", str(out), "--mode", "future")
    assert code == 2 and "feature mode must be one of causal, reference" in got.err
    assert len(got.err.strip().splitlines()) == 1
    code, got = run("extract", str(release), "--out", str(out), "--ray-address", "127.0.0.1:1")
    assert code == 2 and "--backend ray" in got.err
    code, got = run("extract", str(tmp_path / "nowhere"), "--out", str(out))
    assert code == 2 and "release folder not found" in got.err
    assert os.environ.get("KEMO_ATTENTION_DEBUG") is None
