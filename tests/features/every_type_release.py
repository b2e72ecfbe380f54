"""A small release in which every one of the 27 data types has data, for the whole-row oracle test.

Seeded and written with the csv module from the data spec's column lists (``raw_columns``),
so nothing of the product decides what lands on disk. ``legacy=True`` writes the capitalised
headers of older copies (``Timestamp``, ``BPM``, ``Pcode`` ...); the data are the same for both
header styles with the same seed.

What is in it, on purpose:

- three participants: P01 with all 27 files; P02 without ``CallEvent.csv``, with a
  header-only ``PowerSaveEvent.csv`` and no ``UserInfo`` row; P03 with too few scheduled
  answers (left out by the label protocol at ``MIN_RESPONSES``);
- values with many digits where float32 rounding of inputs would show: totals above 2**24
  (cumulative steps, distance, exposure), coordinates with 10 decimals, accelerations with 9;
- the dirt the spec names: duplicated timestamps, out-of-order rows, header text repeated as a
  row, empty cells, categories outside the lists (CON ``UNDEFINED``, ``ENTER_TILTING``),
  APP background and user-interaction rows, calls of duration 0, EXIT/ENTER pairs at one time,
  a Wi-Fi scan sharing no access point with the one before, a location fix without latitude;
- samples exactly at a prompt T (must not count), at t = T - 1 and at t - 30 s; prompts before
  the data, inside gaps and after the data; two prompts at one scheduled time; voluntary answers.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

from raw_columns import ESM_COLUMNS, SENSOR_COLUMNS, USERINFO_COLUMNS, legacy_name

DAY0_MS = 1_557_241_200_000  # 2019-05-08 00:00:00 +09:00
MINUTE = 60_000
HOUR = 3_600_000
MIN_RESPONSES = 5  # participants with fewer scheduled answers are left out

# Mean gap between rows (seconds) per type.
MEAN_GAP_S = {
    "Acceleration": 2.0, "AmbientLight": 4.0, "Calorie": 5.0, "Distance": 5.0, "EDA": 3.0, "HR": 2.0,
    "RRI": 2.0, "SkinTemperature": 30.0, "StepCount": 5.0, "UltraViolet": 60.0,
    "ActivityEvent": 60.0, "ActivityTransition": 300.0, "AppUsageEvent": 30.0, "BatteryEvent": 120.0,
    "CallEvent": 1200.0, "Connectivity": 600.0, "DataTraffic": 15.0, "InstalledApp": 3000.0,
    "Location": 120.0, "MediaEvent": 900.0, "MessageEvent": 600.0, "WiFi": 60.0, "ScreenEvent": 90.0,
    "RingerModeEvent": 1500.0, "ChargeEvent": 1500.0, "PowerSaveEvent": 2400.0, "OnOffEvent": 2400.0,
}  # fmt: skip

PACKAGES = [f"com.app{k:02d}" for k in range(15)]
APP_CATEGORIES = ["SOCIAL", "GAME", "TOOLS", "COMMUNICATION", "NOT_LISTED", "PRODUCTIVITY"]
ACCESS_POINTS = [(f"ap-{k:02d}", 2412 if k % 3 else 5180) for k in range(10)] + [("ap-00", 5180)]
FAR_ACCESS_POINTS = [(f"far-{k}", 2437) for k in range(3)]


@dataclass
class Person:
    pcode: str
    start_ms: int
    hours: float
    n_scheduled: int
    missing: tuple[str, ...] = ()
    header_only: tuple[str, ...] = ()
    userinfo: list | None = None
    prompts: list[int] = field(default_factory=list)


def people() -> list[Person]:
    return [
        Person("P01", DAY0_MS + 8 * HOUR, 8.0, 10,
               userinfo=["P01", "2019-05-08", "23", "F", "10", "11", "8", "9", "12", "16", "4", ""]),
        Person("P02", DAY0_MS + 33 * HOUR, 6.0, 7, missing=("CallEvent",), header_only=("PowerSaveEvent",)),
        Person("P03", DAY0_MS + 58 * HOUR, 1.0, 2,
               userinfo=["P03", "2019-05-10", "21", "M", "9", "9", "9", "9", "9", "15", "5", "10"]),
    ]  # fmt: skip


# ------------------------------------------------------------------ times


def event_times(rng: random.Random, start: int, end: int, mean_gap_s: float) -> list[int]:
    """Exponential gaps around ``mean_gap_s``, with a few long silences (20-90 min)."""
    out, t = [], start + int(rng.uniform(0, mean_gap_s * 1000))
    while t < end:
        out.append(t)
        gap = rng.expovariate(1.0 / (mean_gap_s * 1000))
        if rng.random() < 0.004:
            gap += rng.uniform(20, 90) * MINUTE
        t += max(1, int(gap))
    return out


def schedule(rng: random.Random, person: Person) -> list[int]:
    """Scheduled prompt times: one before the data, the rest inside and after; one repeated."""
    start, end = person.start_ms, person.start_ms + int(person.hours * HOUR)
    prompts = [start - 30 * MINUTE]
    while len(prompts) < person.n_scheduled - 1:
        prompts.append(int(rng.uniform(start + 20 * MINUTE, end + HOUR)))
    prompts.append(prompts[-1])  # two prompts at one time
    return prompts


# ------------------------------------------------------------------ values (text cells)


def num(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


class Values:
    """Row makers per type; cumulative columns keep their running totals here."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.calories = 1_234_567.891
        self.distance = 31_000_000.0
        self.steps = 20_000_000.0
        self.exposure = 17_000_000.0
        self.lat, self.lon = 36.3721234567, 127.3601234567

    def row(self, type_name: str, i: int) -> list[str]:
        r = self.rng
        if type_name == "Acceleration":
            return [num(r.uniform(-2, 2), 9) for _ in range(3)]
        if type_name == "AmbientLight":
            return [num(r.uniform(0, 2000), 3)]
        if type_name == "Calorie":
            self.calories += r.choice([0.0, 0.0, 0.731, 1.377, 2.019])
            return [num(self.calories - 1_234_000, 3), num(self.calories, 3)]
        if type_name == "Distance":
            self.distance += r.choice([0, 0, 37, 81, 140])
            motion = r.choice(["IDLE", "WALKING", "WALKING", "JOGGING", "RUNNING", "UNKNOWN"])
            return [motion, num(r.uniform(0, 900), 2), num(r.uniform(0, 400), 3), num(self.distance - 3e7, 0), num(self.distance, 0)]
        if type_name == "EDA":
            return [num(r.uniform(500, 300_000), 2)]
        if type_name == "HR":
            return [num(r.uniform(55, 130), 1 if i % 4 else 0)]
        if type_name == "RRI":
            return [num(r.uniform(450, 1100), 1)]
        if type_name == "SkinTemperature":
            return [num(r.uniform(30, 35), 2)]
        if type_name == "StepCount":
            self.steps += r.choice([0, 0, 1, 3, 7, 12])
            return [num(self.steps - 2e7, 0), num(self.steps, 0)]
        if type_name == "UltraViolet":
            self.exposure += r.choice([0, 0, 3, 11])
            return [r.choice(["NONE", "LOW", "MEDIUM", "HIGH"]), num(self.exposure - 1.7e7, 0), num(self.exposure, 0)]
        if type_name == "ActivityEvent":
            return [num(r.uniform(0, 1), 2) for _ in range(8)]
        if type_name == "AppUsageEvent":
            kind = r.choice(["MOVE_TO_FOREGROUND"] * 3 + ["MOVE_TO_BACKGROUND"] * 2 + ["USER_INTERACTION"])
            name = r.choice(["카카오톡", "Chrome", 'a, "quoted" name'])
            return [name, r.choice(PACKAGES), r.choice(["True", "False"]), kind, "False", r.choice(APP_CATEGORIES)]
        if type_name == "BatteryEvent":
            status = r.choice(["CHARGING", "DISCHARGING", "DISCHARGING", "FULL", "NOT_CHARGING", "UNKNOWN"])
            return [status, num(r.uniform(25, 40), 1), str(r.randint(0, 100)), r.choice(["AC", "USB", ""])]
        if type_name == "CallEvent":
            duration = r.choice([0, 0, r.randint(5_000, 900_000)])
            return [f"h{r.randint(0, 99):02d}", "", str(r.randint(0, 50)), "False", "False", str(duration)]
        if type_name == "Connectivity":
            return [r.choice(["True", "True", "False"]), r.choice(["WIFI", "MOBILE", "UNDEFINED"])]
        if type_name == "DataTraffic":
            return [num(r.uniform(0, 500), 3), num(r.uniform(0, 80), 3), "15000"]
        if type_name == "Location":
            self.lat += r.uniform(-8e-4, 8e-4)
            self.lon += r.uniform(-8e-4, 8e-4)
            return [num(r.uniform(40, 90), 2), num(self.lon, 10), num(self.lat, 10), num(r.uniform(0, 3), 2), num(r.uniform(3, 40), 1)]
        if type_name == "MediaEvent":
            return [r.choice(["image/jpeg", "image/png", "video/mp4", "audio/mpeg"]), "Camera"]
        if type_name == "MessageEvent":
            box = r.choice(["INBOX", "INBOX", "SENT", "OUTBOX"])
            return [box, "False", str(r.randint(0, 9)), f"h{r.randint(0, 99):02d}", "", "False", "SMS"]
        types = {
            "ScreenEvent": ["ON", "OFF", "UNLOCK"], "RingerModeEvent": ["VIBRATE", "SILENT", "NORMAL", "UNKNOWN"],
            "ChargeEvent": ["CONNECTED", "DISCONNECTED"], "PowerSaveEvent": ["ACTIVATE", "DEACTIVATE"],
            "OnOffEvent": ["ON", "OFF"],
        }  # fmt: skip
        return [r.choice(types[type_name])]


