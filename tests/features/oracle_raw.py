"""The oracle from raw files: a release folder -> every feature row, by the spec's words alone.

``oracle.py`` defines the features of one stream at one time; this module supplies what comes
before: reading the release's CSV files (``/work/shared/spec/kemophone-data.md``: layout,
case-insensitive column names, header text repeated inside a file, stable sort by time), the
52 streams of spec section 1 derived from the 27 raw types, the label protocol (scheduled
answers only, a minimum per participant, attention > threshold) and the participant rows.
It imports nothing of ``kemo_attention``; it is slow and plain on purpose (Python loops over
rows, one prompt at a time).

Readings of the spec where it leaves a choice (the whole-row release avoids relying on them
except where noted):

- an empty or unparsable cell is a missing value; a numeric sample without a value is no
  sample (so ACC_MAG has none where an axis is missing); a categorical one is dropped, except
  APP_* background rows, whose missing value is the point;
- increments (CAL, DST_DST, STP, ULV_EXP) are taken between consecutive rows that have a value;
- a location fix without a coordinate has LOC_DST 0, so has the fix after it (its previous fix
  has no coordinate), and it gives no LOC_CLS sample;
- CAE: the CALL and IDLE events of all calls are put in time order with a stable sort over
  (call start, call end) in row order (the release has no two events at one time).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import oracle
from raw_columns import ESM_COLUMNS, SENSOR_COLUMNS, USERINFO_COLUMNS

EARTH_RADIUS_M = 6_371_008.8
GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"
ACT_KINDS = ("WALKING", "STILL", "IN_VEHICLE", "ON_BICYCLE", "RUNNING")

Rows = list[dict]  # canonical column -> cell text (None when empty); "timestamp" -> int
Series = tuple[np.ndarray, list]


# --------------------------------------------------------------------------- reading


def read_csv_rows(path: Path, columns: tuple[str, ...]) -> Rows | None:
    """A CSV file's rows keyed by the canonical names (matched in any case), stable-sorted by
    ``timestamp`` when it has one; blank rows and rows repeating the header text dropped.
    None when the file does not exist."""
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    if not lines:
        return []
    header = lines[0]
    canonical = {c.lower(): c for c in columns}
    where = {canonical[cell.strip().lower()]: i for i, cell in enumerate(header) if cell.strip().lower() in canonical}
    header_text = [cell.strip().lower() for cell in header]
    rows: Rows = []
    for cells in lines[1:]:
        if all(not c.strip() for c in cells):
            continue
        if [c.strip().lower() for c in cells] == header_text:
            continue  # the column names again, as a row
        row = {}
        for name in columns:
            i = where.get(name)
            text = cells[i].strip() if i is not None and i < len(cells) else ""
            row[name] = text if text else None
        rows.append(row)
    if "timestamp" in columns:
        for row in rows:
            row["timestamp"] = int(row["timestamp"])
        rows.sort(key=lambda r: r["timestamp"])  # Python's sort is stable: file order among equal times
    return rows


def number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        x = float(text)
    except ValueError:
        return None
    return None if math.isnan(x) else x


def is_true(text: str | None) -> bool:
    return text is not None and text.strip().lower() in ("true", "1")


def f32(x: float) -> float:
    """Round a finished stream value to float32 (spec section 3), held as a Python float."""
    return float(np.float32(x))


def sensor_tables(folder: Path) -> dict[str, Rows | None]:
    """Every raw type of one participant folder (None for a missing file)."""
    return {
        name: read_csv_rows(folder / f"{name}.csv", ("timestamp", *columns)) for name, columns in SENSOR_COLUMNS.items()
    }


# --------------------------------------------------------------------------- streams (spec 1)


def _series(pairs: list[tuple[int, object]]) -> Series:
    return np.array([t for t, _ in pairs], dtype=np.int64), [v for _, v in pairs]


def numeric_column(rows: Rows, column: str) -> Series:
    pairs = []
    for row in rows:
        x = number(row[column])
        if x is not None:
            pairs.append((row["timestamp"], f32(x)))
    return _series(pairs)


def increments(rows: Rows, column: str) -> Series:
    """Difference of consecutive totals (from the values as parsed), the first row dropped."""
    valued = [(row["timestamp"], number(row[column])) for row in rows]
    valued = [(t, x) for t, x in valued if x is not None]
    return _series([(t, f32(x - prev)) for (_, prev), (t, x) in zip(valued, valued[1:])])


def categorical_column(rows: Rows, column: str) -> Series:
    return _series([(row["timestamp"], row[column]) for row in rows if row[column] is not None])


def events(rows: Rows, keep=lambda row: True) -> Series:
    return _series([(row["timestamp"], 1.0) for row in rows if keep(row)])


def acceleration(rows: Rows) -> dict[str, Series]:
    out = {name: numeric_column(rows, axis) for name, axis in (("ACC_AXX", "x"), ("ACC_AXY", "y"), ("ACC_AXZ", "z"))}
    mags = []
    for row in rows:
        x, y, z = (number(row[c]) for c in ("x", "y", "z"))
        if None not in (x, y, z):
            mags.append((row["timestamp"], f32(math.sqrt(x * x + y * y + z * z))))
    out["ACC_MAG"] = _series(mags)
    return out


def app_usage(rows: Rows) -> dict[str, Series]:
    kept = [row for row in rows if row["type"] in ("MOVE_TO_FOREGROUND", "MOVE_TO_BACKGROUND")]
    out = {}
    for name, column in (("APP_PAC", "packageName"), ("APP_CAT", "category")):
        out[name] = _series([(r["timestamp"], r[column] if r["type"] == "MOVE_TO_FOREGROUND" else None) for r in kept])
    return out


def calls(rows: Rows) -> Series:
    evs = []
    for row in rows:
        duration = number(row["duration"])
        if duration is not None and duration > 0:
            evs.append((row["timestamp"], "CALL"))
            evs.append((row["timestamp"] + int(duration), "IDLE"))
    evs.sort(key=lambda e: e[0])
    return _series(evs)


def snapshots(rows: Rows) -> list[tuple[int, list[dict]]]:
    """Rows grouped by timestamp, in time order."""
    out: list[tuple[int, list[dict]]] = []
    for row in rows:
        if out and out[-1][0] == row["timestamp"]:
            out[-1][1].append(row)
        else:
            out.append((row["timestamp"], [row]))
    return out


def installed_apps(rows: Rows) -> Series:
    snaps = [(t, {r["packageName"] for r in group if r["packageName"] is not None}) for t, group in snapshots(rows)]
    pairs = []
    for (_, before), (t, now) in zip(snaps, snaps[1:]):
        union = before | now
        pairs.append((t, f32(len(before & now) / len(union)) if union else 0.0))
    return _series(pairs)


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2) - math.radians(lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def geohash(lat: float, lon: float, precision: int = 7) -> str:
    """The textbook geohash: alternate longitude / latitude bisections, 5 bits a character."""
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    chars, bits, value, even = [], 0, 0, True
    while len(chars) < precision:
        rng, x = (lon_range, lon) if even else (lat_range, lat)
        mid = (rng[0] + rng[1]) / 2
        value <<= 1
        if x > mid:
            value |= 1
            rng[0] = mid
        else:
            rng[1] = mid
        even = not even
        bits += 1
        if bits == 5:
            chars.append(GEOHASH_ALPHABET[value])
            bits, value = 0, 0
    return "".join(chars)


def location(rows: Rows) -> dict[str, Series]:
    fixes = [(row["timestamp"], number(row["latitude"]), number(row["longitude"])) for row in rows]
    dist, cls = [], []
    for k, (t, lat, lon) in enumerate(fixes):
        d = 0.0
        if k > 0:
            _, lat0, lon0 = fixes[k - 1]
            if None not in (lat, lon, lat0, lon0):
                d = haversine(lat0, lon0, lat, lon)
        dist.append((t, f32(d)))
        if None not in (lat, lon):
            cls.append((t, geohash(lat, lon)))
    return {"LOC_DST": _series(dist), "LOC_CLS": _series(cls)}


def wifi(rows: Rows) -> dict[str, Series]:
    scans = []
    for t, group in snapshots(rows):
        scan = {}
        for r in group:
            rssi = number(r["rssi"])
            if r["bssid"] is not None and r["frequency"] is not None and rssi is not None:
                scan[f"{r['bssid']}-{float(r['frequency'])}"] = rssi
        scans.append((t, scan))
    out: dict[str, list] = {"WIF_COS": [], "WIF_EUC": [], "WIF_MAN": [], "WIF_JAC": []}
    for (_, before), (t, now) in zip(scans, scans[1:]):
        shared = sorted(set(before) & set(now))
        m = len(shared)
        if m:
            a = [now[k] for k in shared]
            b = [before[k] for k in shared]
            dot = sum(x * y for x, y in zip(a, b))
            na, nb = sum(x * x for x in a), sum(y * y for y in b)
            cos = dot / (math.sqrt(na) * math.sqrt(nb)) if na > 0 and nb > 0 else 0.0
            euc = 1 / (1 + math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)) / m))  # weights 1/|shared|
            man = 1 / (1 + sum(abs(x - y) for x, y in zip(a, b)) / m)
        else:
            cos = euc = man = 0.0
        union = set(before) | set(now)
        jac = m / len(union) if union else 0.0
        for name, x in (("WIF_COS", cos), ("WIF_EUC", euc), ("WIF_MAN", man), ("WIF_JAC", jac)):
            out[name].append((t, f32(x)))
    return {name: _series(pairs) for name, pairs in out.items()}


def derive_streams(tables: dict[str, Rows | None]) -> dict[str, Series]:
    """Spec section 1, row by row of its table: the 52 streams of one participant."""
    r = {name: rows or [] for name, rows in tables.items()}
    s: dict[str, Series] = {}
    s.update(acceleration(r["Acceleration"]))
    s["AML"] = numeric_column(r["AmbientLight"], "brightness")
    s["CAL"] = increments(r["Calorie"], "totalCalories")
    s["DST_DST"] = increments(r["Distance"], "totalDistance")
    s["DST_MOT"] = categorical_column(r["Distance"], "motionType")
    s["DST_PAC"] = numeric_column(r["Distance"], "pace")
    s["DST_SPD"] = numeric_column(r["Distance"], "speed")
    s["EDA"] = numeric_column(r["EDA"], "resistance")
    s["HRT"] = numeric_column(r["HR"], "bpm")
    s["RRI"] = numeric_column(r["RRI"], "interval")
    s["SKT"] = numeric_column(r["SkinTemperature"], "temperature")
    s["STP"] = increments(r["StepCount"], "totalSteps")
    s["ULV_EXP"] = increments(r["UltraViolet"], "totalExposure")
    s["ULV_INT"] = categorical_column(r["UltraViolet"], "intensity")
    for name, column in (
        ("ACE_UNK", "confidenceUnknown"), ("ACE_FOT", "confidenceOnFoot"), ("ACE_WLK", "confidenceWalking"),
        ("ACE_VHC", "confidenceInVehicle"), ("ACE_BCC", "confidenceOnBicycle"), ("ACE_RUN", "confidenceRunning"),
        ("ACE_TLT", "confidenceTilting"),
    ):  # fmt: skip
        s[name] = numeric_column(r["ActivityEvent"], column)
    entered = [row for row in r["ActivityTransition"] if row["transitionType"] in {f"ENTER_{k}" for k in ACT_KINDS}]
    s["ACT"] = _series([(row["timestamp"], row["transitionType"][len("ENTER_") :]) for row in entered])
    s.update(app_usage(r["AppUsageEvent"]))
    s["BAT_LEV"] = numeric_column(r["BatteryEvent"], "level")
    s["BAT_TMP"] = numeric_column(r["BatteryEvent"], "temperature")
    s["BAT_STA"] = categorical_column(r["BatteryEvent"], "status")
    s["CAE"] = calls(r["CallEvent"])
    s["CON"] = _series(
        [(row["timestamp"], row["type"] if is_true(row["isConnected"]) else "DISCONNECTED") for row in r["Connectivity"]]
    )
    s["DAT_RCV"] = numeric_column(r["DataTraffic"], "rxKiloBytes")
    s["DAT_SNT"] = numeric_column(r["DataTraffic"], "txKiloBytes")
    s["INS_JAC"] = installed_apps(r["InstalledApp"])
    s.update(location(r["Location"]))
    media = r["MediaEvent"]
    s["MED_ALL"] = events(media)
    s["MED_IMG"] = events(media, lambda row: (row["mimetype"] or "").startswith("image/"))
    s["MED_VID"] = events(media, lambda row: (row["mimetype"] or "").startswith("video/"))
    msgs = r["MessageEvent"]
    s["MSG_ALL"] = events(msgs)
    s["MSG_SNT"] = events(msgs, lambda row: row["messageBox"] == "SENT")
    s["MSG_RCV"] = events(msgs, lambda row: row["messageBox"] == "INBOX")
    s.update(wifi(r["WiFi"]))
    for name, table in (
        ("SCR", "ScreenEvent"), ("RNG", "RingerModeEvent"), ("CHG", "ChargeEvent"), ("PWS", "PowerSaveEvent"),
        ("ONF", "OnOffEvent"),
    ):  # fmt: skip
        s[name] = categorical_column(r[table], "type")
    assert sorted(s) == sorted(oracle.ORACLE_BY_NAME), sorted(set(s) ^ set(oracle.ORACLE_BY_NAME))
    return s


# --------------------------------------------------------------------------- subject files, labels


def subject_file(root: Path, name: str) -> Path | None:
    for path in (root / "SubjData" / name, root / name):
        if path.is_file():
            return path
    return None


def userinfo_rows(root: Path) -> dict[str, dict]:
    """pcode -> {column: float | str | None}; numbers parsed, text kept."""
    path = subject_file(root, "UserInfo.csv")
    rows = read_csv_rows(path, USERINFO_COLUMNS) if path else []
    out = {}
    for row in rows or []:
        info = {c: number(row[c]) for c in oracle.PIF_NUMERIC.values()}
        info["gender"] = row["gender"]
        out[row["pcode"]] = info
    return out


@dataclass
class Labels:
    pcode: str
    prompts: list[int]  # scheduled times, sorted (file order among equal times)
    y: list[int]

    @property
    def past(self) -> list[tuple[int, int]]:
        return list(zip(self.prompts, self.y))


def labels(root: Path, min_responses: int, threshold: float = 0.0, item: str = "attention") -> dict[str, Labels]:
    """The reference protocol: scheduled answers only, participants with at least
    ``min_responses`` of them, y = 1 when the answer is above ``threshold``."""
    rows = read_csv_rows(subject_file(root, "EsmResponse.csv"), ESM_COLUMNS)
    by_person: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        if row["scheduledTime"] is None or number(row[item]) is None:
            continue
        by_person.setdefault(row["pcode"], []).append((int(row["scheduledTime"]), number(row[item])))
    out = {}
    for pcode, answers in by_person.items():
        if len(answers) < min_responses:
            continue
        answers.sort(key=lambda a: a[0])
        out[pcode] = Labels(pcode, [t for t, _ in answers], [int(x > threshold) for _, x in answers])
    return out


# --------------------------------------------------------------------------- rows


@dataclass
class OracleRow:
    pcode: str
    prompt_ms: int
    y: int
    values: dict[str, float]  # every column of spec section 3 (bools as 0.0 / 1.0)
    infos: dict[str, dict[str, oracle.WindowInfo]]


def release_streams(root: Path) -> dict[str, dict[str, Series]]:
    """pcode -> its 52 streams, for every participant folder under Sensor/."""
    return {folder.name: derive_streams(sensor_tables(folder)) for folder in sorted((Path(root) / "Sensor").iterdir())}


def release_rows(
    root: Path, mode: str, *, min_responses: int, streams: dict[str, dict[str, Series]] | None = None
) -> list[OracleRow]:
    """Every sample of the release (participants with a sensor folder and enough labels)."""
    root = Path(root)
    streams = streams if streams is not None else release_streams(root)
    info = userinfo_rows(root)
    out = []
    for pcode, lab in sorted(labels(root, min_responses).items()):
        if pcode not in streams:
            continue
        for prompt, y in zip(lab.prompts, lab.y):
            values, infos = oracle.feature_row(
                streams[pcode], prompt, userinfo=info.get(pcode), past_labels=lab.past, mode=mode
            )
            out.append(OracleRow(pcode, prompt, y, values, infos))
    return out
