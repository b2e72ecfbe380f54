"""The written folder looks like a K-EmoPhone release (spec kemophone-data.md)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from kemo_attention.demo.dirt import planted_dirt
from kemo_attention.release.schema import DATA_TYPES, ESM_COLUMNS, USERINFO_COLUMNS

from demo_sizes import SMALL

# Study period: local midnight (+09:00) of 2019-05-06 for SMALL["days"] days, in UTC ms.
T0 = int(dt.datetime(2019, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=9))).timestamp() * 1000)
T1 = T0 + SMALL["days"] * 86_400_000


def _missing() -> set[tuple[str, str]]:
    return {(d.pcode, d.file) for d in planted_dirt(SMALL["participants"]) if d.kind == "missing_file"}


def _read_text(path) -> pl.DataFrame:
    """Every cell as text, header rows inside the file dropped."""
    df = pl.read_csv(path, infer_schema_length=0)
    return df.filter(pl.col("timestamp") != "timestamp")


def test_layout_and_canonical_headers(small_release):
    assert (small_release / "SubjData" / "EsmResponse.csv").is_file()
    assert (small_release / "SubjData" / "UserInfo.csv").is_file()
    pcodes = sorted(p.name for p in (small_release / "Sensor").iterdir())
    assert pcodes == [f"P{i:02d}" for i in range(1, SMALL["participants"] + 1)]
    missing = _missing()
    assert len(missing) == 1
    for pcode in pcodes:
        for dtype in DATA_TYPES.values():
            path = small_release / "Sensor" / pcode / dtype.file_name
            if (pcode, dtype.file_name) in missing:
                assert not path.exists()
                continue
            header = path.read_text(encoding="utf-8").split("\n", 1)[0]
            assert header.split(",") == ["timestamp", *dtype.column_names], path


def test_timestamps_are_ints_in_the_period_and_sorted(small_release):
    descents = {}
    for folder in (small_release / "Sensor").iterdir():
        for path in folder.glob("*.csv"):
            df = _read_text(path)
            if df.height == 0:
                continue
            text = df["timestamp"]
            assert text.str.contains(r"^\d{13}$").all(), path
            ts = text.cast(pl.Int64).to_numpy()
            assert ts.min() >= T0 and ts.max() < T1, path
            n = int((np.diff(ts) < 0).sum())
            if n:
                descents[(folder.name, path.name)] = n
    planted = {(d.pcode, d.file): d.count for d in planted_dirt(SMALL["participants"]) if d.kind == "out_of_order"}
    assert descents == planted


def test_cumulative_columns_increase(small_release):
    checks = {"StepCount": "totalSteps", "Calorie": "totalCalories", "Distance": "totalDistance", "UltraViolet": "totalExposure"}
    for folder in (small_release / "Sensor").iterdir():
        for name, col in checks.items():
            v = pl.read_csv(folder / f"{name}.csv")[col].to_numpy()
            assert np.all(np.diff(v) >= 0), (folder.name, name)
            assert v[-1] > v[0], (folder.name, name)
        steps = pl.read_csv(folder / "StepCount.csv")
        # stepsToday restarts at local midnight: it only goes down across a day boundary
        day = (steps["timestamp"].to_numpy() - T0) // 86_400_000
        down = np.nonzero(np.diff(steps["stepsToday"].to_numpy()) < 0)[0]
        assert np.all(day[down + 1] != day[down])


def test_values_and_categories_as_in_the_release(small_release):
    folder = small_release / "Sensor" / "P04"  # no planted dirt here
    hr = pl.read_csv(folder / "HR.csv")["bpm"]
    assert 35 <= hr.min() and hr.max() <= 199 and 60 < hr.mean() < 90
    rri = pl.read_csv(folder / "RRI.csv")["interval"]
    assert 298 <= rri.min() and rri.max() <= 1494 and 600 < rri.mean() < 950
    acc = pl.read_csv(folder / "Acceleration.csv")
    mag = np.sqrt(acc["x"] ** 2 + acc["y"] ** 2 + acc["z"] ** 2).to_numpy()
    assert 0.85 < np.median(mag) < 1.15  # gravity
    assert acc.select(pl.all().exclude("timestamp").abs().max()).max_horizontal()[0] <= 8
    eda = pl.read_csv(folder / "EDA.csv")["resistance"]
    assert 0 <= eda.min() and eda.max() <= 340_330 and 300 < eda.median() < 10_000
    skt = pl.read_csv(folder / "SkinTemperature.csv")["temperature"]
    assert 28 < skt.median() < 36
    assert set(pl.read_csv(folder / "Distance.csv")["motionType"]) <= {"IDLE", "WALKING", "JOGGING", "RUNNING"}
    assert set(pl.read_csv(folder / "UltraViolet.csv")["intensity"]) <= {"NONE", "LOW", "MEDIUM", "HIGH"}
    assert set(pl.read_csv(folder / "ScreenEvent.csv")["type"]) == {"ON", "OFF", "UNLOCK"}
    assert set(pl.read_csv(folder / "BatteryEvent.csv")["status"]) <= {"CHARGING", "DISCHARGING", "FULL", "NOT_CHARGING"}
    app = pl.read_csv(folder / "AppUsageEvent.csv")
    assert {"MOVE_TO_FOREGROUND", "MOVE_TO_BACKGROUND"} <= set(app["type"])
    assert "카카오톡" in set(app["name"])  # UTF-8 Korean names, as in the release
    raw = pl.read_csv(folder / "AppUsageEvent.csv", infer_schema_length=0)
    assert set(raw["isSystemApp"]) == {"True", "False"}  # spelled as the release spells them
    act = pl.read_csv(folder / "ActivityTransition.csv")["transitionType"]
    assert set(act) <= {f"{e}_{k}" for e in ("ENTER", "EXIT") for k in ("WALKING", "STILL", "IN_VEHICLE", "ON_BICYCLE", "RUNNING")}
    dat = pl.read_csv(folder / "DataTraffic.csv")
    assert set(dat["duration"]) == {15_000}
    wifi = pl.read_csv(folder / "WiFi.csv")
    assert wifi.group_by("timestamp").len()["len"].median() >= 3  # a scan is several rows
    assert wifi["rssi"].max() < 0 and 2400 <= wifi["frequency"].min() and wifi["frequency"].max() <= 5900


def test_installed_apps_are_full_snapshots(small_release):
    ins = pl.read_csv(small_release / "Sensor" / "P04" / "InstalledApp.csv")
    per = ins.group_by("timestamp").len()
    assert per.height >= 3 * SMALL["days"]
    assert per["len"].min() >= 50
    # snapshots are whole lists: each holds no package twice
    assert ins.group_by("timestamp").agg(pl.col("packageName").n_unique() == pl.len())["packageName"].all()


def _geohash7(lat: float, lon: float) -> str:
    """Standard geohash (base32, precision 7), written out here as an independent reference."""
    alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
    lat_r, lon_r, bits, even = [-90.0, 90.0], [-180.0, 180.0], [], True
    while len(bits) < 35:
        r, v = (lon_r, lon) if even else (lat_r, lat)
        mid = (r[0] + r[1]) / 2
        bits.append(v >= mid)
        r[0 if v >= mid else 1] = mid
        even = not even
    return "".join(alphabet[int("".join("1" if b else "0" for b in bits[i : i + 5]), 2)] for i in range(0, 35, 5))


def test_locations_form_a_few_places(small_release):
    loc = pl.read_csv(small_release / "Sensor" / "P04" / "Location.csv")
    still = loc.filter(pl.col("speed") < 1.0)
    cells = [_geohash7(a, b) for a, b in zip(still["latitude"], still["longitude"])]
    counts = sorted(np.unique(cells, return_counts=True)[1], reverse=True)
    assert sum(counts[:6]) >= 0.8 * len(cells)  # home, campus, cafeteria (+ cell edges)
    assert 36.2 < loc["latitude"].median() < 36.5 and 34.2 < loc["longitude"].median() < 34.45


def test_subject_files(small_release):
    esm = pl.read_csv(small_release / "SubjData" / "EsmResponse.csv")
    assert esm.columns == [c.name for c in ESM_COLUMNS]
    assert esm["scheduledTime"].null_count() > 0  # voluntary responses
    for col in ("valence", "arousal", "attention", "stress", "disturbance", "change"):
        assert esm[col].min() >= -3 and esm[col].max() <= 3
    assert set(esm["duration"].drop_nulls()) <= {5, 10, 15, 20, 30, 60}
    users = pl.read_csv(small_release / "SubjData" / "UserInfo.csv")
    assert users.columns == [c.name for c in USERINFO_COLUMNS]
    assert users["pcode"].to_list() == sorted(esm["pcode"].unique().to_list())
    assert set(users["gender"]) == {"M", "F"}
    for col, lo, hi in [("openness", 3, 15), ("conscientiousness", 3, 15), ("neuroticism", 3, 15), ("extraversion", 3, 15),
                        ("agreeableness", 3, 15), ("PSS", 3, 32), ("PHQ", 0, 19), ("GHQ", 1, 27), ("age", 18, 40)]:
        assert users[col].min() >= lo and users[col].max() <= hi, col
    assert set(users["participationStartDate"]) == {"2019-05-06"}