def rows_of(type_name: str, times: list[int], values: Values, rng: random.Random) -> list[list[str]]:
    """Data rows (timestamp first) of one type; snapshot types give several rows per time."""
    rows: list[list[str]] = []
    if type_name == "ActivityTransition":
        kinds = ["WALKING", "STILL", "IN_VEHICLE", "ON_BICYCLE", "RUNNING"]
        for t in times:
            if rng.random() < 0.6:  # EXIT then ENTER at one time
                rows.append([str(t), f"EXIT_{rng.choice(kinds)}"])
            rows.append([str(t), "ENTER_TILTING" if rng.random() < 0.1 else f"ENTER_{rng.choice(kinds)}"])
        return rows
    if type_name == "InstalledApp":
        for t in times:
            for pkg in sorted(rng.sample(PACKAGES, rng.randint(6, 12))):
                rows.append([str(t), pkg.split(".")[-1], str(t - 5 * HOUR), pkg, "False", str(t - 90 * HOUR), "False", "TOOLS"])
        return rows
    if type_name == "WiFi":
        for k, t in enumerate(times):
            pool = FAR_ACCESS_POINTS if k == len(times) // 2 else ACCESS_POINTS
            for bssid, freq in rng.sample(pool, rng.randint(2, min(7, len(pool)))):
                rows.append([str(t), bssid, str(freq), str(rng.randint(-95, -35))])
        return rows
    for i, t in enumerate(times):
        rows.append([str(t), *values.row(type_name, i)])
    return rows


