"""Sampling rates at scale 1.0 are the release's; lower scales thin the dense band streams; seeds."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from kemo_attention.demo.synth import write_demo_release


def _median_gap_s(path) -> float:
    t = pl.read_csv(path)["timestamp"].to_numpy()
    gaps = np.diff(t)
    return float(np.median(gaps[gaps > 0])) / 1000


@pytest.fixture(scope="module")
def full_rate(tmp_path_factory):
    return write_demo_release(tmp_path_factory.mktemp("rate") / "r", participants=1, days=1, scale=1.0, seed=5, progress=False)


# Median sampling periods of the release (kemophone-release-stats.txt), seconds.
RELEASE_PERIODS = {"Acceleration": 0.13, "EDA": 0.199, "AmbientLight": 0.5, "HR": 0.996, "Calorie": 1.025,
                   "Distance": 1.009, "StepCount": 1.009, "SkinTemperature": 30.08, "UltraViolet": 60.0, "RRI": 0.762}


@pytest.mark.parametrize("name", sorted(RELEASE_PERIODS))
def test_full_scale_matches_the_release_sampling(full_rate, name):
    gap = _median_gap_s(full_rate / "Sensor" / "P01" / f"{name}.csv")
    assert gap == pytest.approx(RELEASE_PERIODS[name], rel=0.35)


def test_data_traffic_every_15_s(full_rate):
    t = pl.read_csv(full_rate / "Sensor" / "P01" / "DataTraffic.csv")["timestamp"].to_numpy()
    assert np.all(np.diff(t) % 15_000 == 0)


def test_rows_scale_with_scale(tmp_path):
    rows = {}
    for scale in (0.05, 0.2):
        root = write_demo_release(tmp_path / str(scale), participants=1, days=2, scale=scale, seed=1, progress=False)
        folder = root / "Sensor" / "P01"
        rows[scale] = {n: pl.read_csv(folder / f"{n}.csv").height for n in ("Acceleration", "HR", "ScreenEvent", "SkinTemperature")}
    assert rows[0.2]["Acceleration"] / rows[0.05]["Acceleration"] == pytest.approx(4.0, rel=0.1)
    assert rows[0.2]["HR"] / rows[0.05]["HR"] == pytest.approx(4.0, rel=0.15)
    # event streams and the slow band streams keep their realistic rates
    assert rows[0.2]["ScreenEvent"] == rows[0.05]["ScreenEvent"]
    assert rows[0.2]["SkinTemperature"] == pytest.approx(rows[0.05]["SkinTemperature"], rel=0.05)


def _digest(root) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = write_demo_release(tmp_path / "a", participants=2, days=1, seed=11, progress=False)
    b = write_demo_release(tmp_path / "b", participants=2, days=1, seed=11, progress=False)
    c = write_demo_release(tmp_path / "c", participants=2, days=1, seed=12, progress=False)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)
    assert (a / "Sensor" / "P01" / "HR.csv").read_bytes() != (c / "Sensor" / "P01" / "HR.csv").read_bytes()
