"""Hand-made inputs for the F1 feature tests: typed frames, and tiny release folders on disk.

``frame(type_name, rows)`` builds a polars frame exactly as the reader hands it over
(``timestamp`` then the canonical columns, with the schema's dtypes). ``write_release``
writes a small but complete release (every one of the 27 files, a few participants, low
rates, a couple of days) with a seeded generator, for the extraction and backend tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import polars as pl

from kemo_attention.release.schema import DATA_TYPES, ESM_COLUMNS, USERINFO_COLUMNS

_DTYPES = {"int": pl.Int64, "float": pl.Float64, "str": pl.String, "bool": pl.Boolean}

# 2019-05-08 00:00:00 +09:00 in epoch ms.
DAY0_MS = 1_557_241_200_000
HOUR = 3_600_000


def frame(type_name: str, rows: list[dict] | None = None) -> pl.DataFrame:
    """A typed frame of one data type from dict rows (missing keys are null)."""
    dt = DATA_TYPES[type_name]
    schema = {"timestamp": pl.Int64, **{c.name: _DTYPES[c.kind] for c in dt.columns}}
    rows = rows or []
    data = {name: [r.get(name) for r in rows] for name in schema}
    return pl.DataFrame(data, schema=schema)


# ------------------------------------------------------------------ release on disk
_CATS = {
    "motionType": ["IDLE", "WALKING", "JOGGING"],
    "intensity": ["NONE", "LOW", "MEDIUM"],
    "status": ["CHARGING", "DISCHARGING", "FULL"],
    "plugged": ["AC", "USB"],
    "messageBox": ["INBOX", "SENT"],
    "mimetype": ["image/jpeg", "video/mp4", "audio/mp3"],
    "category": ["SOCIAL", "GAME", "TOOLS", "COMMUNICATION"],
    "packageName": ["com.a", "com.b", "com.c", "com.d", "com.e"],
}
_TYPES = {
    "ScreenEvent": ["ON", "OFF", "UNLOCK"],
    "RingerModeEvent": ["VIBRATE", "SILENT", "NORMAL"],
    "ChargeEvent": ["CONNECTED", "DISCONNECTED"],
    "PowerSaveEvent": ["ACTIVATE", "DEACTIVATE"],
    "OnOffEvent": ["ON", "OFF"],
    "AppUsageEvent": ["MOVE_TO_FOREGROUND", "MOVE_TO_BACKGROUND", "USER_INTERACTION"],
}
# Mean gap between rows (seconds) per type: low rates keep the tests fast.
_GAP_S = {"Acceleration": 20, "EDA": 30, "AmbientLight": 30, "HR": 20, "RRI": 30}


def _value(rng: np.random.Generator, type_name: str, col, i: int):
    if col.kind == "str":
        if type_name in _TYPES and col.name == "type":
            return str(rng.choice(_TYPES[type_name]))
        if col.name == "transitionType":
            return str(rng.choice(["ENTER_WALKING", "EXIT_WALKING", "ENTER_STILL", "EXIT_STILL", "ENTER_IN_VEHICLE"]))
        if col.name == "type":  # Connectivity
            return str(rng.choice(["WIFI", "MOBILE"]))
        if col.name == "bssid":
            return f"ap{int(rng.integers(0, 6))}"
        return str(rng.choice(_CATS.get(col.name, ["x", "y"])))
    if col.kind == "bool":
        return bool(rng.random() < 0.7)
    if col.kind == "int":
        return int(rng.integers(0, 10**9))
    if col.name.startswith("total"):
        return float(i * 3 + int(rng.integers(0, 3)))
    if col.name == "duration" and type_name == "CallEvent":
        return float(rng.choice([0, 30_000, 125_000]))
    if col.name == "latitude":
        return float(36.37 + rng.normal(0, 0.002))
    if col.name == "longitude":
        return float(127.36 + rng.normal(0, 0.002))
    lo, hi = col.valid_range or (0.0, 100.0)
    hi = min(hi, lo + 200)
    return round(float(rng.uniform(lo, hi)), 3)


def write_participant(folder: Path, rng: np.random.Generator, start_ms: int, days: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    span = int(days * 24 * HOUR)
    for type_name, dt in DATA_TYPES.items():
        gap = _GAP_S.get(type_name, 600 if dt.source == "phone" else 60)
        n = max(3, int(span / (gap * 1000)))
        times = np.sort(start_ms + rng.integers(0, span, size=n))
        rows = []
        if type_name in ("WiFi", "InstalledApp"):  # snapshots: several rows per time
            for i, t in enumerate(times[: max(3, n // 3)]):
                for j in range(int(rng.integers(1, 4))):
                    rows.append([int(t)] + [_value(rng, type_name, c, i) for c in dt.columns])
        else:
            for i, t in enumerate(times):
                rows.append([int(t)] + [_value(rng, type_name, c, i) for c in dt.columns])
        with open(folder / dt.file_name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", *dt.column_names])
            w.writerows(rows)


def write_release(
    root: Path, *, participants: int = 3, days: float = 2.0, prompts_per_day: int = 8, seed: int = 0, start_hour: int = 8
) -> Path:
    """A complete tiny release: Sensor/Pxx/*.csv for all 27 types, SubjData/EsmResponse.csv
    and SubjData/UserInfo.csv. Data start at ``start_hour`` local time on 2019-05-08 and last
    ``days`` days; scheduled prompts fall in that span (after its first hour), plus one
    voluntary response a day."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    start = DAY0_MS + start_hour * HOUR
    span = int(days * 24 * HOUR)
    n_prompts = max(1, round(prompts_per_day * days))
    esm_rows, info_rows = [], []
    for p in range(1, participants + 1):
        pcode = f"P{p:02d}"
        write_participant(root / "Sensor" / pcode, rng, start, days)
        sched = np.sort(start + HOUR + rng.integers(0, span - HOUR, size=n_prompts))
        for s in sched:
            vals = [int(v) for v in rng.integers(-3, 4, size=6)]
            esm_rows.append([pcode, int(s) + 60_000, int(s), *vals[:4], 15, *vals[4:]])
        for d in range(max(1, int(days))):  # voluntary responses: no scheduledTime
            esm_rows.append([pcode, start + d * 24 * HOUR + 30 * 60_000, "", 1, 1, 1, 1, 5, 1, 0])
        info_rows.append([pcode, "2019-05-08", 20 + p, "F" if p % 2 else "M", 10, 11, 8, 9, 10, 16, 4, 10])
    subj = root / "SubjData"
    subj.mkdir(parents=True, exist_ok=True)
    # ESM column order of the schema: pcode, responseTime, scheduledTime, valence, arousal,
    # attention, stress, duration, disturbance, change.
    with open(subj / "EsmResponse.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([c.name for c in ESM_COLUMNS])
        w.writerows(esm_rows)
    with open(subj / "UserInfo.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([c.name for c in USERINFO_COLUMNS])
        w.writerows(info_rows)
    return root