def add_dirt(type_name: str, rows: list[list[str]], header: list[str], rng: random.Random) -> list[list[str]]:
    """Duplicated timestamps, out-of-order rows, header text as a row, empty cells."""
    rows = [list(r) for r in rows]
    if len(rows) < 12:
        return rows
    if type_name in ("HR", "ScreenEvent", "Calorie", "AmbientLight", "Location"):
        for _ in range(3):  # a second row at the same time, with another value
            i = rng.randrange(1, len(rows) - 1)
            twin = list(rows[i])
            twin[1:] = rows[rng.randrange(len(rows))][1:]
            rows.insert(i + 1, twin)
    if type_name in ("HR", "ScreenEvent", "EDA", "Connectivity", "StepCount"):
        for _ in range(3):  # a row written a few rows too late
            i = rng.randrange(1, len(rows) - 6)
            rows.insert(i + 5, rows.pop(i))
    if type_name in ("HR", "ScreenEvent", "InstalledApp", "WiFi"):
        rows.insert(len(rows) // 3, list(header))
    if type_name == "HR":
        rows[len(rows) // 2][1] = ""
    if type_name == "Acceleration":
        rows[len(rows) // 2][3] = ""  # no z: no magnitude either
    if type_name == "Location":
        rows[len(rows) // 2][3] = ""  # no latitude
    return rows


def edge_times(prompts: list[int]) -> list[int]:
    """Samples exactly at T, at t = T - 1 and at t - 30 s."""
    out = []
    for p in prompts[1:]:
        out += [p, p - 1, p - 1 - 30_000]
    return out


# ------------------------------------------------------------------ the release


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_every_type_release(root: Path, *, legacy: bool = False, seed: int = 7) -> Path:
    """Write the release under ``root`` (Sensor/Pxx/*.csv, SubjData/EsmResponse.csv, UserInfo.csv)."""
    root = Path(root)
    rng = random.Random(seed)
    spell = legacy_name if legacy else (lambda n: n)
    esm_rows: list[list[str]] = []
    info_rows: list[list[str]] = []
    for person in people():
        prompts = schedule(rng, person)
        start, end = person.start_ms, person.start_ms + int(person.hours * HOUR)
        values = Values(rng)
        for type_name, columns in SENSOR_COLUMNS.items():
            if type_name in person.missing:
                continue
            header = [spell(c) for c in ("timestamp", *columns)]
            if type_name in person.header_only:
                write_csv(root / "Sensor" / person.pcode / f"{type_name}.csv", header, [])
                continue
            times = event_times(rng, start, end, MEAN_GAP_S[type_name])
            if type_name in ("HR", "ScreenEvent", "Acceleration"):
                times = sorted(times + [t for t in edge_times(prompts) if start <= t <= end])
            if type_name in ("HR", "AmbientLight"):
                times.append(end + 3 * HOUR)  # one late sample: the reference interpolates towards it
            rows = add_dirt(type_name, rows_of(type_name, times, values, rng), header, rng)
            write_csv(root / "Sensor" / person.pcode / f"{type_name}.csv", header, rows)
        for p in prompts:
            answers = [str(rng.randint(-3, 3)) for _ in range(4)]
            esm_rows.append([person.pcode, str(p + rng.randint(10_000, 300_000)), str(p), *answers, "15", "0", "1"])
        esm_rows.append([person.pcode, str(start + 45 * MINUTE), "", "1", "1", "3", "1", "5", "0", "0"])  # voluntary
        if person.userinfo is not None:
            info_rows.append(list(person.userinfo))
    rng.shuffle(esm_rows)  # the file is not in time order
    write_csv(root / "SubjData" / "EsmResponse.csv", [spell(c) for c in ESM_COLUMNS], esm_rows)
    write_csv(root / "SubjData" / "UserInfo.csv", [spell(c) for c in USERINFO_COLUMNS], info_rows)
    return root
