"""The 27 data types of the K-EmoPhone release: file names, stream prefixes, columns and types.

This table is the single place that knows the release's layout of columns. Column names are
stored in their canonical (current release) spelling; readers match them case-insensitively,
so the legacy capitalised headers (``BPM``, ``X``, ``Pcode`` ...) load too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["int", "float", "str", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    # Plausible range for numeric columns; values outside are counted as problems, not dropped.
    valid_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class DataType:
    """One raw sensor file type, e.g. ``HR.csv`` with prefix ``HRT``."""

    name: str  # file stem, e.g. "HR"
    prefix: str  # stream prefix used in feature names, e.g. "HRT"
    source: Literal["band", "phone"]
    columns: tuple[Column, ...]  # besides ``timestamp``
    # Participants of the real release often lack these files; their absence is not a problem.
    often_missing: bool = False
    # Several rows per timestamp are normal (a WiFi scan, an installed-app snapshot, an
    # EXIT/ENTER transition pair): only rows repeating an earlier row whole count as duplicates.
    multi_row: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _f(name: str, lo: float | None = None, hi: float | None = None) -> Column:
    return Column(name, "float", None if lo is None else (lo, hi))


def _s(name: str) -> Column:
    return Column(name, "str")


def _b(name: str) -> Column:
    return Column(name, "bool")


def _i(name: str) -> Column:
    return Column(name, "int")


TIMESTAMP = "timestamp"

# Every time of the release (and of an API request) is epoch milliseconds UTC. Values outside
# 2000-01-01 .. 2100-01-01 are refused rather than read: a file or request in seconds (1.56e9,
# "1970-01-19") or microseconds would otherwise read silently as nonsense dates.
EPOCH_MS_MIN = 946_684_800_000  # 2000-01-01T00:00:00Z
EPOCH_MS_MAX = 4_102_444_800_000  # 2100-01-01T00:00:00Z
EPOCH_MS_RANGE_TEXT = "2000-01-01 .. 2100-01-01"


def epoch_ms_problem(value: int) -> str | None:
    """Why ``value`` is not a plausible epoch-millisecond time (None when it is)."""
    if EPOCH_MS_MIN <= value <= EPOCH_MS_MAX:
        return None
    if EPOCH_MS_MIN // 1000 <= value <= EPOCH_MS_MAX // 1000:
        hint = "it looks like epoch seconds; multiply by 1000"
    elif EPOCH_MS_MIN * 1000 <= value <= EPOCH_MS_MAX * 1000:
        hint = "it looks like epoch microseconds; divide by 1000"
    else:
        hint = "expected epoch milliseconds UTC"
    return f"{value} is not an epoch-millisecond time within {EPOCH_MS_RANGE_TEXT} ({hint})"

DATA_TYPES: dict[str, DataType] = {
    t.name: t
    for t in (
        # Wristband (Microsoft Band 2)
        DataType("Acceleration", "ACC", "band", (_f("x", -8, 8), _f("y", -8, 8), _f("z", -8, 8))),
        DataType("AmbientLight", "AML", "band", (_f("brightness", 0, 65535),)),
        DataType("Calorie", "CAL", "band", (_f("caloriesToday", 0, 1e5), _f("totalCalories", 0, 1e6))),
        DataType(
            "Distance",
            "DST",
            "band",
            (_s("motionType"), _f("pace", 0, 1e5), _f("speed", 0, 1e4), _f("distanceToday", 0, 1e8), _f("totalDistance", 0, 1e9)),
        ),
        DataType("EDA", "EDA", "band", (_f("resistance", 0, 1e7),)),
        DataType("HR", "HRT", "band", (_f("bpm", 20, 250),)),
        DataType("RRI", "RRI", "band", (_f("interval", 100, 3000),)),
        DataType("SkinTemperature", "SKT", "band", (_f("temperature", 0, 45),)),
        DataType("StepCount", "STP", "band", (_f("stepsToday", 0, 1e6), _f("totalSteps", 0, 1e8))),
        DataType("UltraViolet", "ULV", "band", (_s("intensity"), _f("exposureToday", 0, 1e9), _f("totalExposure", 0, 1e10))),
        # Phone
        DataType(
            "ActivityEvent",
            "ACE",
            "phone",
            tuple(
                _f(f"confidence{k}", 0, 1)
                for k in ("Still", "Unknown", "OnFoot", "Walking", "InVehicle", "OnBicycle", "Running", "Tilting")
            ),
        ),
        DataType("ActivityTransition", "ACT", "phone", (_s("transitionType"),), multi_row=True),
        DataType(
            "AppUsageEvent",
            "APP",
            "phone",
            (_s("name"), _s("packageName"), _b("isSystemApp"), _s("type"), _b("isUpdatedSystemApp"), _s("category")),
        ),
        DataType("BatteryEvent", "BAT", "phone", (_s("status"), _f("temperature", -40, 100), _f("level", 0, 100), _s("plugged"))),
        DataType(
            "CallEvent",
            "CAE",
            "phone",
            (_s("number"), _s("contact"), _f("timesContacted", 0, 1e6), _b("isPinned"), _b("isStarred"), _f("duration", 0, 1e9)),
            often_missing=True,
        ),
        DataType("Connectivity", "CON", "phone", (_b("isConnected"), _s("type"))),
        DataType("DataTraffic", "DAT", "phone", (_f("rxKiloBytes", 0, 1e9), _f("txKiloBytes", 0, 1e9), _f("duration", 0, 1e9))),
        DataType(
            "InstalledApp",
            "INS",
            "phone",
            (
                _s("name"),
                _i("lastUpdateTime"),
                _s("packageName"),
                _b("isSystemApp"),
                _i("firstInstallTime"),
                _b("isUpdatedSystemApp"),
                _s("category"),
            ),
            multi_row=True,
        ),
        DataType(
            "Location",
            "LOC",
            "phone",
            (_f("altitude", -1000, 9000), _f("longitude", -180, 180), _f("latitude", -90, 90), _f("speed", 0, 400), _f("accuracy", 0, 1e6)),
        ),
        DataType("MediaEvent", "MED", "phone", (_s("mimetype"), _s("bucketDisplay")), often_missing=True),
        DataType(
            "MessageEvent",
            "MSG",
            "phone",
            (_s("messageBox"), _b("isPinned"), _f("timesContacted", 0, 1e6), _s("number"), _s("contact"), _b("isStarred"), _s("messageClass")),
            often_missing=True,
        ),
        DataType("WiFi", "WIF", "phone", (_s("bssid"), _f("frequency", 2000, 7000), _f("rssi", -150, 0)), multi_row=True),
        DataType("ScreenEvent", "SCR", "phone", (_s("type"),)),
        DataType("RingerModeEvent", "RNG", "phone", (_s("type"),), often_missing=True),
        DataType("ChargeEvent", "CHG", "phone", (_s("type"),)),
        DataType("PowerSaveEvent", "PWS", "phone", (_s("type"),), often_missing=True),
        DataType("OnOffEvent", "ONF", "phone", (_s("type"),), often_missing=True),
    )
}

assert len(DATA_TYPES) == 27

# Subject files (SubjData/ or the release root).
ESM_FILE = "EsmResponse.csv"
ESM_COLUMNS: tuple[Column, ...] = (
    _s("pcode"),
    _i("responseTime"),
    _i("scheduledTime"),  # empty for voluntary responses
    _i("valence"),
    _i("arousal"),
    _i("attention"),
    _i("stress"),
    _i("duration"),
    _i("disturbance"),
    _i("change"),
)
USERINFO_FILE = "UserInfo.csv"
USERINFO_COLUMNS: tuple[Column, ...] = (
    _s("pcode"),
    _s("participationStartDate"),
    _f("age"),
    _s("gender"),
    _f("openness"),
    _f("conscientiousness"),
    _f("neuroticism"),
    _f("extraversion"),
    _f("agreeableness"),
    _f("PSS"),
    _f("PHQ"),
    _f("GHQ"),
)
